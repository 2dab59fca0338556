package sandbox

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
	"time"
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

// Factory mode's test servers, at the versions that build on this project's
// Go toolchain (see TESTBED.md).
var (
	SPIRE = ModuleBuild{
		Name: "spire", Module: "github.com/spiffe/spire", Version: "v1.13.0",
		Packages: []string{"github.com/spiffe/spire/cmd/spire-server", "github.com/spiffe/spire/cmd/spire-agent"},
		CGO:      true,
	}
	// SPIREOIDCDiscovery is SPIRE's OIDC discovery provider: it serves the
	// server's JWT signing keys at the jwt_issuer URL, so a relying party
	// (Fulcio's spiffe issuer) can verify JWT-SVIDs. Its own build: adding
	// it to SPIRE's would rebuild the server and agent on every machine
	// that has them.
	SPIREOIDCDiscovery = ModuleBuild{
		Name: "spire-oidc-discovery-provider", Module: "github.com/spiffe/spire", Version: "v1.13.0",
		Packages: []string{"github.com/spiffe/spire/support/oidc-discovery-provider"},
		// Same flags as SPIRE's build, so the build cache it left is reused.
		CGO: true,
	}
	KubeAPIServer = ModuleBuild{
		Name: "kube-apiserver", Module: "k8s.io/kubernetes", Version: "v1.34.2",
		Packages:       []string{"k8s.io/kubernetes/cmd/kube-apiserver"},
		StagingVersion: "v0.34.2",
		// Stamped as Kubernetes' release build stamps it, so /version
		// answers v1.34.2: clients that check the server's version (Tekton
		// Chains, through knative) refuse an unstamped one.
		LDFlags: []string{
			"-X k8s.io/component-base/version.gitVersion=v1.34.2",
			"-X k8s.io/component-base/version.gitMajor=1",
			"-X k8s.io/component-base/version.gitMinor=34",
			"-X k8s.io/component-base/version.gitTreeState=clean",
		},
		Flavor: "stamped",
	}
)

// FactoryTools are the module builds factory mode's tests need.
var FactoryTools = []ModuleBuild{SPIRE, SPIREOIDCDiscovery, KubeAPIServer}

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
	if b.installed(cacheDir) {
		return b.Dir(cacheDir), nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("creating tool cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, b.folder()+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if b.installed(cacheDir) {
		return b.Dir(cacheDir), nil
	}
	fmt.Fprintf(progress, "installing %s %s (once, a few minutes; cached in %s)...\n", b.Name, b.Version, cacheDir)
	start := time.Now()
	tmp, err := os.MkdirTemp(cacheDir, "."+b.Name+"-*")
	if err != nil {
		return "", fmt.Errorf("installing %s: %w", b.Name, err)
	}
	defer os.RemoveAll(tmp)
	if err := b.build(ctx, tmp); err != nil {
		return "", err
	}
	final := b.Dir(cacheDir)
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("installing %s: %w", b.Name, err)
	}
	fmt.Fprintf(progress, "installed %s %s in %s\n", b.Name, b.Version, time.Since(start).Round(time.Second))
	return final, nil
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
			return nil, fmt.Errorf("installing %s %s: go %s: %w\n%s", b.Name, b.Version, strings.Join(args, " "), err, tail([]byte(stderr.String()), 20))
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
