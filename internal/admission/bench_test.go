package admission_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// benchImages is how many images the benchmark attests: one per concurrent
// client, so that uncached requests never share a verification.
const benchImages = 64

// BenchmarkAdmission measures the validating webhook's latency, the way
// the API server calls it (an AdmissionReview over HTTP/2 and TLS), for a
// Pod running one image with one attestation on a local registry (Debian's
// docker-registry, and a registry with the referrers API): with the
// verdict cache (after one verification) and without it (every request
// reads the registry and verifies), from 1 and 64 concurrent clients (see
// loads). It reports the 50th and 99th percentile of the requests'
// latency.
//
// With HALLMARK_POLICY_CONTROLLER (sigstore's policy-controller webhook
// binary) and HALLMARK_POLICY_CONTROLLER_CONFIG (its config/ folder) set,
// the same requests go to policy-controller too, side by side with
// Hallmark: images whose attestation carries a timestamp and no log entry
// (policy-controller v0.13's verifier reads no Rekor v2 entry), under a
// policy that asks for that much.
//
//	go test ./internal/admission -run '^$' -bench BenchmarkAdmission -benchtime 400x
func BenchmarkAdmission(b *testing.B) {
	sb := sandboxStart(b)
	a := startAPI(b)
	ensureNamespace(b, a, "bench", map[string]string{"team": "acme"})
	applyPolicy(b, a, `
metadata: {name: bench}
spec:
  images: ["127.0.0.1:*/acme/**"]
  namespaceSelector: {matchLabels: {team: acme}}
  expect: {sourceURI: github.com/acme/app, certOIDCIssuer: `+sb.IssuerURL+`}
`)
	// Timestamped only, for the comparison: the same trust as the
	// ClusterImagePolicy policy-controller gets.
	applyPolicy(b, a, `
metadata: {name: bench-tsa}
spec:
  images: ["127.0.0.1:*/tsa/**"]
  namespaceSelector: {matchLabels: {team: acme}}
  policy: |
    issuers: [`+sb.IssuerURL+`]
    builders:
      - {name: hallmark, signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/{generic,container,go}.yml@refs/tags/v*", maxLevel: 3}
    source: github.com/acme/app
    thresholds: {transparencyLog: 0, signedTimestamps: 1}
`)
	registries := []struct {
		name  string
		start func(testing.TB) *ocitest.Registry
	}{
		{"distribution", func(tb testing.TB) *ocitest.Registry { return ocitest.Distribution(tb) }},
		{"referrers-api", func(tb testing.TB) *ocitest.Registry { return ocitest.Referrers(tb) }},
	}
	controllers := map[bool]*benchController{}
	for _, cached := range []bool{true, false} {
		controllers[cached] = startBenchController(b, a, sb, cached)
	}
	for _, rc := range registries {
		reg := rc.start(b)
		reviews := attestedReviews(b, sb, reg, "acme", nil)
		for _, cached := range []bool{true, false} {
			controllers[cached].run(b, "hallmark/"+rc.name, reviews)
		}
		if rc.name != "distribution" {
			continue
		}
		tsa := attestedReviews(b, sb, reg, "tsa", []string{"--private"})
		pc := startPolicyController(b, a, sb, reg.Host+"/tsa/**", "https://github.com/"+testJobRef)
		if pc == nil {
			b.Logf("no comparison with policy-controller: set %s and %s", envPolicyController, envPolicyControllerConfig)
			continue
		}
		// It verifies: an image without provenance is denied.
		bare := reg.Image(b, "tsa/bare", "v1")
		if allowed, _ := pc.judge(b, podReview(b, "bench", bare.Context().String()+"@"+bare.DigestStr())); allowed {
			b.Fatal("policy-controller allowed an image without provenance")
		}
		for _, cached := range []bool{true, false} {
			controllers[cached].run(b, "hallmark-tsa/"+rc.name, tsa)
		}
		// policy-controller's webhook keeps no verdicts (its result
		// cache is not wired in): every request verifies.
		for _, load := range loads {
			b.Run(fmt.Sprintf("policy-controller/%s/uncached/%s", rc.name, load.name), func(b *testing.B) {
				measure(b, load.clients, func(w int) { pc.post(b, tsa[load.image(w)]) })
			})
		}
	}
}

// attestedReviews pushes benchImages images under prefix/ on reg, attests
// them all in one statement (one attestation for each image, with the
// extra attest flags), and returns a Pod's AdmissionReview for each.
func attestedReviews(b *testing.B, sb *sandbox.Sandbox, reg *ocitest.Registry, prefix string, flags []string) [][]byte {
	b.Helper()
	imgs := make([]name.Digest, benchImages)
	for i := range imgs {
		imgs[i] = reg.Image(b, fmt.Sprintf("%s/app-%d", prefix, i), "v1")
	}
	signWith(b, sb, goodClaims, true, flags, imgs...)
	reviews := make([][]byte, len(imgs))
	for i, img := range imgs {
		reviews[i] = podReview(b, "bench", img.Context().String()+"@"+img.DigestStr())
	}
	return reviews
}

// benchController is a controller with the verdict cache or without it.
type benchController struct {
	c      *controller
	hc     *http.Client
	cached bool
}

func startBenchController(b *testing.B, a *api, sb *sandbox.Sandbox, cached bool) *benchController {
	b.Helper()
	mode, size := "cached", 0
	if !cached {
		mode, size = "uncached", -1
	}
	configs := "bench-" + mode
	c := startController(b, a, configs, map[string]string{"hallmark.test/webhook": "none"}, nil, admission.Config{
		Trust: trust(b, sb), CacheSize: size, Log: quiet(),
	})
	for _, p := range []string{"bench", "bench-tsa"} {
		eventually(b, 10*time.Second, "ImagePolicy "+p+" loaded", func() bool { return c.PolicyLoaded(p, 1) })
	}
	return &benchController{c: c, hc: webhookClient(b, a, configs), cached: cached}
}

// run measures the controller on reviews, from 1 and 64 clients.
func (bc *benchController) run(b *testing.B, name string, reviews [][]byte) {
	mode := "uncached"
	if bc.cached {
		mode = "cached"
		for _, r := range reviews {
			postReview(b, bc.hc, bc.c.host, r)
		}
	}
	for _, load := range loads {
		b.Run(fmt.Sprintf("%s/%s/%s", name, mode, load.name), func(b *testing.B) {
			measure(b, load.clients, func(w int) { postReview(b, bc.hc, bc.c.host, reviews[load.image(w)]) })
		})
	}
}

// loads are the benchmark's clients: one; 64 each asking for an image of
// its own (uncached, 64 verifications at once); 64 asking for one image
// (a Deployment scaled to 64 replicas: uncached, they share one
// verification at a time).
var loads = []struct {
	name    string
	clients int
	image   func(w int) int
}{
	{"concurrent-1", 1, func(int) int { return 0 }},
	{"concurrent-64", 64, func(w int) int { return w % benchImages }},
	{"concurrent-64-same-image", 64, func(int) int { return 0 }},
}

// measure runs b.N requests from conc clients (client w sends with
// send(w)) and reports the p50 and p99 latency.
func measure(b *testing.B, conc int, send func(w int)) {
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				start := time.Now()
				send(w)
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// podReview is the AdmissionReview the API server sends for creating a Pod
// that runs image.
func podReview(tb testing.TB, ns, image string) []byte {
	tb.Helper()
	p := pod(ns, "bench", image)
	p.APIVersion, p.Kind = "v1", "Pod"
	raw, err := json.Marshal(p)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("bench"), Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Namespace: ns, Name: "bench",
			Operation: admissionv1.Create, Object: runtimeRaw(raw),
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// postReview sends a review to the validating webhook and fails unless it
// is allowed.
func postReview(tb testing.TB, hc *http.Client, host string, review []byte) {
	resp, err := hc.Post("https://"+host+admission.PathValidate+"?timeout=10s", "application/json", bytes.NewReader(review))
	if err != nil {
		tb.Error(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &out); err != nil || out.Response == nil || !out.Response.Allowed {
		tb.Errorf("not allowed: %v %s", err, body)
	}
}

// webhookClient speaks to the controller as the API server does: HTTP/2
// over TLS, trusting the caBundle of its webhook configurations.
func webhookClient(tb testing.TB, a *api, configs string) *http.Client {
	tb.Helper()
	var mw admissionregv1.MutatingWebhookConfiguration
	if err := a.client.Get(context.Background(), client.ObjectKey{Name: configs}, &mw); err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(mw.Webhooks[0].ClientConfig.CABundle) {
		tb.Fatal("no CA in the caBundle")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func runtimeRaw(raw []byte) runtime.RawExtension { return runtime.RawExtension{Raw: raw} }

// quiet logs only errors, to stderr: a benchmark's log would bury its
// figures.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}
