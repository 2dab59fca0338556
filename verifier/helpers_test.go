package verifier_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/verifier"
)

// fixedNow is after every real fixture was signed; the clock is injected so
// verdicts never depend on when the tests run.
var fixedNow = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

var (
	publicGoodOnce sync.Once
	publicGood     *root.TrustedRoot
	publicGoodErr  error
)

// publicGoodRoot returns the public-good trusted root shipped with
// sigstore-go v1.3.0, parsed once per test binary.
func publicGoodRoot(t testing.TB) *root.TrustedRoot {
	t.Helper()
	publicGoodOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join("testdata", "trusted-root-public-good.json"))
		if err != nil {
			publicGoodErr = err
			return
		}
		publicGood, publicGoodErr = verifier.LoadTrustedRoot(data)
	})
	if publicGoodErr != nil {
		t.Fatal(publicGoodErr)
	}
	return publicGood
}

// realBundles reads a public bundle (verifier.RealFixture).
func realBundles(t testing.TB, name string) []*bundle.Bundle {
	t.Helper()
	data, err := os.ReadFile(verifier.RealFixture(name))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := verifier.ParseBundles(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return bs
}

// realDigest returns the sha256 of an upstream artifact, as recorded in
// testdata/real/SHA256SUMS.
func realDigest(t testing.TB, artifact string) verifier.Digest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "real", "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if ok && name == artifact {
			return verifier.MustParseDigest("sha256:" + sum)
		}
	}
	t.Fatalf("no digest for %s", artifact)
	return verifier.Digest{}
}

// newVerifier builds a verifier over the public-good root with the clock
// fixed.
func newVerifier(t testing.TB, tm root.TrustedMaterial, p *verifier.Policy, opts ...verifier.Option) *verifier.Verifier {
	t.Helper()
	v, err := verifier.New(tm, p, append([]verifier.Option{verifier.WithClock(fixedClock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
