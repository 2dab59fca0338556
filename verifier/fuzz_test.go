package verifier_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

func addFiles(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err == nil {
			f.Add(data)
		}
	}
}

// FuzzParseBundle: parsing arbitrary bytes as bundles never panics, and
// what parses has a content.
func FuzzParseBundle(f *testing.F) {
	for _, name := range verifier.RealFixtures() {
		addFiles(f, verifier.RealFixture(name))
	}
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := verifier.ParseBundles(data)
		if err != nil {
			return
		}
		for _, b := range bs {
			if b.Bundle == nil {
				t.Fatal("parsed bundle without content")
			}
		}
	})
}

// FuzzLoadPolicy: loading arbitrary bytes as a policy never panics, and a
// loaded policy is accepted by New.
func FuzzLoadPolicy(f *testing.F) {
	addFiles(f, filepath.Join("testdata", "policy-*"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := verifier.LoadPolicy(data)
		if err != nil {
			return
		}
		if _, err := verifier.New(publicGoodRoot(t), p, verifier.WithoutSourceUnsafe()); err != nil {
			t.Fatalf("loaded policy refused by New: %v", err)
		}
	})
}

// FuzzLoadSPIFFEBundle: loading arbitrary bytes as a SPIFFE trust bundle
// never panics, and every bundle it returns holds CAs of one named trust
// domain.
func FuzzLoadSPIFFEBundle(f *testing.F) {
	addFiles(f, filepath.Join("testdata", "adversarial", "*.pem"))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, td := range []string{"", "example.org"} {
			bs, err := verifier.LoadSPIFFEBundle(td, data)
			if err != nil {
				continue
			}
			for _, b := range bs {
				if b.TrustDomain().IsZero() || len(b.X509Authorities()) == 0 {
					t.Fatalf("bundle %v with %d CAs", b.TrustDomain(), len(b.X509Authorities()))
				}
			}
		}
	})
}

// FuzzParseEnvelope: reading arbitrary bytes as a bare DSSE envelope never
// panics, and what it reads holds an envelope with a signature.
func FuzzParseEnvelope(f *testing.F) {
	addFiles(f, filepath.Join("..", "testdata", "realworld", "slsa-verifier", "vsa", "gce", "v1", "*.jsonl"))
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := verifier.ParseEnvelope(data)
		if err != nil {
			return
		}
		if b.GetDsseEnvelope() == nil || len(b.GetDsseEnvelope().GetSignatures()) == 0 {
			t.Fatal("an envelope without a signature")
		}
	})
}
