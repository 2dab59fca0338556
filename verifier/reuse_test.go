package verifier_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

// TestVerifierReusedAcrossBundles: one Verifier value, and one VSAVerifier,
// checking every bundle of the adversarial corpus in turn and then in the
// reverse order, give each the verdict a verifier made for it alone gives:
// nothing one verification leaves behind changes the next.
func TestVerifierReusedAcrossBundles(t *testing.T) {
	m := loadCorpus(t)
	honest := m.Cases[0]
	shared, err := corpusVerifier(t, m, honest)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(readAdversarial(t, "trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	var vsaPolicy *verifier.VSAPolicy
	for _, c := range m.Cases {
		if c.VSA != nil && strings.HasPrefix(c.Name, "honest-") {
			vsaPolicy = &verifier.VSAPolicy{Issuer: m.Issuer, SAN: c.VSA.SAN, MinLevel: c.VSA.MinLevel}
			break
		}
	}
	if vsaPolicy == nil {
		t.Fatal("the corpus has no honest summary")
	}
	sharedVSA, err := verifier.NewVSAVerifier(tr, *vsaPolicy)
	if err != nil {
		t.Fatal(err)
	}

	verdict := func(res any, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		switch r := res.(type) {
		case *verifier.Result:
			return fmt.Sprintf("level %d, builder %s, subjects %v", r.Level, r.BuilderID, r.Subjects)
		case *verifier.VSA:
			return fmt.Sprintf("levels %v, resource %s", r.Levels, r.ResourceURI)
		}
		return "?"
	}
	passed, passedVSA := 0, 0
	order := append(slices.Clone(m.Cases), m.Cases...)
	slices.Reverse(order[len(m.Cases):])
	for _, c := range order {
		if c.Synthetic != "" {
			continue
		}
		data, err := m.Input(c)
		if err != nil {
			t.Fatal(err)
		}
		bundles, err := verifier.ParseBundles(data)
		if err != nil {
			continue // refused before any verifier sees it
		}
		ds, err := m.Digests(c)
		if err != nil {
			t.Fatal(err)
		}
		var digests []verifier.Digest
		for _, d := range ds {
			digests = append(digests, verifier.Digest{Algorithm: d.Algorithm, Hex: d.Hex})
		}
		fresh, err := corpusVerifier(t, m, honest)
		if err != nil {
			t.Fatal(err)
		}
		want := verdict(fresh.VerifyAny(bundles, digests...))
		if got := verdict(shared.VerifyAny(bundles, digests...)); got != want {
			t.Errorf("%s: the shared verifier says %s, a fresh one %s", c.Name, got, want)
		}
		if !strings.HasPrefix(want, "error:") {
			passed++
		}
		want = verdict(verifier.VerifyVSA(bundles[0], tr, *vsaPolicy, digests...))
		if got := verdict(sharedVSA.Verify(bundles[0], digests...)); got != want {
			t.Errorf("%s: the shared summary verifier says %s, VerifyVSA %s", c.Name, got, want)
		}
		if !strings.HasPrefix(want, "error:") {
			passedVSA++
		}
	}
	if passed == 0 || passedVSA == 0 {
		t.Fatalf("%d provenance and %d summary verdicts passed: the comparison proves nothing", passed, passedVSA)
	}
}
