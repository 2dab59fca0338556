package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

const publicGoodSigningConfig = "../../testdata/signing-configs/public-good.json"

// sandboxLogSize reads the size of the sandbox's log from its checkpoint.
func sandboxLogSize(t *testing.T, sb *sandbox.Sandbox) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sb.Dir, "rekor", "tiles", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 2 {
		t.Fatalf("checkpoint %q has no size line", data)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttestRefusesBeforeSigning: each mistake attest can see for itself is
// refused with what to change before anything is signed: no certificate, no
// log entry, no file.
func TestAttestRefusesBeforeSigning(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"app.tar.gz": "app\n", "empty.sha256": "", "facts.json": `{
  "repository": "acme/other", "repository_id": "42", "repository_owner_id": "7", "ref": "refs/heads/main",
  "sha": "3b18e512dba79e4c8300dd08aeb37f8e728b8dad", "workflow_ref": "acme/other/.github/workflows/release.yml@refs/heads/main",
  "event_name": "push", "run_id": "1000000001", "run_attempt": "1", "runner_environment": "github-hosted"}`,
		"go-names.json": `{"Repository": "acme/app", "RepositoryID": "42"}`})
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	claims := map[string]string{"repository": "acme/app", "repository_id": "42", "repository_owner_id": "7"}
	private := map[string]string{"repository": "acme/app", "repository_id": "42", "repository_owner_id": "7", "repository_visibility": "private"}
	tests := []struct {
		name    string
		claims  map[string]string
		edit    func(f *attestFlags)
		want    error
		wantMsg []string
	}{
		{name: "private repository on public-good", claims: private,
			edit: func(f *attestFlags) { f.signingConfig = publicGoodSigningConfig }, want: attest.ErrPrivateRepository,
			wantMsg: []string{"acme/app is private", "--private-repository", "private-repository: true"}},
		{name: "facts contradict the token", claims: claims,
			edit: func(f *attestFlags) { f.factsFromToken, f.factsFile = false, filepath.Join(dir, "facts.json") }, want: githubctx.ErrContradictsToken,
			wantMsg: []string{`build fact repository is "acme/other", but the identity token's repository claim is "acme/app"`, "--facts " + filepath.Join(dir, "facts.json")}},
		{name: "facts file with Go field names", claims: claims,
			edit: func(f *attestFlags) { f.factsFromToken, f.factsFile = false, filepath.Join(dir, "go-names.json") }, want: githubctx.ErrFactsFile,
			wantMsg: []string{`unknown field "Repository"`, "docs/facts.schema.json"}},
		{name: "outside GitHub Actions without facts", claims: claims,
			edit: func(f *attestFlags) { f.factsFromToken = false }, wantMsg: []string{"not running in GitHub Actions", "--facts FILE", "--facts-from-token"}},
		{name: "empty checksums file", claims: claims,
			edit: func(f *attestFlags) {
				f.subjectPaths, f.subjectChecksums = nil, []string{filepath.Join(dir, "empty.sha256")}
			}, wantMsg: []string{"--subject-checksums " + filepath.Join(dir, "empty.sha256") + " lists no file"}},
		{name: "bundle path is a folder", claims: claims,
			edit: func(f *attestFlags) { f.bundlePath = filepath.Join(dir, "out") }, wantMsg: []string{"--bundle-path", "it is a folder", "nothing was signed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := sb.Token(oidc.DefaultAudience, tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "provenance.sigstore.json")
			f := attestFlags{
				subjectPaths: []string{filepath.Join(dir, "app.tar.gz")}, bundlePath: out, format: "json",
				signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(),
				identityToken: tok, factsFromToken: true, timeout: 5 * time.Second, retries: 1,
			}
			tt.edit(&f)
			before := sandboxLogSize(t, sb)
			var stdout, stderr bytes.Buffer
			err = runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil))
			if err == nil {
				t.Fatal("attest succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error()+stdout.String()+stderr.String(), tok) {
				t.Fatal("the identity token reached the output")
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout %q on a failure", stdout.String())
			}
			// The sandbox publishes a checkpoint every 500 ms: wait past one.
			time.Sleep(700 * time.Millisecond)
			if after := sandboxLogSize(t, sb); after != before {
				t.Errorf("the log grew from %d to %d entries", before, after)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a bundle was written: %v", serr)
			}
			if left, _ := os.ReadDir(filepath.Dir(out)); len(left) > 0 {
				t.Errorf("files left: %v", left)
			}
		})
	}
}

// TestAttestPrivateRepositoryOnPrivateSigstore: a private repository signs
// without consent on a private Sigstore (the sandbox), and its certificate
// records the visibility.
func TestAttestPrivateRepositoryOnPrivateSigstore(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"app.tar.gz": "app\n"})
	tok, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/app", "repository_visibility": "private"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "provenance.sigstore.json")
	var stdout, stderr bytes.Buffer
	if err := runAttest(context.Background(), attestFlags{
		subjectPaths: []string{filepath.Join(dir, "app.tar.gz")}, bundlePath: out, format: "json",
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: tok, factsFromToken: true,
	}, nil, &stdout, &stderr, attestEnv(nil)); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}
