package workflows_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const releaseTag = "v9.9.9"

// releaseTree is a copy of the repository as a release commit holds it,
// with scripts/release.sh.
func releaseTree(t *testing.T) string {
	t.Helper()
	dir := actionRepo(t, "")
	copyFile(t, filepath.Join(repoRoot(t), "scripts", "release.sh"), filepath.Join(dir, "scripts", "release.sh"))
	return dir
}

// release runs scripts/release.sh in dir for linux/amd64 and returns its
// output and whether it succeeded.
func release(t *testing.T, dir string, args ...string) (string, bool) {
	t.Helper()
	return releaseEnv(t, dir, nil, args...)
}

func releaseEnv(t *testing.T, dir string, env []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("./scripts/release.sh", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PLATFORMS=linux/amd64"), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return string(out), err == nil
}

// TestReleaseChecksums follows a release: the checksums written in one
// checkout are reproduced in another at a different path, so the release
// workflow's --check passes; a changed source or another Go is refused;
// and the action's installer accepts the released binary by those sums.
func TestReleaseChecksums(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hallmark, once from an empty cache; runs without -short")
	}
	a, b := releaseTree(t), releaseTree(t)
	out, ok := release(t, a, releaseTag)
	if !ok {
		t.Fatalf("release.sh %s: %s", releaseTag, out)
	}
	sums, err := os.ReadFile(filepath.Join(a, ".github", "hallmark-checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# SHA-256 of the hallmark release binaries", "\n# built with go", "  " + releaseTag + "/hallmark_linux_amd64\n"} {
		if !strings.Contains(string(sums), want) {
			t.Errorf("checksums file lacks %q:\n%s", want, sums)
		}
	}
	writeFile := func(path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(filepath.Join(b, ".github", "hallmark-checksums.txt"), sums)

	t.Run("another checkout reproduces them", func(t *testing.T) {
		// At another path and with an empty build cache, as on the
		// release workflow's runner: nothing compiled for a is reused.
		if out, ok := releaseEnv(t, b, []string{"GOCACHE=" + t.TempDir()}, "--check", releaseTag); !ok {
			t.Fatalf("--check in a second checkout failed: %s", out)
		}
	})

	t.Run("a changed source is refused", func(t *testing.T) {
		c := releaseTree(t)
		writeFile(filepath.Join(c, ".github", "hallmark-checksums.txt"), sums)
		root := filepath.Join(c, "internal", "cli", "root.go")
		src, err := os.ReadFile(root)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(root, []byte(strings.Replace(string(src), "Signed, verifiable SLSA provenance", "Signed, verifiable SLSA provenance!", 1)))
		out, ok := release(t, c, "--check", releaseTag)
		if ok || !strings.Contains(out, "are not the ones .github/hallmark-checksums.txt lists") {
			t.Errorf("--check after a source change: ok=%v\n%s", ok, out)
		}
	})

	t.Run("another Go is refused", func(t *testing.T) {
		c := releaseTree(t)
		writeFile(filepath.Join(c, ".github", "hallmark-checksums.txt"),
			[]byte(strings.Replace(string(sums), "# built with go", "# built with go1.0.0\n# was go", 1)))
		out, ok := release(t, c, "--check", releaseTag)
		if ok || !strings.Contains(out, "was made with go1.0.0") {
			t.Errorf("--check with another Go: ok=%v\n%s", ok, out)
		}
	})

	t.Run("a tag install.sh cannot read is refused", func(t *testing.T) {
		out, ok := release(t, b, "1.0")
		if ok || !strings.Contains(out, "not a version tag") {
			t.Errorf("release.sh 1.0: ok=%v\n%s", ok, out)
		}
	})

	t.Run("the action installs the released binary", func(t *testing.T) {
		srv := httptest.NewServer(http.StripPrefix("/", http.FileServer(http.Dir(filepath.Join(a, "dist")))))
		defer srv.Close()
		runner := t.TempDir()
		cmd := exec.Command("bash", filepath.Join(repoRoot(t), "internal", "ghaction", "install.sh"))
		cmd.Env = append(os.Environ(), "ACTION_ROOT="+a, "HALLMARK_RELEASE_BASE_URL="+srv.URL,
			"RUNNER_OS=Linux", "RUNNER_ARCH=X64", "RUNNER_TEMP="+runner)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		bin, err := cmd.Output()
		if err != nil {
			t.Fatalf("install.sh: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "release binary "+releaseTag+"/hallmark_linux_amd64") {
			t.Errorf("install.sh did not take the release binary:\n%s", stderr.String())
		}
		v, err := exec.Command(strings.TrimSpace(string(bin)), "version").Output()
		if err != nil || strings.TrimSpace(string(v)) != releaseTag {
			t.Errorf("installed binary's version = %q (%v), want %s", v, err, releaseTag)
		}
	})
}
