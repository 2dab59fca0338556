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
	root := repoRoot(t)
	copyFile(t, filepath.Join(root, "scripts", "release.sh"), filepath.Join(dir, "scripts", "release.sh"))
	docs, _ := filepath.Glob(filepath.Join(root, "reusable-workflows", "*", "*.yml"))
	docs = append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "reusable-workflows", "README.md"))
	for _, f := range docs {
		rel, _ := filepath.Rel(root, f)
		copyFile(t, f, filepath.Join(dir, rel))
	}
	return dir
}

// pinnedTree is releaseTree with every pin naming releaseTag, as the
// release commit holds it.
func pinnedTree(t *testing.T) string {
	t.Helper()
	dir := releaseTree(t)
	if out, ok := release(t, dir, "--pin", releaseTag); !ok {
		t.Fatalf("release.sh --pin: %s", out)
	}
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
	// hallmark-sbom is built by the same loop; leaving it out keeps
	// syft's packages out of this test's two cold builds.
	cmd.Env = append(append(os.Environ(), "PLATFORMS=linux/amd64", "BINARIES=hallmark"), env...)
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
	a, b := releaseTree(t), pinnedTree(t)
	out, ok := release(t, a, releaseTag)
	if !ok {
		t.Fatalf("release.sh %s: %s", releaseTag, out)
	}
	t.Run("every pin names the release", func(t *testing.T) {
		for _, f := range []string{"README.md", "reusable-workflows/README.md", "reusable-workflows/examples/generic.yml", ".github/workflows/generic.yml"} {
			data, err := os.ReadFile(filepath.Join(a, f))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), "@"+hallmarkRef) || !strings.Contains(string(data), "@"+releaseTag) {
				t.Errorf("%s still names %s, or not %s", f, hallmarkRef, releaseTag)
			}
		}
		c := releaseTree(t)
		out, ok := release(t, c, "--check", releaseTag)
		if ok || !strings.Contains(out, "pins that do not name "+releaseTag) || !strings.Contains(out, "README.md:") {
			t.Errorf("--check with stale pins: ok=%v\n%s", ok, out)
		}
	})
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
		c := pinnedTree(t)
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
		c := pinnedTree(t)
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
