package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/tufroot"
	"github.com/hallmark-dev/hallmark/internal/tufroot/tuftest"
)

const publicGoodRootFile = "../../testdata/realworld/trusted-roots/public-good-sigstore-tuf-5.0.1.json"

// tufRepo serves trustedRoot from a local TUF repository and points the
// TUF cache at a fresh folder; it returns the repository and the path of
// its initial root.json.
func tufRepo(t *testing.T, trustedRoot []byte) (*tuftest.Repo, string) {
	t.Helper()
	t.Setenv("HALLMARK_CACHE", t.TempDir())
	t.Setenv(envTrustedRoot, "")
	repo := tuftest.New(t, trustedRoot)
	anchor := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(anchor, repo.InitialRoot(), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, anchor
}

func TestTrustedRoot(t *testing.T) {
	target := mustRead(t, publicGoodRootFile)
	repo, anchor := tufRepo(t, target)
	out := filepath.Join(t.TempDir(), "trusted_root.json")

	stdout, stderr, code := run(t, "trusted-root", "--tuf-url", repo.URL, "--tuf-root", anchor, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	if got := mustRead(t, out); !bytes.Equal(got, target) {
		t.Errorf("--out holds %d bytes, not the published trusted root", len(got))
	}
	if stdout != "" || !strings.Contains(stderr, repo.URL) || !strings.Contains(stderr, "TUF root version 1") {
		t.Errorf("stdout %q, stderr %q: want the trusted root in the file and a line naming the repository", stdout, stderr)
	}

	// Without --out the trusted root is standard output; the cached root
	// is the anchor from now on.
	stdout, stderr, code = run(t, "trusted-root", "--tuf-url", repo.URL)
	if code != 0 || stdout != string(target) {
		t.Fatalf("exit %d, %d bytes on stdout; want the trusted root\nstderr: %s", code, len(stdout), stderr)
	}

	stdout, stderr, code = run(t, "trusted-root", "--tuf-url", repo.URL, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr)
	}
	var s trustedRootSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("--format json: %v\n%s", err, stdout)
	}
	sum := sha256.Sum256(target)
	if s.Repository != repo.URL || s.RootVersion != 1 || s.SHA256 != hex.EncodeToString(sum[:]) || s.Offline ||
		len(s.CertificateAuthorities) == 0 || len(s.TransparencyLogs) == 0 || len(s.TimestampAuthorities) == 0 {
		t.Errorf("summary %+v", s)
	}
	if !strings.Contains(strings.Join(s.TransparencyLogs, " "), "https://rekor.sigstore.dev") {
		t.Errorf("summary logs %v: want the public-good Rekor", s.TransparencyLogs)
	}

	// Offline, with the repository gone.
	repo.Close()
	stdout, stderr, code = run(t, "trusted-root", "--tuf-url", repo.URL, "--offline", "--format", "json")
	if code != 0 {
		t.Fatalf("--offline: exit %d\nstderr: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || !s.Offline || s.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("--offline summary %+v (%v)", s, err)
	}
	_, stderr, code = run(t, "trusted-root", "--tuf-url", repo.URL)
	if code != 2 || !strings.Contains(stderr, "unreachable") || !strings.Contains(stderr, "--offline") {
		t.Errorf("repository gone: exit %d, stderr %q; want 2 and a hint to use --offline", code, stderr)
	}
}

func TestTrustedRootFailures(t *testing.T) {
	target := mustRead(t, publicGoodRootFile)
	other := mustRead(t, "../../testdata/realworld/gh/trusted_root.json")
	tests := []struct {
		name     string
		prepare  func(t *testing.T, repo *tuftest.Repo, anchor string) []string
		wantErr  string
		wantHint string
	}{
		{name: "offline without a cache", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			return []string{"--tuf-url", repo.URL, "--offline"}
		}, wantErr: "no cached TUF metadata", wantHint: "without --offline"},
		{name: "expired metadata", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			repo.Publish(t, other, time.Now().Add(-time.Minute))
			return []string{"--tuf-url", repo.URL, "--tuf-root", anchor}
		}, wantErr: "expired", wantHint: "another mirror"},
		{name: "tampered target", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			repo.Tamper(other)
			return []string{"--tuf-url", repo.URL, "--tuf-root", anchor}
		}, wantErr: "does not verify", wantHint: "is --tuf-root"},
		{name: "another repository's root", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			wrong := filepath.Join(t.TempDir(), "root.json")
			os.WriteFile(wrong, tuftest.New(t, target).InitialRoot(), 0o644)
			return []string{"--tuf-url", repo.URL, "--tuf-root", wrong}
		}, wantErr: "not enough signatures", wantHint: "is --tuf-root"},
		{name: "private repository without its root", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			return []string{"--tuf-url", repo.URL}
		}, wantErr: "no initial root.json", wantHint: "give --tuf-root"},
		{name: "root and offline", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			return []string{"--tuf-url", repo.URL, "--tuf-root", anchor, "--offline"}
		}, wantErr: "give one"},
		{name: "not a URL", prepare: func(t *testing.T, repo *tuftest.Repo, anchor string) []string {
			return []string{"--tuf-url", "tuf.example.com", "--tuf-root", anchor}
		}, wantErr: "want http(s)://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, anchor := tufRepo(t, target)
			out := filepath.Join(t.TempDir(), "trusted_root.json")
			if err := os.WriteFile(out, []byte("before"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"trusted-root", "--out", out}, tt.prepare(t, repo, anchor)...)
			stdout, stderr, code := run(t, args...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) || !strings.Contains(stderr, tt.wantHint) {
				t.Fatalf("exit %d, stderr %q; want 2, %q and %q", code, stderr, tt.wantErr, tt.wantHint)
			}
			if stdout != "" || string(mustRead(t, out)) != "before" {
				t.Errorf("a failure wrote output: stdout %q, --out %q", stdout, mustRead(t, out))
			}
		})
	}
}

// Verification falls back on the cached trusted root, offline, and says
// which trusted root it used.
func TestResolveTrustedRoot(t *testing.T) {
	target := mustRead(t, publicGoodRootFile)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	resolve := func(flag string) (string, error) {
		var stderr bytes.Buffer
		_, err := resolveTrustedRoot(flag, getenv, &stderr)
		return stderr.String(), err
	}

	repo, anchor := tufRepo(t, target)
	said, err := resolve("")
	if err == nil || !strings.Contains(err.Error(), "hallmark trusted-root") || !errors.Is(err, tufroot.ErrNoCache) {
		t.Fatalf("nothing given, nothing cached: error %v; want one that says to run hallmark trusted-root", err)
	}
	if said != "" {
		t.Errorf("said %q before failing", said)
	}

	if _, stderr, code := run(t, "trusted-root", "--tuf-url", repo.URL, "--tuf-root", anchor, "--out", filepath.Join(t.TempDir(), "tr.json")); code != 0 {
		t.Fatalf("trusted-root: exit %d: %s", code, stderr)
	}
	repo.Close()
	said, err = resolve("")
	if err != nil || !strings.Contains(said, "TUF repository "+repo.URL) {
		t.Errorf("cached: said %q, error %v; want the cached root of %s", said, err, repo.URL)
	}

	file := filepath.Join(t.TempDir(), "env.json")
	os.WriteFile(file, target, 0o644)
	env[envTrustedRoot] = file
	if said, err = resolve(""); err != nil || said != "trusted root: "+file+" ($HALLMARK_TRUSTED_ROOT)\n" {
		t.Errorf("environment: said %q, error %v", said, err)
	}
	flag := filepath.Join(t.TempDir(), "flag.json")
	os.WriteFile(flag, target, 0o644)
	// Named on the command line, it goes without saying.
	if said, err = resolve(flag); err != nil || said != "" {
		t.Errorf("flag: said %q, error %v", said, err)
	}
	if _, err = resolve(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "--trusted-root") {
		t.Errorf("missing flag file: error %v", err)
	}
	env[envTrustedRoot] = anchor // a TUF root, not a Sigstore trusted root
	if _, err = resolve(""); err == nil || !strings.Contains(err.Error(), "$HALLMARK_TRUSTED_ROOT "+anchor) {
		t.Errorf("environment naming a bad file: error %v", err)
	}
}

func TestResolveTrustedRootExpired(t *testing.T) {
	target := mustRead(t, publicGoodRootFile)
	repo, anchor := tufRepo(t, target)
	expires := time.Now().Add(2 * time.Second)
	repo.Publish(t, target, expires)
	if _, stderr, code := run(t, "trusted-root", "--tuf-url", repo.URL, "--tuf-root", anchor, "--out", filepath.Join(t.TempDir(), "tr.json")); code != 0 {
		t.Fatalf("trusted-root: exit %d: %s", code, stderr)
	}
	time.Sleep(time.Until(expires.Truncate(time.Second).Add(1100 * time.Millisecond)))
	_, err := resolveTrustedRoot("", func(string) string { return "" }, nil)
	if !errors.Is(err, tufroot.ErrExpired) || !strings.Contains(err.Error(), "run `hallmark trusted-root` to refresh") {
		t.Fatalf("error %v; want ErrExpired and how to refresh", err)
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// verify-artifact with neither --trusted-root nor $HALLMARK_TRUSTED_ROOT
// verifies against the trusted root hallmark trusted-root cached, with the
// repository gone, and says so.
func TestVerifyWithCachedTrustedRoot(t *testing.T) {
	dir, bundle, issuer, sandboxRoot := attested(t)
	repo, anchor := tufRepo(t, mustRead(t, sandboxRoot))
	if _, stderr, code := run(t, "trusted-root", "--tuf-url", repo.URL, "--tuf-root", anchor, "--out", filepath.Join(t.TempDir(), "tr.json")); code != 0 {
		t.Fatalf("trusted-root: exit %d: %s", code, stderr)
	}
	repo.Close()
	args := []string{"verify-artifact", filepath.Join(dir, "app-linux"), "--provenance-path", bundle, "--cert-oidc-issuer", issuer, "--source-uri", "github.com/acme/app"}
	stdout, stderr, code := run(t, args...)
	if code != 0 || !strings.HasPrefix(stdout, "PASSED: ") || !strings.Contains(stderr, "trusted root: trusted_root.json of TUF repository "+repo.URL) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant a pass against the cached root, named on stderr", code, stdout, stderr)
	}
	// A flag wins over the cache.
	stdout, stderr, code = run(t, append(args, "--trusted-root", publicGoodRootFile)...)
	if code != 1 || strings.Contains(stderr, "TUF repository") {
		t.Fatalf("against the public-good root: exit %d\nstdout: %s\nstderr: %s\nwant a failure against the named root", code, stdout, stderr)
	}
	t.Logf("sandbox bundle against the public-good root: %s", stdout)
}
