package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// actionEnv sets the variables a GitHub Actions step sees, with inputs as
// INPUT_ variables, and returns the step summary and output files.
func actionEnv(t *testing.T, inputs map[string]string) (summary, output string) {
	t.Helper()
	dir := t.TempDir()
	summary, output = filepath.Join(dir, "summary.md"), filepath.Join(dir, "output")
	for _, f := range []string{summary, output} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/app", "GITHUB_EVENT_NAME": "push",
		"GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": output, "GITHUB_EVENT_PATH": "",
		"ACTIONS_ID_TOKEN_REQUEST_URL": "", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "", "SIGSTORE_ID_TOKEN": "",
	} {
		t.Setenv(k, v)
	}
	for k, v := range inputs {
		t.Setenv("INPUT_"+strings.ToUpper(k), v)
	}
	return summary, output
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestActionVerify runs `hallmark action verify` as verifier/action.yml
// does, on provenance signed by the sandbox: it passes with the outputs
// set, and fails with an error annotation and a summary naming the check.
func TestActionVerify(t *testing.T) {
	dir, bundle, issuer, tr := attested(t)
	tests := []struct {
		name, sourceURI string
		wantCode        int
		wantStdout      []string
		wantSummary     []string
		wantOutput      []string
	}{
		{name: "passes", sourceURI: "github.com/acme/app",
			wantSummary: []string{"### Hallmark: verification passed", "| passed | L3 |"},
			wantOutput:  []string{"passed<<", "true", "slsa-level<<", "3"}},
		{name: "wrong source", sourceURI: "github.com/acme/other", wantCode: 1,
			wantStdout:  []string{"::error title=hallmark::FAILED: source: " + filepath.Join(dir, "app-darwin") + ": "},
			wantSummary: []string{"### Hallmark: verification FAILED", "| **FAILED** | | `source`: "},
			wantOutput:  []string{"passed<<", "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			summary, output := actionEnv(t, map[string]string{
				"artifact-path": filepath.Join(dir, "app-*"), "provenance-path": bundle, "trusted-root": tr,
				"source-uri": tt.sourceURI, "source-tag": "v1.4.2", "cert-oidc-issuer": issuer,
			})
			stdout, stderr, code := run(t, "action", "verify")
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for file, wants := range map[string][]string{"stdout": tt.wantStdout, summary: tt.wantSummary, output: tt.wantOutput} {
				got := stdout
				if file != "stdout" {
					got = readString(t, file)
				}
				for _, w := range wants {
					if !strings.Contains(got, w) {
						t.Errorf("%s lacks %q:\n%s", filepath.Base(file), w, got)
					}
				}
			}
		})
	}
}

// TestActionAttestForkPullRequest runs `hallmark action attest` in a pull
// request from a fork, where GitHub gives no token: it fails with one error
// annotation that says why, and signs nothing.
func TestActionAttestForkPullRequest(t *testing.T) {
	dir := t.TempDir()
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(`{"number":42,"pull_request":{"head":{"repo":{"full_name":"mallory/app","fork":true}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("app"), 0o644); err != nil {
		t.Fatal(err)
	}
	summary, _ := actionEnv(t, map[string]string{"subject-path": filepath.Join(dir, "app"), "bundle-path": filepath.Join(dir, "p.sigstore.json")})
	t.Setenv("GITHUB_EVENT_NAME", "pull_request")
	t.Setenv("GITHUB_EVENT_PATH", event)
	stdout, stderr, code := run(t, "action", "attest")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "::error title=hallmark::no OIDC identity token in this pull_request run: GitHub gives pull requests from forks no id-token") ||
		!strings.Contains(lines[0], "from the fork mallory/app") {
		t.Errorf("stdout: want one error annotation about the fork, got:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.sigstore.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bundle was written: %v", err)
	}
	if s := readString(t, summary); !strings.HasPrefix(s, "### Hallmark: attestation FAILED\n") || !strings.Contains(s, "from the fork mallory/app") {
		t.Errorf("summary does not say why attestation failed:\n%s", s)
	}
}

// TestActionErrorAnnotation checks that a multi-line failure becomes one
// workflow command line, with % and line breaks escaped as the runner
// expects, and exit status 1.
func TestActionErrorAnnotation(t *testing.T) {
	var out bytes.Buffer
	err := actionError(&out, errors.New("100% bad\r\nsecond line"))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("err = %v, want an *ExitError with code 1", err)
	}
	if got, want := out.String(), "::error title=hallmark::100%25 bad%0D%0Asecond line\n"; got != want {
		t.Errorf("annotation %q, want %q", got, want)
	}
	out.Reset()
	if err := actionError(&out, nil); err != nil || out.Len() != 0 {
		t.Errorf("nil error gave %v and %q", err, out.String())
	}
}
