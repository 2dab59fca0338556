package factorytest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// ChainsController is Tekton Chains' controller, built once into the tool
// cache (scripts/install-deps.sh) so that tests can run it beside the
// factory on one apiserver. Chains needs other versions of Tekton and
// Sigstore than Hallmark's module, so it is built in a throwaway module
// of its own.
var ChainsController = sandbox.ModuleBuild{
	Name: "tekton-chains", Module: "github.com/tektoncd/chains", Version: "v0.26.3",
	Packages: []string{"github.com/tektoncd/chains/cmd/controller"},
}

// ChainsNamespace is the namespace Chains' controller reads its
// configuration from (its SYSTEM_NAMESPACE).
const ChainsNamespace = "tekton-chains"

// Chains is a running Tekton Chains controller.
type Chains struct {
	// Log is the controller's log file.
	Log string
}

// StartChains runs Tekton Chains' controller against the apiserver,
// watching namespaces, until tb ends. config is its chains-config
// ConfigMap. Chains reads its signing keys from the fixed folder
// /etc/signing-secrets; where that holds none, it signs nothing but still
// marks each run it handled chains.tekton.dev/signed: "true".
func (a *API) StartChains(tb testing.TB, config map[string]string, namespaces ...string) *Chains {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs Tekton Chains' controller; runs without -short")
	}
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	if !ChainsController.Installed(cache) {
		tb.Fatalf("Tekton Chains %s is not in %s: run scripts/install-deps.sh", ChainsController.Version, cache)
	}
	_ = a.Client.Create(tb.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ChainsNamespace}})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ChainsNamespace, Name: "chains-config"}, Data: config}
	if err := a.Client.Create(tb.Context(), cm); err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	kubeconfig := a.Kubeconfig(tb, dir)
	c := &Chains{Log: filepath.Join(dir, "chains.log")}
	log, err := os.Create(c.Log)
	if err != nil {
		tb.Fatal(err)
	}
	defer log.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, ChainsController.Path(cache, "controller"),
		"--kubeconfig="+kubeconfig, "--namespace="+strings.Join(namespaces, ","))
	cmd.Env = append(os.Environ(),
		"SYSTEM_NAMESPACE="+ChainsNamespace,
		"METRICS_DOMAIN=tekton.dev/chains",
		"METRICS_PROMETHEUS_PORT="+freePort(tb),
		"PROFILING_PORT="+freePort(tb),
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if tb.Failed() {
			raw, _ := os.ReadFile(c.Log)
			if len(raw) > 8000 {
				raw = raw[len(raw)-8000:]
			}
			tb.Logf("Tekton Chains' log (end):\n%s", raw)
		}
	})
	return c
}

// Kubeconfig writes a kubeconfig for the apiserver's admin into dir and
// returns its path, for programs the tests run.
func (a *API) Kubeconfig(tb testing.TB, dir string) string {
	tb.Helper()
	c := a.Config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	cfg.CurrentContext = "envtest"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

func freePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
