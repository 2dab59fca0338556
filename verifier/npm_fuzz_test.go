package verifier_test

import (
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

// FuzzParseNpmAttestations: parsing arbitrary bytes as npm's attestations
// file never panics, and what parses holds a provenance and a publish
// attestation.
func FuzzParseNpmAttestations(f *testing.F) {
	addFiles(f, filepath.Join("..", "testdata", "realworld", "slsa-verifier", "npm", "gha", "*.tgz.json"))
	f.Add([]byte(`{"attestations":[]}`))
	f.Add([]byte(`{"attestations":[{"predicateType":"https://slsa.dev/provenance/v1","bundle":{}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := verifier.ParseNpmAttestations(data)
		if err != nil {
			return
		}
		if a.Provenance == nil || a.Provenance.Bundle == nil || a.Publish == nil || a.Publish.Bundle == nil {
			t.Fatalf("parsed without both bundles: %+v", a)
		}
		if a.ProvenanceType != verifier.PredicateSLSAv1 && a.ProvenanceType != verifier.PredicateSLSAv02 {
			t.Fatalf("provenance listed as %q", a.ProvenanceType)
		}
	})
}

// FuzzLoadNpmKeys: loading arbitrary bytes as npm's keys.json never
// panics, and keys that load serve an npm verifier.
func FuzzLoadNpmKeys(f *testing.F) {
	addFiles(f, filepath.Join("..", "testdata", "realworld", "keys", "npm", "*.json"))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := verifier.LoadNpmKeys(data)
		if err != nil {
			return
		}
		v, err := verifier.New(publicGoodRoot(t), defaultPolicyWith(t, verifier.Flags{Source: "github.com/a/b"}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.NewNpmVerifier(v, keys, verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted}); err != nil {
			t.Fatalf("loaded keys refused: %v", err)
		}
	})
}
