package verifier_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

// BenchmarkVerify measures one in-process verification of a real
// slsa-github-generator bundle with a warm trusted root and compiled
// policy. With -cpu 1, verifications per second on one core are
// 1e9 / ns/op.
func BenchmarkVerify(b *testing.B) {
	p := verifier.DefaultPolicy()
	p.Source = "github.com/slsa-framework/example-package"
	p.SourceVersionedTag = "v14"
	v := newVerifier(b, publicGoodRoot(b), p)
	bundles := realBundles(b, "generic-v2.1.0-push-v14.intoto.jsonl")
	digest := realDigest(b, "generic-v2.1.0-push-v14")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(bundles[0], digest); err != nil {
			b.Fatal(err)
		}
	}
}
