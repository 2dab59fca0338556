package ghaction_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runner is a GitHub Actions step's environment: inputs, the output and
// summary files, and the token endpoint of a fake of GitHub's token service
// (which cannot run here) that speaks its wire format.
type runner struct {
	env     map[string]string
	output  string
	summary string
}

// Fixed tokens of the fake token service.
const (
	requestToken  = "request-token-5c1e0a"
	identityToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2lnbmF0dXJlLTdmM2E"
)

func newRunner(tb testing.TB, inputs map[string]string) *runner {
	tb.Helper()
	dir := tb.TempDir()
	r := &runner{
		env: map[string]string{
			"GITHUB_ACTIONS":    "true",
			"GITHUB_REPOSITORY": "acme/app",
			"GITHUB_EVENT_NAME": "push",
		},
		output:  filepath.Join(dir, "output"),
		summary: filepath.Join(dir, "summary.md"),
	}
	for _, f := range []string{r.output, r.summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	r.env["GITHUB_OUTPUT"], r.env["GITHUB_STEP_SUMMARY"] = r.output, r.summary
	for k, v := range inputs {
		r.env["INPUT_"+strings.ToUpper(k)] = v
	}
	return r
}

// withTokenService starts the fake token service and sets the variables a
// job with id-token: write sees.
func (r *runner) withTokenService(tb testing.TB) {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "bearer "+requestToken || req.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "bad token request", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": identityToken})
	}))
	tb.Cleanup(srv.Close)
	r.env["ACTIONS_ID_TOKEN_REQUEST_URL"] = srv.URL + "/token?api-version=2.0"
	r.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = requestToken
}

func (r *runner) getenv(k string) string { return r.env[k] }

func (r *runner) read(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(data)
}

// outputs parses the GITHUB_OUTPUT file's NAME<<DELIM blocks.
func (r *runner) outputs(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	lines := strings.Split(r.read(tb, r.output), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}
