package verifier_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

// BenchmarkVerify measures one in-process verification of a real
// slsa-github-generator bundle with a warm trusted root and compiled
// policy. With -cpu 1, verifications per second on one core are
// 1e9 / ns/op. BenchmarkCryptoFloorPublicGood is the same bundle's
// signature checks alone.
func BenchmarkVerify(b *testing.B) {
	p := verifier.DefaultPolicy()
	p.Source = "github.com/slsa-framework/example-package"
	p.SourceVersionedTag = "v14"
	v := newVerifier(b, publicGoodRoot(b), p)
	bundles := realBundles(b, "generic-v2.1.0-push-v14.intoto.jsonl")
	digest := realDigest(b, "generic-v2.1.0-push-v14")
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := v.Verify(bundles[0], digest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySandbox measures one verification of a sandbox bundle
// (Rekor v2 and a TSA, all P-256): the adversarial corpus's honest
// Hallmark bundle. BenchmarkCryptoFloorSandbox is its signature checks.
func BenchmarkVerifySandbox(b *testing.B) {
	m := loadCorpus(b)
	c := m.Cases[0]
	if c.Name != "honest-hallmark-reusable-workflow" {
		b.Fatalf("corpus case 0 is %s", c.Name)
	}
	v, err := corpusVerifier(b, m, c)
	if err != nil {
		b.Fatal(err)
	}
	data, err := m.Input(c)
	if err != nil {
		b.Fatal(err)
	}
	bundles, err := verifier.ParseBundles(data)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := m.Digests(c)
	if err != nil {
		b.Fatal(err)
	}
	digest := verifier.Digest{Algorithm: ds[0].Algorithm, Hex: ds[0].Hex}
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := v.Verify(bundles[0], digest); err != nil {
			b.Fatal(err)
		}
	}
}

// The crypto floor of a verification: the ECDSA signature checks its
// bundle needs, with crypto/ecdsa on the same curves, nothing else.
//
// A public-good slsa-github-generator bundle: the envelope (P-256), the
// leaf certificate by the P-384 intermediate and the intermediate by the
// P-384 root, the log's signed entry timestamp and checkpoint (P-256), the
// certificate's SCT (P-256).
func BenchmarkCryptoFloorPublicGood(b *testing.B) { benchmarkECDSA(b, 4, 2) }

// A sandbox bundle: the envelope, the leaf by Fulcio's CA, the Rekor v2
// checkpoint, the timestamp and its two-link chain, all P-256.
func BenchmarkCryptoFloorSandbox(b *testing.B) { benchmarkECDSA(b, 6, 0) }

func benchmarkECDSA(b *testing.B, p256, p384 int) {
	type check struct {
		key  *ecdsa.PublicKey
		hash []byte
		sig  []byte
	}
	var checks []check
	add := func(curve elliptic.Curve, n int, hash []byte) {
		for range n {
			k, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := ecdsa.SignASN1(rand.Reader, k, hash)
			if err != nil {
				b.Fatal(err)
			}
			checks = append(checks, check{&k.PublicKey, hash, sig})
		}
	}
	h256 := sha256.Sum256([]byte("floor"))
	h384 := sha512.Sum384([]byte("floor"))
	add(elliptic.P256(), p256, h256[:])
	add(elliptic.P384(), p384, h384[:])
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		for _, c := range checks {
			if !ecdsa.VerifyASN1(c.key, c.hash, c.sig) {
				b.Fatal("signature does not verify")
			}
		}
	}
}

// reportCPU, deferred before a benchmark's loop, reports the process's CPU
// time per operation as cpu-ns/op beside the wall time: on a machine other
// work shares, CPU time is the steadier measure (scripts/bench-verify.sh
// takes its ratios from it).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if used := processCPU() - start; used > 0 && b.N > 0 {
			b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
		}
	}
}
