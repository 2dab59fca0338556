package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/githubapi/githubtest"
)

// TestVerifyArtifactFromGitHub: bundles stored in a repository's
// attestation store (the fake speaks GitHub's API) are found by digest and
// verified as a file's would be; no attestation, another repository's
// attestation and bad flag mixes fail with what to change.
func TestVerifyArtifactFromGitHub(t *testing.T) {
	dir, bundle, issuer, tr := attested(t)
	gh := githubtest.Start(t, githubtest.WithPathPrefix("/api/v3"))
	gh.AddRepository("acme/app", 700000001, true)
	gh.AddRepository("acme/other", 700000009, false)
	gh.AddToken("ghs_reader", false)
	gh.AddToken("ghs_writer", true)
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	w, err := githubapi.New(gh.URL, "ghs_writer", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another attestation of the same digest first, which does not verify
	// (its signature is another's): the right one must still be found.
	forged := strings.Replace(string(data), `"sig":"`, `"sig":"AAAA`, 1)
	for _, b := range []string{forged, string(data)} {
		if _, err := w.CreateAttestation(context.Background(), "acme/app", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(dir, "other")
	writeFiles(t, dir, map[string]string{"other": "never attested\n"})
	t.Setenv("GITHUB_TOKEN", "ghs_reader")
	base := []string{"--trusted-root", tr, "--cert-oidc-issuer", issuer, "--source-uri", "github.com/acme/app", "--github-api-url", gh.URL}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // on stdout (code 0, 1) or stderr (code 2)
	}{
		{name: "found and verified", args: []string{filepath.Join(dir, "app-linux"), filepath.Join(dir, "app-darwin"), "--from-github", "acme/app"},
			wantOut: "PASSED: " + filepath.Join(dir, "app-darwin")},
		{name: "no attestation of the digest", args: []string{other, "--from-github", "acme/app"}, wantCode: 2,
			wantOut: "--from-github acme/app: no attestation of sha256:"},
		{name: "another repository holds none", args: []string{filepath.Join(dir, "app-linux"), "--from-github", "acme/other"}, wantCode: 2,
			wantOut: "no attestation of sha256:"},
		{name: "both sources", args: []string{other, "--from-github", "acme/app", "--provenance-path", bundle}, wantCode: 2,
			wantOut: "--provenance-path and --from-github contradict each other"},
		{name: "not OWNER/REPO", args: []string{other, "--from-github", "acme"}, wantCode: 2, wantOut: "want OWNER/REPO"},
		{name: "an API without a repository", args: []string{other}, wantCode: 2, wantOut: "--github-api-url applies to --from-github"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, append(append([]string{"verify-artifact"}, tt.args...), base...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			where := out
			if code == 2 {
				where = errOut
			}
			if !strings.Contains(where, tt.wantOut) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.wantOut, out, errOut)
			}
			if strings.Contains(out+errOut, "ghs_reader") {
				t.Error("the token reached the output")
			}
		})
	}
}
