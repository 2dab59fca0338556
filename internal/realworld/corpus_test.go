package realworld_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/realworld"
)

const corpusDir = "../../testdata/realworld"

// load reads the checked-in corpus.
func load(tb testing.TB) *realworld.Manifest {
	tb.Helper()
	m, err := realworld.Load(corpusDir)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestCorpusMatchesManifest(t *testing.T) {
	m := load(t)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestEveryFileIsReferenced(t *testing.T) {
	m := load(t)
	refs := m.References()
	covered := func(rel string) bool {
		i := sort.SearchStrings(refs, rel)
		if i < len(refs) && refs[i] == rel {
			return true
		}
		for dir := filepath.ToSlash(filepath.Dir(rel)); dir != "."; dir = filepath.ToSlash(filepath.Dir(dir)) {
			if j := sort.SearchStrings(refs, dir); j < len(refs) && refs[j] == dir {
				return true
			}
		}
		return false
	}
	own := map[string]bool{realworld.ManifestFile: true, "SOURCES.md": true}
	err := filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(corpusDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !own[rel] && !covered(rel) {
			t.Errorf("%s is in the corpus but no case or trust entry names it", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSourcesNamesEveryFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpusDir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	sources := string(b)
	err = filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, p)
		rel = filepath.ToSlash(rel)
		if rel == "SOURCES.md" || rel == realworld.ManifestFile {
			return nil
		}
		if !strings.Contains(sources, "`"+rel+"`") {
			t.Errorf("SOURCES.md does not name %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCasesStateTheirSource(t *testing.T) {
	m := load(t)
	counts := map[string]map[realworld.Verdict]int{}
	for _, c := range m.Cases {
		if !strings.HasPrefix(c.Name, c.Source+"/") {
			t.Errorf("%s: name does not start with its source %q", c.Name, c.Source)
		}
		if !strings.Contains(c.Origin, ".go:") && !strings.Contains(c.Origin, ".md:") && !strings.Contains(c.Origin, ".py ") {
			t.Errorf("%s: origin %q names no test file and line", c.Name, c.Origin)
		}
		if counts[c.Source] == nil {
			counts[c.Source] = map[realworld.Verdict]int{}
		}
		counts[c.Source][c.Expect]++
	}
	// Every source contributes cases of both verdicts.
	for _, src := range []string{"slsa-verifier", "gh", "sigstore-go", "sigstore-conformance"} {
		if counts[src][realworld.Accept] == 0 || counts[src][realworld.Reject] == 0 {
			t.Errorf("%s: %d accept, %d reject; want both", src, counts[src][realworld.Accept], counts[src][realworld.Reject])
		}
	}
}

func TestTrustedRootLine(t *testing.T) {
	m := load(t)
	b, err := m.TrustedRoot("github")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "fulcio.githubapp.com") || strings.Contains(string(b), "\n") {
		t.Errorf("the github trusted root is not the single line naming fulcio.githubapp.com")
	}
	if _, err := m.TrustedRoot("npm-registry-keys"); err == nil {
		t.Error("TrustedRoot accepted npm's keys as a trusted root")
	}
}

func TestArgs(t *testing.T) {
	c := realworld.Case{Flags: realworld.Flags{
		"source-uri":           {"github.com/a/b"},
		"build-workflow-input": {"x=1", "y=2"},
	}}
	want := []string{"--build-workflow-input=x=1", "--build-workflow-input=y=2", "--source-uri=github.com/a/b"}
	if got := c.Args(); !reflect.DeepEqual(got, want) {
		t.Errorf("Args() = %q, want %q", got, want)
	}
}

const validManifest = `{
 "schemaVersion": 1,
 "description": "d",
 "trust": {"root": {"kind": "sigstore-trusted-root", "file": "roots/r.json", "description": "r"}},
 "cases": [{
  "name": "src/one", "source": "src", "kind": "k", "command": "verify-artifact",
  "bundle": "b.json", "bundleFormat": "sigstore-bundle",
  "artifact": "a.bin", "digests": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
  "trustedRoot": "root", "flags": {"source-uri": "github.com/a/b", "build-workflow-input": ["x=1"]},
  "expect": "accept", "reason": "r", "origin": "t.go:1 TestX"
 }]
}`

func TestParse(t *testing.T) {
	m, err := realworld.Parse([]byte(validManifest))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Cases[0].Flags["source-uri"]; !reflect.DeepEqual(got, []string{"github.com/a/b"}) {
		t.Errorf("source-uri = %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name      string
		old, repl string
	}{
		{"unknown field", `"kind": "k",`, `"kind": "k", "verdict": "accept",`},
		{"bad verdict", `"expect": "accept"`, `"expect": "pass"`},
		{"no origin", `"origin": "t.go:1 TestX"`, `"origin": ""`},
		{"unknown trusted root", `"trustedRoot": "root"`, `"trustedRoot": "nope"`},
		{"path leaves the corpus", `"bundle": "b.json"`, `"bundle": "../b.json"`},
		{"absolute path", `"artifact": "a.bin"`, `"artifact": "/etc/passwd"`},
		{"unclean path", `"bundle": "b.json"`, `"bundle": "x/../b.json"`},
		{"short digest", `"sha256": "e3b0`, `"sha256": "e3b`},
		{"unknown digest", `"sha256":`, `"md5":`},
		{"no digests", `, "digests": {"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`, ``},
		{"unknown format", `"bundleFormat": "sigstore-bundle"`, `"bundleFormat": "pgp"`},
		{"bad flag name", `"source-uri":`, `"--source-uri":`},
		{"schema version", `"schemaVersion": 1`, `"schemaVersion": 2`},
		{"trailing data", "}]\n}", "}]\n} {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := strings.Replace(validManifest, tt.old, tt.repl, 1)
			if in == validManifest {
				t.Fatalf("replacement %q not found", tt.old)
			}
			_, err := realworld.Parse([]byte(in))
			if !errors.Is(err, realworld.ErrInvalidManifest) {
				t.Errorf("Parse: got %v, want ErrInvalidManifest", err)
			}
		})
	}
	t.Run("duplicate name", func(t *testing.T) {
		i := strings.Index(validManifest, "[{") + 1
		j := strings.LastIndex(validManifest, "}]") + 1
		c := validManifest[i:j]
		in := validManifest[:j] + "," + c + validManifest[j:]
		if _, err := realworld.Parse([]byte(in)); !errors.Is(err, realworld.ErrInvalidManifest) {
			t.Errorf("Parse: got %v, want ErrInvalidManifest", err)
		}
	})
}

func TestCheckFindsDifferences(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(realworld.ManifestFile, validManifest)
	write("roots/r.json", `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`)
	write("b.json", "{}")
	write("a.bin", "") // sha256 of nothing, as the manifest says
	m, err := realworld.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err != nil {
		t.Fatalf("Check on a matching corpus: %v", err)
	}
	write("a.bin", "changed")
	if err := m.Check(); !errors.Is(err, realworld.ErrCorpusMismatch) {
		t.Errorf("Check with a changed artifact: got %v, want ErrCorpusMismatch", err)
	}
	write("a.bin", "")
	if err := os.Remove(filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); !errors.Is(err, realworld.ErrCorpusMismatch) {
		t.Errorf("Check with a missing bundle: got %v, want ErrCorpusMismatch", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validManifest))
	f.Add([]byte(`{"schemaVersion": 1, "cases": []}`))
	f.Add([]byte(`{"cases": [{"flags": {"a": 1}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := realworld.Parse(b)
		if err != nil {
			if !errors.Is(err, realworld.ErrInvalidManifest) {
				t.Fatalf("error does not wrap ErrInvalidManifest: %v", err)
			}
			return
		}
		for _, c := range m.Cases {
			for _, a := range c.AllArtifacts() {
				if strings.HasPrefix(a.File, "/") || strings.HasPrefix(a.File, "../") {
					t.Fatalf("accepted path %q outside the corpus", a.File)
				}
			}
			_ = c.Args()
		}
	})
}
