// Package realworld loads the corpus of published provenance under
// testdata/realworld: bundles, attestations and artifacts copied unchanged
// from other projects' test suites (slsa-verifier, the GitHub CLI,
// sigstore-go, sigstore-conformance), each case with the verdict its source
// project's own test states.
//
// The corpus lives in one manifest, testdata/realworld/cases.json, next to
// SOURCES.md, which names where every file came from. Load reads and checks
// the manifest; a verifier test walks Manifest.Cases and compares its
// verdict with Case.Expect:
//
//	m, err := realworld.Load("../../testdata/realworld")
//	...
//	for _, c := range m.Cases {
//		root, err := m.TrustedRoot(c.TrustedRoot) // trusted_root.json bytes
//		args := c.Args()                          // --flag=value, sorted
//		...
//	}
//
// A case whose Needs is set reaches its verdict in the source only with
// something an offline verifier does not have (an online Rekor search, a
// test-only switch); Needs says what.
//
// The package uses the standard library only, so any test may import it.
package realworld
