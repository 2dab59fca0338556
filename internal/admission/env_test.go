package admission_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

func init() {
	// controller-runtime's own log: the controller logs through slog.
	ctrllog.SetLogger(logr.Discard())
}

// manifests is the folder of the shipped manifests.
var manifests = filepath.Join("..", "..", "kubernetes", "admission")

// testJobRef is acme/app's release calling Hallmark's generic workflow at
// v1.0.0: a builder the built-in policy trusts for level 3.
const testJobRef = "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"

// claims of the provenance the tests sign: the good build, and the
// builds a policy must refuse.
var (
	goodClaims         = map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": testJobRef}
	wrongSourceClaims  = map[string]string{"repository": "evil/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": testJobRef}
	wrongBuilderClaims = map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/tags/v1.4.2"}
)

// assets is a folder with kube-apiserver (from the tool cache) and etcd
// (Debian's), as envtest's KUBEBUILDER_ASSETS wants. Without them
// the test fails and says how to install them.
func assets(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs kube-apiserver and etcd; runs without -short")
	}
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if !sandbox.KubeAPIServer.Installed(cache) {
		t.Fatalf("kube-apiserver %s is not in %s: run scripts/install-deps.sh", sandbox.KubeAPIServer.Version, cache)
	}
	dir := t.TempDir()
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not on PATH: run scripts/install-deps.sh (Debian package etcd-server)")
	}
	links := map[string]string{"kube-apiserver": sandbox.KubeAPIServer.Path(cache, "kube-apiserver"), "etcd": etcd}
	for n, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// api is a running kube-apiserver with etcd and the ImagePolicy CRD.
type api struct {
	cfg    *rest.Config
	client client.Client
}

// startAPI starts envtest's kube-apiserver and etcd with the shipped CRD,
// stopped when the test ends.
func startAPI(t testing.TB) *api {
	t.Helper()
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets(t),
		CRDDirectoryPaths:     []string{filepath.Join(manifests, "crd.yaml")},
		ErrorIfCRDPathMissing: true,
		Scheme:                admission.Scheme(),
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping envtest: %v", err)
		}
	})
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: admission.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	return &api{cfg: cfg, client: c}
}

// webhookConfigs reads the shipped webhook configurations, renamed and
// pointed at a webhook on loopback (there is no Service network here), with
// extra the namespace labels they must also select on.
func webhookConfigs(t testing.TB, configName, host string, caBundle []byte, extra map[string]string) (*admissionregv1.MutatingWebhookConfiguration, *admissionregv1.ValidatingWebhookConfiguration) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifests, "webhooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var mw *admissionregv1.MutatingWebhookConfiguration
	var vw *admissionregv1.ValidatingWebhookConfiguration
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		var meta metav1.TypeMeta
		json.Unmarshal(raw, &meta)
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			mw = &admissionregv1.MutatingWebhookConfiguration{}
			if err := json.Unmarshal(raw, mw); err != nil {
				t.Fatal(err)
			}
		case "ValidatingWebhookConfiguration":
			vw = &admissionregv1.ValidatingWebhookConfiguration{}
			if err := json.Unmarshal(raw, vw); err != nil {
				t.Fatal(err)
			}
		}
	}
	if mw == nil || vw == nil {
		t.Fatal("webhooks.yaml lacks a Mutating- or ValidatingWebhookConfiguration")
		return nil, nil
	}
	point := func(cc *admissionregv1.WebhookClientConfig, sel *metav1.LabelSelector) {
		url := "https://" + host + *cc.Service.Path
		cc.URL, cc.Service, cc.CABundle = &url, nil, caBundle
		if sel != nil && len(extra) > 0 {
			sel.MatchLabels = extra
		}
	}
	mw.Name, vw.Name = configName, configName
	for i := range mw.Webhooks {
		point(&mw.Webhooks[i].ClientConfig, mw.Webhooks[i].NamespaceSelector)
	}
	var hooks []admissionregv1.ValidatingWebhook
	for i := range vw.Webhooks {
		point(&vw.Webhooks[i].ClientConfig, vw.Webhooks[i].NamespaceSelector)
		// One policy webhook in the cluster is enough: the others'
		// servers judge policies alike.
		if vw.Webhooks[i].NamespaceSelector == nil && len(extra) > 0 {
			continue
		}
		hooks = append(hooks, vw.Webhooks[i])
	}
	vw.Webhooks = hooks
	return mw, vw
}

// controller is a running admission controller.
type controller struct {
	*admission.Server
	host    string // HOST:PORT of the webhooks
	ops     string // base URL of /metrics, /healthz, /readyz
	configs string
}

// startController installs webhook configurations named configName
// (selecting also the extra namespace labels) and runs a controller that
// serves them, until the test ends. cfg's listeners, namespace, trust and
// log are filled in where unset.
func startController(t testing.TB, a *api, configName string, extra map[string]string, caBundle []byte, cfg admission.Config) *controller {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	mw, vw := webhookConfigs(t, configName, host, caBundle, extra)
	for _, o := range []client.Object{mw, vw} {
		if err := a.client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		a.client.Delete(context.Background(), mw)
		a.client.Delete(context.Background(), vw)
	})
	if cfg.Namespace == "" {
		cfg.Namespace = "hallmark-admission"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.Listener, cfg.OpsListener, cfg.WebhookConfigName = l, ops, configName
	if cfg.CertDir == "" && cfg.Hosts == nil {
		cfg.Hosts = []string{"127.0.0.1"}
	}
	ensureNamespace(t, a, cfg.Namespace, nil)
	s, err := admission.New(a.cfg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controller: %v", err)
		}
	})
	c := &controller{Server: s, host: host, ops: "http://" + ops.Addr().String(), configs: configName}
	eventually(t, 30*time.Second, "the controller is ready", func() bool { return s.Ready() })
	return c
}

// testWriter sends the controller's log to the test log while the test
// runs, and drops it after.
type testWriter struct{ t testing.TB }

var logMu sync.Mutex

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	defer func() { recover() }() // the test may have ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the bound passes: the bound
// proves "does not hang", it is no performance claim.
func eventually(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ensureNamespace(t testing.TB, a *api, ns string, labels map[string]string) {
	t.Helper()
	err := a.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// applyPolicy creates an ImagePolicy from YAML and waits until the
// controllers have loaded it.
func applyPolicy(t testing.TB, a *api, doc string, cs ...*controller) *admission.ImagePolicy {
	t.Helper()
	var ip admission.ImagePolicy
	if err := yaml.UnmarshalStrict([]byte(doc), &ip); err != nil {
		t.Fatal(err)
	}
	ip.APIVersion, ip.Kind = admission.GroupVersion.String(), "ImagePolicy"
	if err := a.client.Create(context.Background(), &ip); err != nil {
		t.Fatalf("creating ImagePolicy %s: %v", ip.Name, err)
	}
	t.Cleanup(func() { a.client.Delete(context.Background(), &ip) })
	for _, c := range cs {
		eventually(t, 10*time.Second, "ImagePolicy "+ip.Name+" loaded", func() bool { return c.PolicyLoaded(ip.Name, ip.Generation) })
	}
	return &ip
}

// attest signs provenance for img on the sandbox with the token's claims
// and pushes it to img's registry, as `hallmark attest --subject-image
// --push-to-registry` does; it returns the bundle's path.
func attest(t testing.TB, sb *sandbox.Sandbox, claims map[string]string, imgs ...name.Digest) string {
	t.Helper()
	return sign(t, sb, claims, true, imgs...)
}

// sign is attest, pushing the bundle only if push is set.
func sign(t testing.TB, sb *sandbox.Sandbox, claims map[string]string, push bool, imgs ...name.Digest) string {
	t.Helper()
	return signWith(t, sb, claims, push, nil, imgs...)
}

// signWith is sign with more attest flags.
func signWith(t testing.TB, sb *sandbox.Sandbox, claims map[string]string, push bool, flags []string, imgs ...name.Digest) string {
	t.Helper()
	token, err := sb.Token(oidc.DefaultAudience, claims)
	if err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(t.TempDir(), "image.sigstore.json")
	args := []string{"attest", "--facts-from-token", "--identity-token", token,
		"--signing-config", sb.SigningConfigPath(), "--trusted-root", sb.TrustedRootPath(), "--bundle-path", bundlePath}
	if push {
		args = append(args, "--push-to-registry")
	}
	args = append(args, flags...)
	for _, img := range imgs {
		args = append(args, "--subject-image", img.String())
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("hallmark attest: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	return bundlePath
}

// trust loads the sandbox's trusted root.
func trust(t testing.TB, sb *sandbox.Sandbox) admission.Trust {
	t.Helper()
	data, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Trust{Root: tr}
}

// pod is a Pod running the images, one container each.
func pod(ns, name string, images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for i, img := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return p
}

// sandboxStart is sandboxtest.Start, named for the reader of this file.
var sandboxStart = sandboxtest.Start

func yamlUnmarshal(doc string, v any) error { return yaml.UnmarshalStrict([]byte(doc), v) }

func loadSigningConfig(path string) (*root.SigningConfig, error) {
	return root.NewSigningConfigFromPath(path)
}

func protojsonMarshal(res *signer.Result) ([]byte, error) { return protojson.Marshal(res.Bundle) }

// testCA is a CA standing in for cert-manager's issuer.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// writeLeaf writes a new serving certificate for ip into dir, as the
// kubelet updates a mounted Secret: both files replaced by renames.
func (ca *testCA) writeLeaf(t testing.TB, dir, ip string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: ip}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	for name, data := range map[string][]byte{
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		"tls.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	} {
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial is the serial number of the certificate the webhook at host
// serves, checked against pool (nil: not checked).
func servedSerial(t testing.TB, host string, pool *x509.CertPool) string {
	t.Helper()
	cfg := &tls.Config{RootCAs: pool, InsecureSkipVerify: pool == nil}
	conn, err := tls.Dial("tcp", host, cfg)
	if err != nil {
		t.Fatalf("TLS to the webhook: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// caOf is the first CA of the caBundle of the MutatingWebhookConfiguration
// named configName.
func caOf(t testing.TB, a *api, configName string) string {
	t.Helper()
	var mw admissionregv1.MutatingWebhookConfiguration
	if err := a.client.Get(context.Background(), client.ObjectKey{Name: configName}, &mw); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(mw.Webhooks[0].ClientConfig.CABundle)
	if block == nil {
		t.Fatal("no CA in the caBundle")
		return ""
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}
