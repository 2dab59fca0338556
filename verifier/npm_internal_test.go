package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

func TestParseNpmSubject(t *testing.T) {
	tests := []struct {
		in, name, version string
		err               bool
	}{
		{in: "pkg:npm/gundam-visor@1.0.1", name: "gundam-visor", version: "1.0.1"},
		{in: "pkg:npm/%40trishankatdatadog/supreme-goggles@1.0.5", name: "@trishankatdatadog/supreme-goggles", version: "1.0.5"},
		{in: "pkg:npm/@scope/name@2.0.0-rc.1", name: "@scope/name", version: "2.0.0-rc.1"},
		{in: "pkg:npm/name@1.0.0+build.5", name: "name", version: "1.0.0+build.5"},
		{in: "pkg:npm/name@1.0.0%2Bbuild.5", name: "name", version: "1.0.0+build.5"},
		{in: "pkg:npm/name", err: true},
		{in: "pkg:npm/name@", err: true},
		{in: "pkg:npm/@1.0.0", err: true},
		{in: "pkg:npm/a@b@c", err: true},
		{in: "pkg:npm/%40scope@1.0.0", err: true},
		{in: "pkg:npm/%40a/b/c@1.0.0", err: true},
		{in: "pkg:npm/name@1.0.0?x=y", err: true},
		{in: "pkg:npm/name@1.0.0#sub", err: true},
		{in: "pkg:npm/na%zzme@1.0.0", err: true},
		{in: "pkg:pypi/name@1.0.0", err: true},
		{in: "name@1.0.0", err: true},
	}
	for _, tt := range tests {
		name, version, err := parseNpmSubject(tt.in)
		if tt.err {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: want ErrMalformed, got %q %q %v", tt.in, name, version, err)
			}
			continue
		}
		if err != nil || name != tt.name || version != tt.version {
			t.Errorf("%s: got %q %q %v, want %q %q", tt.in, name, version, err, tt.name, tt.version)
		}
	}
}

// TestCrossCheckDelegatorV02 edits slsa-github-generator's Node.js builder
// provenance (SLSA v0.2, BYOB) one claim at a time: each claim the
// certificate also records must agree with it.
func TestCrossCheckDelegatorV02(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "realworld", "slsa-verifier", "npm", "gha", "provenance-npm-test-ossf.tgz.json"))
	if err != nil {
		t.Fatal(err)
	}
	att, err := ParseNpmAttestations(data)
	if err != nil {
		t.Fatal(err)
	}
	env, err := att.Provenance.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	summary, err := certificate.SummarizeCertificate(leafCertificate(att.Provenance))
	if err != nil {
		t.Fatal(err)
	}
	if err := normalizeCert(&summary); err != nil {
		t.Fatal(err)
	}
	fresh := func(t *testing.T) (*predicateV02, certFields) {
		st, err := parseStatement(payload, 1, []string{PredicateSLSAv02})
		if err != nil {
			t.Fatal(err)
		}
		return st.v02, summary
	}
	tests := []struct {
		name string
		edit func(p *predicateV02, c *certFields)
		ok   bool
	}{
		{name: "as published", edit: func(*predicateV02, *certFields) {}, ok: true},
		{name: "signer not a delegator", edit: func(_ *predicateV02, c *certFields) {
			c.BuildSignerURI = "https://github.com/laurentsimon/provenance-npm-test/.github/workflows/release-slsa3.yml@refs/heads/main"
		}},
		{name: "delegator at a branch", edit: func(_ *predicateV02, c *certFields) {
			c.BuildSignerURI = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/delegator_lowperms-generic_slsa3.yml@refs/heads/main"
		}},
		{name: "builder at a branch", edit: func(p *predicateV02, _ *certFields) {
			p.Builder.ID = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_nodejs_slsa3.yml@refs/heads/main"
		}},
		{name: "builder without ref", edit: func(p *predicateV02, _ *certFields) {
			p.Builder.ID = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_nodejs_slsa3.yml"
		}},
		{name: "another source", edit: func(p *predicateV02, _ *certFields) {
			p.Invocation.ConfigSource.URI = "git+https://github.com/laurentsimon/other@refs/heads/main"
		}},
		{name: "another commit", edit: func(p *predicateV02, _ *certFields) {
			p.Invocation.ConfigSource.Digest = map[string]string{"sha1": "0000000000000000000000000000000000000000"}
		}},
		{name: "another workflow", edit: func(p *predicateV02, _ *certFields) {
			p.Invocation.ConfigSource.EntryPoint = ".github/workflows/other.yml"
		}},
		{name: "a material more", edit: func(p *predicateV02, _ *certFields) { p.Materials = append(p.Materials, p.Materials[0]) }},
		{name: "no materials", edit: func(p *predicateV02, _ *certFields) { p.Materials = nil }},
		{name: "material of another commit", edit: func(p *predicateV02, _ *certFields) {
			p.Materials = []resourceDescriptor{{URI: p.Materials[0].URI, Digest: map[string]string{"sha1": "0000000000000000000000000000000000000000"}}}
		}},
		{name: "another run", edit: func(p *predicateV02, _ *certFields) { p.Metadata.BuildInvocationID = "1-1" }},
		{name: "another repository recorded", edit: func(p *predicateV02, _ *certFields) {
			p.Invocation.Environment["GITHUB_REPOSITORY"] = "laurentsimon/other"
		}},
		{name: "another event recorded", edit: func(p *predicateV02, _ *certFields) { p.Invocation.Environment["GITHUB_EVENT_NAME"] = "push" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c := fresh(t)
			tt.edit(p, &c)
			known, err := crossCheckDelegatorV02(p, &c)
			if tt.ok {
				if err != nil || !known["inputs"] {
					t.Fatalf("got %v, %v", known, err)
				}
				return
			}
			if !errors.Is(err, ErrPayloadCertificateMismatch) {
				t.Fatalf("want ErrPayloadCertificateMismatch, got %v", err)
			}
		})
	}
}
