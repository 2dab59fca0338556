package subject_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

// tree writes files (path -> content) and symbolic links (path -> target,
// for keys listed in links) under a new temporary directory.
func tree(t testing.TB, files map[string]string, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if content == "<dir>" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sha(content string) map[string]string {
	sum := sha256.Sum256([]byte(content))
	return map[string]string{"sha256": hex.EncodeToString(sum[:])}
}

func TestFromPaths(t *testing.T) {
	files := map[string]string{
		"a.txt":              "alpha",
		"b.txt":              "bravo",
		"c.bin":              "charlie",
		".hidden.txt":        "hidden",
		"dist/app.tar.gz":    "app",
		"dist/app.zip":       "zip",
		"dist/deep/x/y.txt":  "yankee",
		"dist/deep/z.txt":    "zulu",
		"emptydir":           "<dir>",
		"only/dirs/one":      "<dir>",
		"only/dirs/two":      "<dir>",
		"with space/s p.txt": "space",
	}
	links := map[string]string{
		"link-to-a.txt":       "a.txt",
		"link-to-dist":        "dist",
		"dangling/broken.txt": "nowhere.txt",
		"loose/dirlink":       "../dist",
	}
	dir := tree(t, files, links)

	tests := []struct {
		name     string
		patterns []string
		opts     []subject.Option
		want     []subject.Subject
	}{
		{
			name:     "literal file",
			patterns: []string{"a.txt"},
			want:     []subject.Subject{{Name: "a.txt", Digest: sha("alpha")}},
		},
		{
			name:     "glob skips directories and matches dot-files",
			patterns: []string{"*.txt"},
			want: []subject.Subject{
				{Name: ".hidden.txt", Digest: sha("hidden")},
				{Name: "a.txt", Digest: sha("alpha")},
				{Name: "b.txt", Digest: sha("bravo")},
				{Name: "link-to-a.txt", Digest: sha("alpha")},
			},
		},
		{
			name:     "star skips directories and links to directories",
			patterns: []string{"*"},
			want: []subject.Subject{
				{Name: ".hidden.txt", Digest: sha("hidden")},
				{Name: "a.txt", Digest: sha("alpha")},
				{Name: "b.txt", Digest: sha("bravo")},
				{Name: "c.bin", Digest: sha("charlie")},
				{Name: "link-to-a.txt", Digest: sha("alpha")},
			},
		},
		{
			name:     "dot-slash is cleaned from names",
			patterns: []string{"./dist/app.*"},
			want: []subject.Subject{
				{Name: "dist/app.tar.gz", Digest: sha("app")},
				{Name: "dist/app.zip", Digest: sha("zip")},
			},
		},
		{
			name:     "double star matches any depth including none",
			patterns: []string{"dist/**/*.txt"},
			want: []subject.Subject{
				{Name: "dist/deep/x/y.txt", Digest: sha("yankee")},
				{Name: "dist/deep/z.txt", Digest: sha("zulu")},
			},
		},
		{
			name:     "trailing double star matches every file below",
			patterns: []string{"dist/**"},
			want: []subject.Subject{
				{Name: "dist/app.tar.gz", Digest: sha("app")},
				{Name: "dist/app.zip", Digest: sha("zip")},
				{Name: "dist/deep/x/y.txt", Digest: sha("yankee")},
				{Name: "dist/deep/z.txt", Digest: sha("zulu")},
			},
		},
		{
			name:     "double star does not descend into links to directories",
			patterns: []string{"**/z.txt"},
			want:     []subject.Subject{{Name: "dist/deep/z.txt", Digest: sha("zulu")}},
		},
		{
			name:     "single-element glob follows a link to a directory",
			patterns: []string{"link-to-*/app.zip"},
			want:     []subject.Subject{{Name: "link-to-dist/app.zip", Digest: sha("zip")}},
		},
		{
			name:     "comma and newline separated list",
			patterns: []string{"a.txt, b.txt\n\n  c.bin  ,", "dist/app.zip"},
			want: []subject.Subject{
				{Name: "a.txt", Digest: sha("alpha")},
				{Name: "b.txt", Digest: sha("bravo")},
				{Name: "c.bin", Digest: sha("charlie")},
				{Name: "dist/app.zip", Digest: sha("zip")},
			},
		},
		{
			name:     "file matched by two patterns is listed once",
			patterns: []string{"a.txt", "a.*", "./a.txt"},
			want:     []subject.Subject{{Name: "a.txt", Digest: sha("alpha")}},
		},
		{
			name:     "symlink to a file is hashed under the link's name",
			patterns: []string{"link-to-a.txt"},
			want:     []subject.Subject{{Name: "link-to-a.txt", Digest: sha("alpha")}},
		},
		{
			name:     "names with spaces",
			patterns: []string{"with space/*"},
			want:     []subject.Subject{{Name: "with space/s p.txt", Digest: sha("space")}},
		},
		{
			name:     "escaped meta character",
			patterns: []string{`a\.txt`},
			want:     []subject.Subject{{Name: "a.txt", Digest: sha("alpha")}},
		},
		{
			name:     "relative to a directory, going up",
			patterns: []string{"../a.txt"},
			opts:     []subject.Option{subject.WithDir(filepath.Join(dir, "dist"))},
			want:     []subject.Subject{{Name: "../a.txt", Digest: sha("alpha")}},
		},
		{
			name:     "sha256 and sha512 in one pass",
			patterns: []string{"a.txt"},
			opts:     []subject.Option{subject.WithAlgorithms("sha512", "sha256", "sha512")},
			want: []subject.Subject{{Name: "a.txt", Digest: map[string]string{
				"sha256": sha("alpha")["sha256"],
				"sha512": sha512hex("alpha"),
			}}},
		},
		{
			name:     "one worker",
			patterns: []string{"dist/**"},
			opts:     []subject.Option{subject.WithWorkers(1)},
			want: []subject.Subject{
				{Name: "dist/app.tar.gz", Digest: sha("app")},
				{Name: "dist/app.zip", Digest: sha("zip")},
				{Name: "dist/deep/x/y.txt", Digest: sha("yankee")},
				{Name: "dist/deep/z.txt", Digest: sha("zulu")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]subject.Option{subject.WithDir(dir)}, tt.opts...)
			got, err := subject.FromPaths(context.Background(), tt.patterns, opts...)
			if err != nil {
				t.Fatalf("FromPaths(%q): %v", tt.patterns, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromPaths(%q)\n got %v\nwant %v", tt.patterns, got, tt.want)
			}
		})
	}
}

func sha512hex(content string) string {
	sum := sha512.Sum512([]byte(content))
	return hex.EncodeToString(sum[:])
}

func TestFromPathsAbsolutePattern(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "alpha"}, nil)
	pattern := filepath.Join(dir, "*.txt")
	got, err := subject.FromPaths(context.Background(), []string{pattern})
	if err != nil {
		t.Fatal(err)
	}
	want := []subject.Subject{{Name: filepath.ToSlash(filepath.Join(dir, "a.txt")), Digest: sha("alpha")}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestFromPathsErrors(t *testing.T) {
	dir := tree(t,
		map[string]string{"a.txt": "alpha", "sub/inner.txt": "inner", "emptydir": "<dir>"},
		map[string]string{"dangling.txt": "missing.txt", "dirlink": "sub"},
	)
	tests := []struct {
		name        string
		patterns    []string
		opts        []subject.Option
		want        error
		wantPattern string // checked through *PatternError when set
		wantPath    string // checked through *FileError when set
	}{
		{name: "no patterns", patterns: []string{" ,\n, "}, want: subject.ErrNoPatterns},
		{name: "nil patterns", want: subject.ErrNoPatterns},
		{name: "no match", patterns: []string{"a.txt", "dist/*.zip"}, want: subject.ErrNoMatch, wantPattern: "dist/*.zip"},
		{name: "missing literal", patterns: []string{"nope.txt"}, want: subject.ErrNoMatch, wantPattern: "nope.txt"},
		{name: "literal through a file", patterns: []string{"a.txt/x"}, want: subject.ErrNoMatch, wantPattern: "a.txt/x"},
		{name: "only directories", patterns: []string{"s*"}, want: subject.ErrOnlyDirectories, wantPattern: "s*"},
		{name: "a directory by name", patterns: []string{"emptydir"}, want: subject.ErrOnlyDirectories, wantPattern: "emptydir"},
		{name: "only a link to a directory", patterns: []string{"dirlink"}, want: subject.ErrOnlyDirectories, wantPattern: "dirlink"},
		{name: "dangling symlink", patterns: []string{"*.txt"}, want: subject.ErrDanglingSymlink, wantPath: filepath.Join(dir, "dangling.txt")},
		{name: "bad pattern", patterns: []string{"[a-"}, want: filepath.ErrBadPattern, wantPattern: "[a-"},
		{name: "zero workers", patterns: []string{"a.txt"}, opts: []subject.Option{subject.WithWorkers(0)}, want: subject.ErrInvalidOption},
		{name: "unknown algorithm", patterns: []string{"a.txt"}, opts: []subject.Option{subject.WithAlgorithms("md5")}, want: subject.ErrInvalidOption},
		{name: "no algorithm", patterns: []string{"a.txt"}, opts: []subject.Option{subject.WithAlgorithms()}, want: subject.ErrInvalidOption},
		{name: "empty dir option", patterns: []string{"a.txt"}, opts: []subject.Option{subject.WithDir("")}, want: subject.ErrInvalidOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]subject.Option{subject.WithDir(dir)}, tt.opts...)
			got, err := subject.FromPaths(context.Background(), tt.patterns, opts...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("FromPaths(%q) = %v, %v; want error %v", tt.patterns, got, err, tt.want)
			}
			if tt.wantPattern != "" {
				var pe *subject.PatternError
				if !errors.As(err, &pe) || pe.Pattern != tt.wantPattern {
					t.Errorf("error %v: want a *PatternError for %q", err, tt.wantPattern)
				}
			}
			if tt.wantPath != "" {
				var fe *subject.FileError
				if !errors.As(err, &fe) || fe.Path != tt.wantPath {
					t.Errorf("error %v: want a *FileError for %q", err, tt.wantPath)
				}
			}
		})
	}
}

func TestFromPathsUnreadableFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode; see TestFromPathsReadError")
	}
	dir := tree(t, map[string]string{"secret.bin": "x"}, nil)
	path := filepath.Join(dir, "secret.bin")
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	_, err := subject.FromPaths(context.Background(), []string{"secret.bin"}, subject.WithDir(dir))
	var fe *subject.FileError
	if !errors.Is(err, fs.ErrPermission) || !errors.As(err, &fe) || fe.Path != path {
		t.Fatalf("err = %v, want a *FileError for %s matching fs.ErrPermission", err, path)
	}
}

func TestFromPathsCancelled(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "alpha", "b.txt": "bravo"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := subject.FromPaths(ctx, []string{"*.txt"}, subject.WithDir(dir))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFromPathsManyFilesAnyWorkers(t *testing.T) {
	files := map[string]string{}
	for i := range 300 {
		files[filepath.Join("d", string(rune('a'+i%26)), hex.EncodeToString([]byte{byte(i), byte(i >> 8)}))] = string(rune(i))
	}
	dir := tree(t, files, nil)
	var first []subject.Subject
	for _, workers := range []int{1, 3, 64} {
		got, err := subject.FromPaths(context.Background(), []string{"d/**"}, subject.WithDir(dir), subject.WithWorkers(workers))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(files) {
			t.Fatalf("workers %d: got %d subjects, want %d", workers, len(got), len(files))
		}
		for _, s := range got {
			if want := sha(files[s.Name]); !reflect.DeepEqual(s.Digest, want) {
				t.Fatalf("workers %d: %s: digest %v, want %v", workers, s.Name, s.Digest, want)
			}
		}
		if first == nil {
			first = got
		} else if !reflect.DeepEqual(got, first) {
			t.Errorf("workers %d: result differs from workers 1", workers)
		}
	}
}
