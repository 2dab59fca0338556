// Package sandboxtest hands tests a running sandbox: the real Fulcio, Rekor
// v2, timestamp authority and the Hallmark OIDC issuer on loopback.
//
// A package's tests share one sandbox. Wire its teardown in TestMain:
//
//	func TestMain(m *testing.M) { sandboxtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		sb := sandboxtest.Start(t) // skipped under -short
//		...
//	}
//
// Without Main, each Start gets its own sandbox, stopped in t.Cleanup.
package sandboxtest

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

var (
	mu       sync.Mutex
	shared   *sandbox.Sandbox
	sharing  bool
	buildDir string
	binPath  string
	binErr   error
	binOnce  sync.Once
	sbomOnce sync.Once
	sbomPath string
	sbomErr  error
)

// Main runs the package's tests and stops the shared sandbox afterwards,
// then runs teardown (other shared servers' stops); an error from any
// fails the test binary.
func Main(m *testing.M, teardown ...func() error) {
	sharing = true
	code := m.Run()
	for _, stop := range teardown {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "sandboxtest: teardown:", err)
			code = 1
		}
	}
	mu.Lock()
	if shared != nil {
		if _, err := sandbox.Down(context.Background(), shared.Dir); err != nil {
			fmt.Fprintln(os.Stderr, "sandboxtest: stopping sandbox:", err)
			code = 1
		}
		os.RemoveAll(filepath.Dir(shared.Dir))
	}
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	mu.Unlock()
	os.Exit(code)
}

// Start returns a running sandbox, starting it on first use. Under -short
// the test is skipped: the sandbox's servers are real processes.
func Start(tb testing.TB) *sandbox.Sandbox {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs the sandbox's servers; runs without -short")
	}
	mu.Lock()
	defer mu.Unlock()
	if sharing && shared != nil {
		return shared
	}
	parent, err := os.MkdirTemp("", "hallmark-sandbox-")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Up(tb, filepath.Join(parent, "sb"))
	if err != nil {
		os.RemoveAll(parent)
		tb.Fatalf("starting sandbox: %v", err)
	}
	if sharing {
		shared = s
	} else {
		tb.Cleanup(func() {
			if _, err := sandbox.Down(context.Background(), s.Dir); err != nil {
				tb.Errorf("stopping sandbox: %v", err)
			}
			os.RemoveAll(parent)
		})
	}
	return s
}

// Up starts a sandbox in dir with the options tests use, without sharing or
// cleanup: for tests of the sandbox's own life cycle.
func Up(tb testing.TB, dir string) (*sandbox.Sandbox, error) {
	tb.Helper()
	return sandbox.Up(context.Background(), dir, Options(tb))
}

// Options are the sandbox options for tests: the issuer runs from a hallmark
// binary built once per test process, progress goes to the test log.
func Options(tb testing.TB) sandbox.Options {
	tb.Helper()
	return sandbox.Options{
		IssuerCommand: []string{Binary(tb), "sandbox", "serve-issuer"},
		Progress:      toolcachetest.Log(tb),
		StartTimeout:  2 * time.Minute,
	}
}

// Binary returns the path of a hallmark binary built from this module, built
// once per test process.
func Binary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		buildDir, binErr = os.MkdirTemp("", "hallmark-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "hallmark")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/hallmark-dev/hallmark/cmd/hallmark")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("building hallmark: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// SBOMGenerator returns the path of hallmark-sbom built from this module,
// beside Binary's hallmark (where hallmark looks for it), built once per
// test process.
func SBOMGenerator(tb testing.TB) string {
	tb.Helper()
	hallmark := Binary(tb)
	sbomOnce.Do(func() {
		sbomPath = filepath.Join(filepath.Dir(hallmark), "hallmark-sbom")
		cmd := exec.Command("go", "build", "-o", sbomPath, "github.com/hallmark-dev/hallmark/cmd/hallmark-sbom")
		if out, err := cmd.CombinedOutput(); err != nil {
			sbomErr = fmt.Errorf("building hallmark-sbom: %v\n%s", err, out)
		}
	})
	if sbomErr != nil {
		tb.Fatal(sbomErr)
	}
	return sbomPath
}

// LeafCert returns the signing certificate of b, failing the test if b
// holds a public key instead.
func LeafCert(tb testing.TB, b *bundle.Bundle) *x509.Certificate {
	tb.Helper()
	vc, err := b.VerificationContent()
	if err != nil {
		tb.Fatal(err)
	}
	c := vc.Certificate()
	if c == nil {
		tb.Fatal("the bundle holds a public key, not a certificate")
	}
	return c
}
