package sandbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Tool is a server the sandbox installs with `go install` and runs.
type Tool struct {
	Name    string // folder and log name
	Version string
	Package string // go install path, without @version
	Binary  string // name of the installed binary
	// Main, when set, is the source of a main package built in a throwaway
	// module that requires Package at Version, instead of `go install`.
	Main string
	// Flavor tells a wrapper build apart from the released binary in the cache.
	Flavor string
	// Tags are build tags for `go install` (a build with them needs a
	// Flavor, so the cache tells it from the default build).
	Tags string
}

// The servers the sandbox runs, at the versions that build together on this
// project's Go toolchain.
var (
	Fulcio = Tool{Name: "fulcio", Version: "v1.8.8", Package: "github.com/sigstore/fulcio", Binary: "fulcio"}
	Rekor  = Tool{Name: "rekor-tiles", Version: "v2.3.0", Package: "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix", Binary: "posix"}
	TSA    = Tool{Name: "timestamp-authority", Version: "v2.1.3", Package: "github.com/sigstore/timestamp-authority/v2", Binary: "timestamp-server", Main: tsaMain, Flavor: "hallmark1"}
	Cosign = Tool{Name: "cosign", Version: "v2.6.5", Package: "github.com/sigstore/cosign/v2/cmd/cosign", Binary: "cosign"}
)

// tsaMain runs the timestamp authority's own server package; see the file.
//
//go:embed tsamain/main.go.txt
var tsaMain string

// ServerTools are the tools Up needs.
var ServerTools = []Tool{Fulcio, Rekor, TSA}

// DefaultCacheDir is where tools are installed: $HOME/.cache/hallmark/tools
// (the user cache folder), or $HALLMARK_CACHE/tools when that is set.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("HALLMARK_CACHE"); d != "" {
		return filepath.Join(d, "tools"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache folder (set HALLMARK_CACHE): %w", err)
	}
	return filepath.Join(d, "hallmark", "tools"), nil
}

// Path is where t's binary lives under cacheDir.
func (t Tool) Path(cacheDir string) string {
	return filepath.Join(cacheDir, t.folder(), t.Binary)
}

func (t Tool) folder() string {
	if t.Flavor != "" {
		return t.Name + "-" + t.Version + "-" + t.Flavor
	}
	return t.Name + "-" + t.Version
}

// Ensure returns the path of t's binary, installing it first if the cache
// does not hold it. Concurrent callers (parallel test packages) wait for one
// install. Progress goes to progress; a failed build's output tail is in the
// error.
func (t Tool) Ensure(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	bin := t.Path(cacheDir)
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating tool cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, t.folder()+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if isExecutable(bin) { // installed while we waited
		return bin, nil
	}
	fmt.Fprintf(progress, "installing %s %s (once; cached in %s)...\n", t.Name, t.Version, cacheDir)
	start := time.Now()
	final := filepath.Dir(bin)
	tmp, err := os.MkdirTemp(cacheDir, "."+t.Name+"-*")
	if err != nil {
		return "", fmt.Errorf("installing %s: %w", t.Name, err)
	}
	defer os.RemoveAll(tmp)
	if err := t.build(ctx, tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("installing %s: %w", t.Name, err)
	}
	fmt.Fprintf(progress, "installed %s %s in %s\n", t.Name, t.Version, time.Since(start).Round(time.Second))
	return bin, nil
}

// build installs t's binary into dir.
func (t Tool) build(ctx context.Context, dir string) error {
	env := append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	run := func(wd string, args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = wd
		cmd.Env = append(env, "GOBIN="+dir)
		out, err := cmd.CombinedOutput()
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("installing %s: the Go toolchain (go) is not on PATH; install Go 1.26 or put %s in place by hand", t.Name, filepath.Join(dir, t.Binary))
		}
		if err != nil {
			return fmt.Errorf("installing %s %s: go %s: %w\n%s", t.Name, t.Version, strings.Join(args, " "), err, tail(out, 20))
		}
		return nil
	}
	if t.Main == "" {
		if t.Tags != "" {
			return run("", "install", "-tags="+t.Tags, t.Package+"@"+t.Version)
		}
		return run("", "install", t.Package+"@"+t.Version)
	}
	src, err := os.MkdirTemp("", "hallmark-"+t.Name+"-src-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	gomod := "module hallmark.local/" + t.Name + "\n\ngo 1.26\n\nrequire " + t.Package + " " + t.Version + "\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(t.Main), 0o644); err != nil {
		return err
	}
	if err := run(src, "mod", "tidy"); err != nil {
		return err
	}
	return run(src, "build", "-o", filepath.Join(dir, t.Binary), ".")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of out, indented, for error messages.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
