package verifier_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/verifier"
)

// spdxDoc is a small SPDX 2.3 document naming packages.
func spdxDoc(packages ...string) map[string]any {
	var ps []any
	for i, p := range packages {
		ps = append(ps, map[string]any{"SPDXID": "SPDXRef-Package-" + string(rune('a'+i)), "name": p, "licenseConcluded": "MIT"})
	}
	return map[string]any{
		"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app", "dataLicense": "CC0-1.0",
		"documentNamespace": "https://example.com/app",
		"creationInfo":      map[string]any{"created": "2025-01-01T00:00:00Z", "creators": []any{"Tool: test"}},
		"packages":          ps,
	}
}

func cdxDoc(components ...string) map[string]any {
	var cs []any
	for _, c := range components {
		cs = append(cs, map[string]any{"type": "library", "name": c})
	}
	return map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": cs}
}

// sbomStatement is an in-toto statement of predicateType about one subject.
func sbomStatement(t testing.TB, predicateType, digest string, doc any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "app", "digest": map[string]any{"sha256": digest}}},
		"predicateType": predicateType,
		"predicate":     doc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyAttestation holds SBOM attestations to the provenance policy's
// rules for the signer, and checks each way one can fail.
func TestVerifyAttestation(t *testing.T) {
	ss := newTestSigstore(t)
	f := defaultFacts()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	spdx := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib", "log4j-core")))
	cdx := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateCycloneDX, artifactHex, cdxDoc("zlib")))
	otherRepo := f
	otherRepo.repo = "https://github.com/evil/app"
	foreign := ss.sign(t, ss.fulcio, otherRepo, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib")))
	otherSigner := f
	otherSigner.signer = "https://github.com/acme/app/.github/workflows/sbom.yml@refs/heads/main"
	untrusted := ss.sign(t, ss.fulcio, otherSigner, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib")))
	selfHosted := f
	selfHosted.runner = "self-hosted"
	selfHostedSBOM := ss.sign(t, ss.fulcio, selfHosted, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib")))
	badSPDX := spdxDoc("zlib")
	badSPDX["spdxVersion"] = "SPDX-3.0"
	malformed := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateSPDX, artifactHex, badSPDX))
	noName := cdxDoc("zlib")
	noName["components"] = []any{map[string]any{"type": "library"}}
	nameless := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateCycloneDX, artifactHex, noName))
	provenance := ss.sign(t, ss.fulcio, f, ghStatement(t, f, artifactHex, nil))

	artifact := verifier.MustParseDigest("sha256:" + artifactHex)
	policy := func(edit func(*verifier.Policy)) *verifier.Policy {
		p := acmePolicy()
		if edit != nil {
			edit(p)
		}
		return p
	}
	cases := []struct {
		name          string
		signed        *signed
		predicateType string
		policy        *verifier.Policy
		digest        verifier.Digest
		wantCheck     verifier.Check
		wantErr       error
	}{
		{name: "spdx", signed: spdx, predicateType: verifier.PredicateSPDX},
		{name: "cyclonedx", signed: cdx, predicateType: verifier.PredicateCycloneDX},
		{name: "expression allows", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.Attestations.Expressions = []string{`statement.predicate.packages.all(p, p.licenseConcluded == "MIT")`}
		})},
		{name: "expression denies a package", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.Attestations.Expressions = []string{`!statement.predicate.packages.exists(p, p.name == "log4j-core")`}
		}), wantCheck: verifier.CheckPolicyExpression, wantErr: verifier.ErrExpressionFalse},
		{name: "other artifact", signed: spdx, predicateType: verifier.PredicateSPDX, digest: verifier.MustParseDigest("sha256:" + strings.Repeat("4", 64)),
			wantCheck: verifier.CheckSubject, wantErr: verifier.ErrSubjectMismatch},
		{name: "other source", signed: foreign, predicateType: verifier.PredicateSPDX, wantCheck: verifier.CheckSource, wantErr: verifier.ErrSourceMismatch},
		{name: "untrusted signer", signed: untrusted, predicateType: verifier.PredicateSPDX, wantCheck: verifier.CheckBuilder, wantErr: verifier.ErrUntrustedBuilder},
		{name: "identity expectation", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.Identity.SAN = "https://github.com/acme/other/.github/workflows/x.yml@refs/heads/main"
		}), wantCheck: verifier.CheckIdentity, wantErr: verifier.ErrCertificateIdentity},
		{name: "self-hosted below min level", signed: selfHostedSBOM, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) { p.MinLevel = 2 }),
			wantCheck: verifier.CheckBuilder, wantErr: verifier.ErrLevelTooLow},
		{name: "entry naming a builder id cannot trust an SBOM", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.Builders = []verifier.TrustedBuilder{{Name: "by-id", ID: "glob:https://github.com/acme/build/**", MaxLevel: 3}}
		}), wantCheck: verifier.CheckBuilder, wantErr: verifier.ErrUntrustedBuilder},
		{name: "asked for cyclonedx, got spdx", signed: spdx, predicateType: verifier.PredicateCycloneDX, wantCheck: verifier.CheckPredicateType, wantErr: verifier.ErrPredicateType},
		{name: "provenance is no SBOM", signed: provenance, predicateType: verifier.PredicateSPDX, wantCheck: verifier.CheckPredicateType, wantErr: verifier.ErrPredicateType},
		{name: "provenance predicate type refused", signed: provenance, predicateType: verifier.PredicateSLSAv1, wantCheck: verifier.CheckPredicateType, wantErr: verifier.ErrPredicateType},
		{name: "not SPDX 2", signed: malformed, predicateType: verifier.PredicateSPDX, wantCheck: verifier.CheckStatement, wantErr: verifier.ErrMalformed},
		{name: "component without name", signed: nameless, predicateType: verifier.PredicateCycloneDX, wantCheck: verifier.CheckStatement, wantErr: verifier.ErrMalformed},
		{name: "build types only provenance has", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.BuildTypes = []string{verifier.BuildTypeGitHubWorkflow}
		}), wantCheck: verifier.CheckBuildType, wantErr: verifier.ErrNotApplicable},
		{name: "workflow inputs only provenance has", signed: spdx, predicateType: verifier.PredicateSPDX, policy: policy(func(p *verifier.Policy) {
			p.WorkflowInputs = map[string]string{"a": "b"}
		}), wantCheck: verifier.CheckExternalParameters, wantErr: verifier.ErrNotApplicable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if p == nil {
				p = acmePolicy()
			}
			d := tc.digest
			if d.Algorithm == "" {
				d = artifact
			}
			v, err := verifier.New(ss, p, verifier.WithClock(later))
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.VerifyAttestation(tc.signed.bundle(t), tc.predicateType, d)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyAttestation: %v", err)
				}
				if res.PredicateType != tc.predicateType || res.Level != 3 || res.TrustedBuilder != "acme-build" || res.Identity.SAN != f.signer {
					t.Fatalf("result = %+v", res)
				}
				doc, err := res.PredicateJSON()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := verifier.ParseSBOM(doc); err != nil {
					t.Fatalf("the verified predicate is no SBOM: %v", err)
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.wantCheck || !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %s check failing with %v", err, tc.wantCheck, tc.wantErr)
			}
		})
	}
}

func TestParseSBOM(t *testing.T) {
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	noCreated := spdxDoc()
	noCreated["creationInfo"] = map[string]any{}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"spdx", enc(spdxDoc("a")), verifier.PredicateSPDX},
		{"cyclonedx", enc(cdxDoc("a")), verifier.PredicateCycloneDX},
		{"neither", []byte(`{"name":"x"}`), ""},
		{"both", []byte(`{"spdxVersion":"SPDX-2.3","bomFormat":"CycloneDX"}`), ""},
		{"duplicate key", []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","specVersion":"1.5"}`), ""},
		{"array", []byte(`[]`), ""},
		{"spdx without created", enc(noCreated), ""},
		{"cyclonedx 2", []byte(`{"bomFormat":"CycloneDX","specVersion":"2.0"}`), ""},
		{"not json", []byte(`SPDXVersion: SPDX-2.3`), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := verifier.ParseSBOM(tc.data)
			if tc.want == "" {
				if !errors.Is(err, verifier.ErrMalformed) {
					t.Fatalf("ParseSBOM = %q, %v; want ErrMalformed", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSBOM = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzParseSBOM(f *testing.F) {
	for _, seed := range []string{
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"},"packages":[{"SPDXID":"p","name":"n"}]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"n"}]}`,
		`{"bomFormat":1}`, `[]`, `{"spdxVersion":"SPDX-2.3","packages":[1]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := verifier.ParseSBOM(data)
		if err == nil && pt != verifier.PredicateSPDX && pt != verifier.PredicateCycloneDX {
			t.Fatalf("accepted as %q", pt)
		}
		if err != nil && pt != "" {
			t.Fatalf("error %v with predicate type %q", err, pt)
		}
	})
}

func TestParseBundlesLimit(t *testing.T) {
	ss := newTestSigstore(t)
	f := defaultFacts()
	big := make([]string, 0, 40000)
	for i := range cap(big) {
		big = append(big, "package-with-a-long-name-"+strings.Repeat("x", 80)+string(rune('a'+i%26)))
	}
	sd := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateCycloneDX, artifactHex, cdxDoc(big...)))
	data, err := json.Marshal(sd.bundle(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) <= verifier.MaxBundleSize {
		t.Fatalf("fixture of %d bytes is not above MaxBundleSize", len(data))
	}
	if _, err := verifier.ParseBundles(data); !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("ParseBundles = %v, want ErrTooLarge", err)
	}
	if _, err := verifier.ParseBundlesLimit(data, len(data)-1); !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("ParseBundlesLimit below the size = %v, want ErrTooLarge", err)
	}
	bs, err := verifier.ParseBundlesLimit(data, verifier.DefaultMaxAttestationBundleSize)
	if err != nil || len(bs) != 1 {
		t.Fatalf("ParseBundlesLimit = %d bundles, %v", len(bs), err)
	}
	v, err := verifier.New(ss, acmePolicy(), verifier.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyAttestationAny(bs, verifier.PredicateCycloneDX, verifier.MustParseDigest("sha256:"+artifactHex)); err != nil {
		t.Fatalf("VerifyAttestationAny: %v", err)
	}
}

// TestVerifyAttestationOf: an attestation the policy requires beside the
// provenance passes only when the provenance's signer signed it, for the
// same artifact, and the policy's expressions hold.
func TestVerifyAttestationOf(t *testing.T) {
	ss := newTestSigstore(t)
	f := defaultFacts()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	artifact := verifier.MustParseDigest("sha256:" + artifactHex)
	provenance := ss.sign(t, ss.fulcio, f, ghStatement(t, f, artifactHex, nil))
	spdx := ss.sign(t, ss.fulcio, f, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib", "log4j-core")))
	otherSigner := f
	otherSigner.signer = "https://github.com/acme/build/.github/workflows/other.yml@refs/tags/v1.0.0"
	// Trusted by the policy's signer pattern, but not the provenance's signer.
	sibling := ss.sign(t, ss.fulcio, otherSigner, sbomStatement(t, verifier.PredicateSPDX, artifactHex, spdxDoc("zlib")))
	policy := func(edit func(*verifier.Policy)) *verifier.Policy {
		p := acmePolicy()
		p.Builders[0].Signer = "glob:https://github.com/acme/build/.github/workflows/*.yml@refs/tags/v*"
		p.Attestations.Require = []string{verifier.PredicateSPDX}
		if edit != nil {
			edit(p)
		}
		return p
	}
	cases := []struct {
		name      string
		signed    *signed
		policy    *verifier.Policy
		digest    verifier.Digest
		wantCheck verifier.Check
		wantErr   error
	}{
		{name: "same signer", signed: spdx, policy: policy(nil)},
		{name: "build types were the provenance's to meet", signed: spdx, policy: policy(func(p *verifier.Policy) {
			p.BuildTypes = []string{verifier.BuildTypeGitHubWorkflow}
		})},
		{name: "another trusted signer", signed: sibling, policy: policy(nil), wantCheck: verifier.CheckBuilder, wantErr: verifier.ErrUntrustedBuilder},
		{name: "other artifact", signed: spdx, policy: policy(nil), digest: verifier.MustParseDigest("sha256:" + strings.Repeat("4", 64)),
			wantCheck: verifier.CheckSubject, wantErr: verifier.ErrSubjectMismatch},
		{name: "denied package", signed: spdx, policy: policy(func(p *verifier.Policy) {
			p.Attestations.Expressions = []string{`!statement.predicate.packages.exists(p, p.name == "log4j-core")`}
		}), wantCheck: verifier.CheckPolicyExpression, wantErr: verifier.ErrExpressionFalse},
		{name: "provenance is not the attestation", signed: provenance, policy: policy(nil), wantCheck: verifier.CheckPredicateType, wantErr: verifier.ErrPredicateType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verifier.New(ss, tc.policy, verifier.WithClock(later))
			if err != nil {
				t.Fatal(err)
			}
			if got := v.RequiredAttestations(); len(got) != 1 || got[0] != verifier.PredicateSPDX {
				t.Fatalf("RequiredAttestations = %v", got)
			}
			prov, err := v.Verify(provenance.bundle(t), artifact)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			d := tc.digest
			if d.Algorithm == "" {
				d = artifact
			}
			res, err := v.VerifyAttestationOf(prov, []*bundle.Bundle{tc.signed.bundle(t)}, verifier.PredicateSPDX, d)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyAttestationOf: %v", err)
				}
				if res.Level != prov.Level || res.Identity.SAN != prov.Identity.SAN || res.TrustedBuilder != prov.TrustedBuilder {
					t.Fatalf("result = %+v, provenance %+v", res, prov)
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.wantCheck || !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %s check failing with %v", err, tc.wantCheck, tc.wantErr)
			}
		})
	}
	v, err := verifier.New(ss, policy(nil), verifier.WithClock(later))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyAttestationOf(nil, []*bundle.Bundle{spdx.bundle(t)}, verifier.PredicateSPDX, artifact); err == nil {
		t.Fatal("VerifyAttestationOf without provenance passed")
	}
}

func TestPolicyRequireAttestations(t *testing.T) {
	ss := newTestSigstore(t)
	for _, tc := range []struct {
		require []string
		wantErr string
	}{
		{[]string{verifier.PredicateSPDX, verifier.PredicateCycloneDX}, ""},
		{[]string{verifier.PredicateSLSAv1}, "attestations.require[0]: https://slsa.dev/provenance/v1 is provenance"},
		{[]string{verifier.PredicateSPDX, "spdx"}, `attestations.require[1]: "spdx" is no predicate type URI`},
	} {
		p := acmePolicy()
		p.Attestations.Require = tc.require
		_, err := verifier.New(ss, p)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("require %v: %v", tc.require, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("require %v: err = %v, want %q", tc.require, err, tc.wantErr)
		}
	}
}
