package toolcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// ModuleBuild is a set of binaries built from one module at one version in
// a throwaway module, for servers whose module refuses `go install`: SPIRE
// (its go.mod has replace directives) and Kubernetes (its staging modules
// are replaced by local folders, which a consumer must replace with the
// published versions).
type ModuleBuild struct {
	Name     string   // folder and log name
	Module   string   // module path required by the throwaway module
	Version  string   // module version
	Packages []string // packages to build; each binary is named after the package's last element
	// StagingVersion, when set, replaces every k8s.io/X the module replaces
	// with ./staging/src/k8s.io/X by k8s.io/X at this version.
	StagingVersion string
	// CGO builds with cgo (SPIRE's sqlite datastore needs it).
	CGO bool
	// LDFlags are passed to go build's -ldflags; Flavor, when set, tells
	// such a build apart from a plain one in the cache.
	LDFlags []string
	Flavor  string
}

func (b ModuleBuild) folder() string {
	if b.Flavor != "" {
		return b.Name + "-" + b.Version + "-" + b.Flavor
	}
	return b.Name + "-" + b.Version
}

// Dir is the folder holding b's binaries under cacheDir.
func (b ModuleBuild) Dir(cacheDir string) string { return filepath.Join(cacheDir, b.folder()) }

// Path is where the binary named name lives under cacheDir.
func (b ModuleBuild) Path(cacheDir, name string) string { return filepath.Join(b.Dir(cacheDir), name) }

func (b ModuleBuild) installed(cacheDir string) bool {
	for _, p := range b.Packages {
		if !isExecutable(b.Path(cacheDir, path.Base(p))) {
			return false
		}
	}
	return true
}

// Installed reports whether every binary of b is in cacheDir.
func (b ModuleBuild) Installed(cacheDir string) bool { return b.installed(cacheDir) }

// Ensure returns the folder of b's binaries, building them first if the
// cache does not hold them. Concurrent callers wait for one build.
func (b ModuleBuild) Ensure(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	err := install(ctx, installation{
		cacheDir: cacheDir, folder: b.folder(), lock: b.folder() + ".lock", name: b.Name, version: b.Version, how: "once, a few minutes",
		installed: func() bool { return b.installed(cacheDir) },
		build:     func(dir string) error { return b.build(ctx, dir) },
	}, progress)
	if err != nil {
		return "", err
	}
	return b.Dir(cacheDir), nil
}

var stagingReplace = regexp.MustCompile(`(?m)^\s*(k8s\.io/[A-Za-z0-9._-]+)\s*=>\s*\./staging/`)

func (b ModuleBuild) build(ctx context.Context, dir string) error {
	cgo := "CGO_ENABLED=0"
	if b.CGO {
		cgo = "CGO_ENABLED=1"
	}
	// The throwaway module's go.sum is written by tidy from the proxy; the
	// checksum database is not reachable from every machine.
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOSUMDB=off", cgo)
	run := func(wd string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = wd
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("installing %s: the Go toolchain (go) is not on PATH", b.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("installing %s %s: go %s: %w\n%s", b.Name, b.Version, strings.Join(args, " "), err, Tail([]byte(stderr.String()), 20))
		}
		return out, nil
	}
	src, err := os.MkdirTemp("", "hallmark-"+b.Name+"-src-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	var gomod strings.Builder
	fmt.Fprintf(&gomod, "module hallmark.local/%s\n\ngo 1.26\n\nrequire %s %s\n", b.Name, b.Module, b.Version)
	if b.StagingVersion != "" {
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
			return err
		}
		out, err := run(src, "mod", "download", "-json", b.Module+"@"+b.Version)
		if err != nil {
			return err
		}
		var info struct{ GoMod string }
		if err := json.Unmarshal(out, &info); err != nil || info.GoMod == "" {
			return fmt.Errorf("installing %s: locating %s's go.mod: %v", b.Name, b.Module, err)
		}
		upstream, err := os.ReadFile(info.GoMod)
		if err != nil {
			return err
		}
		gomod.WriteString("\nreplace (\n")
		for _, m := range stagingReplace.FindAllStringSubmatch(string(upstream), -1) {
			fmt.Fprintf(&gomod, "\t%s => %s %s\n", m[1], m[1], b.StagingVersion)
		}
		gomod.WriteString(")\n")
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod.String()), 0o644); err != nil {
		return err
	}
	var imports strings.Builder
	imports.WriteString("//go:build tools\n\npackage tools\n\nimport (\n")
	for _, p := range b.Packages {
		fmt.Fprintf(&imports, "\t_ %q\n", p)
	}
	imports.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(src, "tools.go"), []byte(imports.String()), 0o644); err != nil {
		return err
	}
	if _, err := run(src, "mod", "tidy", "-e"); err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if len(b.LDFlags) > 0 {
		args = append(args, "-ldflags="+strings.Join(b.LDFlags, " "))
	}
	args = append(args, b.Packages...)
	_, err = run(src, args...)
	return err
}
