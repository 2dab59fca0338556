package admission_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// Sigstore's policy-controller, for the benchmark's comparison: its
// webhook binary and its config/ folder (CRDs and ConfigMaps), from the
// module github.com/sigstore/policy-controller, built outside this
// repository. Unset, the comparison does not run.
const (
	envPolicyController       = "HALLMARK_POLICY_CONTROLLER"
	envPolicyControllerConfig = "HALLMARK_POLICY_CONTROLLER_CONFIG"
)

// policyController is a running policy-controller webhook.
type policyController struct {
	url    string // base URL of its HTTPS server
	client *http.Client
}

// startPolicyController runs policy-controller's webhook against the API
// server, in namespace cosign-system, with a TrustRoot holding the
// sandbox's trust material and a ClusterImagePolicy asking, for images
// matching glob, for SLSA provenance v1 in a Sigstore bundle signed by
// signer (a Fulcio certificate of the sandbox's issuer) with a TSA
// timestamp. nil when the comparison is not asked for.
func startPolicyController(tb testing.TB, a *api, sb *sandbox.Sandbox, glob, signer string) *policyController {
	tb.Helper()
	bin, cfgDir := os.Getenv(envPolicyController), os.Getenv(envPolicyControllerConfig)
	if bin == "" || cfgDir == "" {
		return nil
	}
	ctx := context.Background()
	if _, err := envtest.InstallCRDs(a.cfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join(cfgDir, "300-clusterimagepolicy.yaml"), filepath.Join(cfgDir, "300-trustroot.yaml")},
	}); err != nil {
		tb.Fatalf("policy-controller's CRDs: %v", err)
	}
	ensureNamespace(tb, a, "cosign-system", nil)
	for _, f := range []string{"config-logging.yaml", "config-observability.yaml", "config-policy-controller.yaml", "config-leader-election.yaml", "config-image-policies.yaml", "config-sigstore-keys.yaml"} {
		data, err := os.ReadFile(filepath.Join(cfgDir, f))
		if err != nil {
			tb.Fatal(err)
		}
		for _, u := range decodeAll(tb, data) {
			if err := a.client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
				tb.Fatalf("%s: %v", f, err)
			}
		}
	}
	if err := a.client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "cosign-system", Name: "webhook-certs"}}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
	// The TrustRoot: the sandbox's Fulcio and TSA, as SigstoreKeys.
	keys := sigstoreKeys(tb, sb)
	tr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.sigstore.dev/v1alpha1", "kind": "TrustRoot",
		"metadata": map[string]any{"name": "sandbox"},
		"spec":     map[string]any{"sigstoreKeys": keys},
	}}
	if err := a.client.Create(ctx, tr); err != nil {
		tb.Fatalf("TrustRoot: %v", err)
	}
	cip := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "policy.sigstore.dev/v1alpha1", "kind": "ClusterImagePolicy",
		"metadata": map[string]any{"name": "bench"},
		"spec": map[string]any{
			"images": []any{map[string]any{"glob": glob}},
			"authorities": []any{map[string]any{
				"name":             "hallmark",
				"signatureFormat":  "bundle",
				"keyless":          map[string]any{"trustRootRef": "sandbox", "insecureIgnoreSCT": true, "identities": []any{map[string]any{"issuer": sb.IssuerURL, "subject": signer}}},
				"rfc3161timestamp": map[string]any{"trustRootRef": "sandbox"},
				"attestations":     []any{map[string]any{"name": "provenance", "predicateType": "https://slsa.dev/provenance/v1"}},
			}},
		},
	}}
	if err := a.client.Create(ctx, cip); err != nil {
		tb.Fatalf("ClusterImagePolicy: %v", err)
	}

	// After the TrustRoot and the policy exist: these configurations
	// send admission to a Service that does not run here, and select no
	// namespace of the benchmark; its controllers want them to exist.
	for _, f := range []string{"500-webhook-configuration.yaml", "501-policy-webhook-configurations.yaml"} {
		data, err := os.ReadFile(filepath.Join(cfgDir, f))
		if err != nil {
			tb.Fatal(err)
		}
		for _, u := range decodeAll(tb, data) {
			if err := a.client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
				tb.Fatalf("%s: %v", f, err)
			}
		}
	}

	kubeconfig := filepath.Join(tb.TempDir(), "kubeconfig")
	writeKubeconfig(tb, a, kubeconfig)
	// Its --secure-port is read after the options were copied: it always
	// listens on 8443.
	port := 8443
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--disable-tuf")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "SYSTEM_NAMESPACE=cosign-system", "WEBHOOK_NAME=webhook", "CONFIG_LOGGING_NAME=config-logging",
		"METRICS_DOMAIN=sigstore.dev/policy", "KUBERNETES_MIN_VERSION=1.21.0", "HOME="+tb.TempDir(),
		"METRICS_PROMETHEUS_PORT="+strconv.Itoa(freePort(tb)), "PROFILING_PORT="+strconv.Itoa(freePort(tb)))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if tb.Failed() {
			tb.Logf("policy-controller's log:\n%s", tail(logs.String(), 400))
		}
	})
	pc := &policyController{url: "https://127.0.0.1:" + strconv.Itoa(port), client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}}}
	// Ready once it serves and has compiled the policy into its ConfigMap.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var cm corev1.ConfigMap
		err := a.client.Get(ctx, client.ObjectKey{Namespace: "cosign-system", Name: "config-image-policies"}, &cm)
		resp, herr := pc.client.Get(pc.url + "/")
		if herr == nil {
			resp.Body.Close()
		}
		if err == nil && cm.Data["bench"] != "" && herr == nil {
			break
		}
		select {
		case <-done:
			tb.Fatalf("policy-controller exited:\n%s", tail(logs.String(), 400))
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("policy-controller not ready (policy ConfigMap: %v, HTTPS: %v):\n%s", err, herr, tail(logs.String(), 400))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return pc
}

// sigstoreKeys converts the sandbox's trusted root into policy-controller's
// SigstoreKeys: the Fulcio and TSA chains, PEM.
func sigstoreKeys(tb testing.TB, sb *sandbox.Sandbox) map[string]any {
	tb.Helper()
	data, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		tb.Fatal(err)
	}
	var root struct {
		CertificateAuthorities []authority `json:"certificateAuthorities"`
		TimestampAuthorities   []authority `json:"timestampAuthorities"`
	}
	if err := json.Unmarshal(data, &root); err != nil {
		tb.Fatal(err)
	}
	conv := func(as []authority) []any {
		var out []any
		for _, a := range as {
			var chain bytes.Buffer
			for _, c := range a.CertChain.Certificates {
				der, err := base64.StdEncoding.DecodeString(c.RawBytes)
				if err != nil {
					tb.Fatal(err)
				}
				pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
			}
			out = append(out, map[string]any{
				"subject":   map[string]any{"organization": a.Subject.Organization, "commonName": a.Subject.CommonName},
				"uri":       a.URI,
				"certChain": base64.StdEncoding.EncodeToString(chain.Bytes()),
			})
		}
		return out
	}
	return map[string]any{"certificateAuthorities": conv(root.CertificateAuthorities), "timestampAuthorities": conv(root.TimestampAuthorities)}
}

type authority struct {
	Subject struct {
		Organization string `json:"organization"`
		CommonName   string `json:"commonName"`
	} `json:"subject"`
	URI       string `json:"uri"`
	CertChain struct {
		Certificates []struct {
			RawBytes string `json:"rawBytes"`
		} `json:"certificates"`
	} `json:"certChain"`
}

// writeKubeconfig writes a kubeconfig for the API server, reached through
// a proxy on loopback that answers /version with a release's version: the
// kube-apiserver built from source says "$Format:%H$" there, which
// knative's version check (in policy-controller) refuses to parse.
func writeKubeconfig(tb testing.TB, a *api, path string) {
	tb.Helper()
	rt, err := rest.TransportFor(a.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	target, err := url.Parse(a.cfg.Host)
	if err != nil {
		tb.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport, proxy.FlushInterval = rt, -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"major":"1","minor":"34","gitVersion":"v1.34.2","platform":"linux/amd64"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: srv.URL}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	c.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		tb.Fatal(err)
	}
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// post sends a review to policy-controller's validating webhook and fails
// unless it is allowed.
func (pc *policyController) post(tb testing.TB, review []byte) {
	if allowed, msg := pc.judge(tb, review); !allowed {
		tb.Errorf("policy-controller did not allow: %s", msg)
	}
}

// judge sends a review to policy-controller's validating webhook.
func (pc *policyController) judge(tb testing.TB, review []byte) (bool, string) {
	resp, err := pc.client.Post(pc.url+"/validations?timeout=10s", "application/json", bytes.NewReader(review))
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var out struct {
		Response *struct {
			Allowed bool `json:"allowed"`
			Status  *struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		return false, fmt.Sprintf("no answer: %v", err)
	}
	if out.Response.Status != nil {
		return out.Response.Allowed, out.Response.Status.Message
	}
	return out.Response.Allowed, ""
}
