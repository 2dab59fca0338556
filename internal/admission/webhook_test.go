package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/hallmark-dev/hallmark/verifier"
)

// testTrust is a real trusted root (GitHub's and the public-good
// instance's, as gh ships it): enough to build policies.
func testTrust(t testing.TB) Trust {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "realworld", "gh", "trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	return Trust{Root: tr}
}

// handlerServer is a Server with no API server behind it: enough for the
// parts of a request that never read one.
func handlerServer(t testing.TB) *Server {
	t.Helper()
	cfg := Config{Trust: testTrust(t), Namespace: "hallmark-admission"}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), policies: newPolicyStore(cfg.Trust, slog.New(slog.DiscardHandler))}
	s.verdicts = newVerdictCache(10, time.Now)
	s.metrics = newMetrics(s.verdicts.len)
	return s
}

func reviewOf(t testing.TB, ns string) []byte {
	t.Helper()
	data, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "req-1", Namespace: ns, Operation: admissionv1.Create,
			Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}},
	})
	return data
}

func answer(t testing.TB, h http.Handler, method, target string, body []byte) (int, *admissionv1.AdmissionResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("answer: %v\n%s", err, rec.Body.String())
	}
	if out.Response.UID != "req-1" {
		t.Fatalf("answer for request %q, want req-1", out.Response.UID)
	}
	return rec.Code, out.Response
}

func TestServeReviewFailsClosed(t *testing.T) {
	s := handlerServer(t)
	judges := map[string]func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse{
		"panics": func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
			panic("index out of range")
		},
		"no answer":  func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse { return nil },
		"not loaded": s.whenLoaded(func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse { return allow() }),
		"allows":     func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse { return allow() },
		"deadline in": func(ctx context.Context, _ *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > 1700*time.Millisecond {
				return deny(500, "the request's deadline is not inside the API server's timeout")
			}
			return allow()
		},
	}
	tests := []struct {
		name, judge, method, target, ns string
		body                            []byte
		code                            int
		allowed                         bool
		says                            string
	}{
		{name: "a panic denies", judge: "panics", ns: "acme", code: 200, says: "FAILED: internal: index out of range"},
		{name: "no answer denies", judge: "no answer", ns: "acme", code: 200, says: "gave no answer"},
		{name: "before the policies are loaded", judge: "not loaded", ns: "acme", code: 200, says: "has not loaded the ImagePolicies"},
		{name: "its own namespace before the policies are loaded", judge: "not loaded", ns: "hallmark-admission", code: 200, allowed: true},
		{name: "kube-system before the policies are loaded", judge: "not loaded", ns: "kube-system", code: 200, allowed: true},
		{name: "the API server's timeout bounds the request", judge: "deadline in", target: "/validate?timeout=2s", ns: "acme", code: 200, allowed: true},
		{name: "GET", judge: "allows", method: http.MethodGet, ns: "acme", code: http.StatusMethodNotAllowed},
		{name: "not a review", judge: "allows", body: []byte(`{"kind":`), code: http.StatusBadRequest},
		{name: "a review without a request", judge: "allows", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), code: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, target, body := tc.method, tc.target, tc.body
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/validate"
			}
			if body == nil {
				body = reviewOf(t, tc.ns)
			}
			code, resp := answer(t, s.serveReview("validate", judges[tc.judge]), method, target, body)
			if code != tc.code {
				t.Fatalf("HTTP %d, want %d", code, tc.code)
			}
			if resp == nil {
				return
			}
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed %v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if tc.says != "" && (resp.Result == nil || !strings.Contains(resp.Result.Message, tc.says)) {
				t.Fatalf("message %+v, want it to say %q", resp.Result, tc.says)
			}
		})
	}
}

func TestImageGlobs(t *testing.T) {
	tests := []struct {
		glob    string
		matches []string
		misses  []string
		invalid bool
	}{
		{glob: "r.example/team/*", matches: []string{"r.example/team/app"}, misses: []string{"r.example/team/a/b", "r.example/other/app"}},
		{glob: "r.example/team/**", matches: []string{"r.example/team/app", "r.example/team/a/b"}, misses: []string{"r.example/teams/app"}},
		{glob: "127.0.0.1:*/acme/**", matches: []string{"127.0.0.1:5000/acme/app"}, misses: []string{"127.0.0.2:5000/acme/app"}},
		{glob: "index.docker.io/library/{nginx,redis}", matches: []string{"index.docker.io/library/nginx"}, misses: []string{"index.docker.io/library/mysql"}},
		{glob: "r.example/team/app:v1", invalid: true},
		{glob: "r.example/team/app@sha256:00", invalid: true},
		{glob: "regexp:.*", invalid: true},
		{glob: "", invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.glob, func(t *testing.T) {
			p, err := parseImageGlob(tc.glob)
			if tc.invalid {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.matches {
				if !p.Match(m) {
					t.Errorf("does not match %s", m)
				}
			}
			for _, m := range tc.misses {
				if p.Match(m) {
					t.Errorf("matches %s", m)
				}
			}
		})
	}
}

func TestCompiledPolicyGoverns(t *testing.T) {
	ip := &ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u", Generation: 3}, Spec: ImagePolicySpec{
		Images:            []string{"r.example/team/**"},
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
		Expect:            Expectations{SourceURI: "github.com/acme/app"},
	}}
	p := compile(ip, testTrust(t))
	if p.err != nil {
		t.Fatal(p.err)
	}
	if p.mode != ModeEnforce || p.key() != "u/3" {
		t.Fatalf("mode %s, key %s", p.mode, p.key())
	}
	repo, err := repository("r.example/team/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.governs(repo, labels.Set{"team": "a"}) {
		t.Error("does not govern its image in its namespace")
	}
	if p.governs(repo, labels.Set{"team": "b"}) {
		t.Error("governs a namespace its selector does not select")
	}
	other, _ := repository("nginx")
	if other != "index.docker.io/library/nginx" || p.governs(other, labels.Set{"team": "a"}) {
		t.Errorf("governs %s", other)
	}
	// A policy that does not build keeps its error and governs what it
	// names: those images are denied, not let through.
	ip.Spec.Expect.SourceURI = ""
	bad := compile(ip, testTrust(t))
	if bad.err == nil || !bad.governs(repo, labels.Set{"team": "a"}) {
		t.Fatalf("err %v, governs %v", bad.err, bad.governs(repo, labels.Set{"team": "a"}))
	}
}

// repository is the registry's name of an image's repository, as policies'
// globs match it.
func repository(image string) (string, error) {
	r, err := name.ParseReference(image)
	if err != nil {
		return "", err
	}
	return r.Context().Name(), nil
}

func FuzzServeReview(f *testing.F) {
	f.Add(reviewOf(f, "acme"))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"UPDATE","namespace":"a",` +
		`"resource":{"version":"v1","resource":"pods"},"subResource":"ephemeralcontainers",` +
		`"object":{"spec":{"ephemeralContainers":[{"name":"e","image":"r.example/d:v1"}]}},"oldObject":{"spec":{}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","namespace":"a",` +
		`"resource":{"group":"batch","version":"v1","resource":"cronjobs"},"object":{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}}}}}`))
	s := handlerServer(f)
	h := s.serveReview("fuzz", func(_ context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		r, err := s.readRequest(req)
		if err != nil || r == nil {
			return deny(400, "no")
		}
		for _, ci := range r.images {
			if !strings.HasPrefix(ci.path, r.w.prefix+"/") || ci.image == "" {
				panic("an image path outside the pod spec: " + ci.path)
			}
		}
		return allow()
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
		if rec.Code == http.StatusOK {
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("an answer that is no review: %v", err)
			}
			if out.Response.Result != nil && strings.Contains(out.Response.Result.Message, "an image path outside") {
				t.Fatal(out.Response.Result.Message)
			}
		}
	})
}
