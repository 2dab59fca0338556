package verifier_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/verifier"
)

// The npm fixtures are slsa-verifier's (testdata/realworld/slsa-verifier/npm):
// packages published to the npm registry with the npm CLI (SLSA v0.2 and
// v1 provenance) and with slsa-github-generator's Node.js builder (BYOB),
// each with the registry's publish attestation.
const (
	npmCLIv02 = "supreme-googles-cli-v02-tag" // @trishankatdatadog/supreme-goggles@1.0.5
	npmCLIv1  = "gundam-visor-cli-v1-tag"     // gundam-visor@1.0.1
	npmBYOB   = "provenance-npm-test-ossf"    // @laurentsimon/provenance-npm-test@1.0.5
	npmKeysV5 = "../testdata/realworld/keys/npm/registry.npmjs.org-keys-sigstore-tuf-5.0.1.json"
	nodejsTRW = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_nodejs_slsa3.yml"
)

func npmPath(stem string) string {
	return filepath.Join("..", "testdata", "realworld", "slsa-verifier", "npm", "gha", stem+".tgz")
}

// npmFixture returns a fixture's attestations file and its tarball's
// digest.
func npmFixture(t testing.TB, stem string) ([]byte, verifier.Digest) {
	t.Helper()
	att, err := os.ReadFile(npmPath(stem) + ".json")
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := os.ReadFile(npmPath(stem))
	if err != nil {
		t.Fatal(err)
	}
	return att, verifier.SHA512(tgz)
}

func npmKeysFile(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(npmKeysV5)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func publicGoodV5(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "realworld", "trusted-roots", "public-good-sigstore-tuf-5.0.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// newNpmVerifier builds an npm verifier as verify-npm-package does: the
// built-in policy with the flags, the builder id as PolicyBuilderID says.
func newNpmVerifier(t testing.TB, f verifier.Flags, pkg verifier.NpmPackage, keys []byte, clock time.Time) *verifier.NpmVerifier {
	t.Helper()
	id, err := pkg.PolicyBuilderID()
	if err != nil {
		t.Fatal(err)
	}
	f.BuilderID = id
	tr, err := verifier.LoadTrustedRoot(publicGoodV5(t))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(tr, defaultPolicyWith(t, f), verifier.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	k, err := verifier.LoadNpmKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := verifier.NewNpmVerifier(v, k, pkg)
	if err != nil {
		t.Fatal(err)
	}
	return nv
}

// editJSON decodes data, lets edit change it and encodes it again.
func editJSON(t testing.TB, data []byte, edit func(doc map[string]any)) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// attestationsOf returns a fixture's attestations as decoded JSON.
func attestationsOf(t testing.TB, stem string) []any {
	t.Helper()
	data, _ := npmFixture(t, stem)
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc["attestations"].([]any)
}

// byType returns the attestation of the predicate type.
func byType(atts []any, prefix string) map[string]any {
	for _, a := range atts {
		if m := a.(map[string]any); strings.HasPrefix(m["predicateType"].(string), prefix) {
			return m
		}
	}
	return nil
}

func attestationsFile(t testing.TB, atts ...any) []byte {
	t.Helper()
	out, err := json.Marshal(map[string]any{"attestations": atts})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyNpmPackage(t *testing.T) {
	provOf := func(stem string) map[string]any {
		return byType(attestationsOf(t, stem), "https://slsa.dev/provenance/")
	}
	pubOf := func(stem string) map[string]any { return byType(attestationsOf(t, stem), verifier.PredicateNpmPublish) }
	hosted := verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted}
	tests := []struct {
		name    string
		stem    string
		file    []byte // replaces the fixture's attestations file
		digest  string // replaces the tarball's digest
		flags   verifier.Flags
		pkg     verifier.NpmPackage
		keys    func([]byte) []byte
		level   int
		pkgName string
		version string
		check   verifier.Check
		err     error
	}{
		{name: "npm CLI v0.2", stem: npmCLIv02, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted, Name: "@trishankatdatadog/supreme-goggles", Version: "1.0.5"}, level: 2, pkgName: "@trishankatdatadog/supreme-goggles", version: "1.0.5"},
		{name: "npm CLI v0.2 legacy runner id", stem: npmCLIv02, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerLegacy}, level: 2, pkgName: "@trishankatdatadog/supreme-goggles", version: "1.0.5"},
		{name: "npm CLI v1", stem: npmCLIv1, pkg: hosted, level: 2, pkgName: "gundam-visor", version: "1.0.1"},
		{name: "npm CLI v1 with its signer named", stem: npmCLIv1, pkg: hosted, flags: verifier.Flags{SignerWorkflow: "ramonpetgrave64/gundam-visor/.github/workflows/npm-publish.yml@refs/tags/v1.0.1"}, level: 3, pkgName: "gundam-visor", version: "1.0.1"},
		{name: "BYOB Node.js builder", stem: npmBYOB, pkg: verifier.NpmPackage{BuilderID: nodejsTRW, Name: "@laurentsimon/provenance-npm-test"}, level: 3, pkgName: "@laurentsimon/provenance-npm-test", version: "1.0.5"},
		{name: "BYOB builder at its ref", stem: npmBYOB, pkg: verifier.NpmPackage{BuilderID: nodejsTRW + "@v1.6.0"}, level: 3, pkgName: "@laurentsimon/provenance-npm-test", version: "1.0.5"},

		// The builder.
		{name: "legacy runner id for v1", stem: npmCLIv1, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerLegacy}, check: verifier.CheckBuilder, err: verifier.ErrBuilderMismatch},
		{name: "self-hosted runner for a hosted build", stem: npmCLIv1, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerSelfHosted}, check: verifier.CheckBuilder, err: verifier.ErrBuilderMismatch},
		{name: "runner for a BYOB build", stem: npmBYOB, pkg: hosted, check: verifier.CheckBuilder, err: verifier.ErrBuilderMismatch},
		{name: "BYOB builder for an npm CLI build", stem: npmCLIv1, pkg: verifier.NpmPackage{BuilderID: nodejsTRW}, check: verifier.CheckBuilder, err: verifier.ErrBuilderMismatch},
		{name: "BYOB builder at another ref", stem: npmBYOB, pkg: verifier.NpmPackage{BuilderID: nodejsTRW + "@v1.5.0"}, check: verifier.CheckBuilder, err: verifier.ErrBuilderMismatch},
		{name: "a level the runner does not prove", stem: npmCLIv02, pkg: hosted, flags: verifier.Flags{MinLevel: 3}, check: verifier.CheckBuilder, err: verifier.ErrLevelTooLow},

		// The package.
		{name: "wrong name", stem: npmCLIv02, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted, Name: "supreme-goggles"}, check: verifier.CheckPackage, err: verifier.ErrPackageNameMismatch},
		{name: "scope dropped", stem: npmBYOB, pkg: verifier.NpmPackage{BuilderID: nodejsTRW, Name: "provenance-npm-test"}, check: verifier.CheckPackage, err: verifier.ErrPackageNameMismatch},
		{name: "wrong version", stem: npmCLIv1, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted, Version: "1.0.0"}, check: verifier.CheckPackage, err: verifier.ErrPackageVersionMismatch},
		{name: "another tarball", stem: npmCLIv1, digest: "sha512:" + strings.Repeat("ab", 64), pkg: hosted, check: verifier.CheckSubject, err: verifier.ErrSubjectMismatch},
		{name: "a sha256 digest", stem: npmCLIv1, digest: "sha256:" + strings.Repeat("ab", 32), pkg: hosted, check: verifier.CheckInput, err: verifier.ErrMalformed},

		// The publish attestation.
		{name: "another package's publish attestation", stem: npmCLIv1, file: attestationsFile(t, provOf(npmCLIv1), pubOf(npmCLIv02)), pkg: hosted, check: verifier.CheckPublishAttestation, err: verifier.ErrSubjectMismatch},
		{name: "provenance as publish attestation", stem: npmCLIv1, file: attestationsFile(t, provOf(npmCLIv1), map[string]any{"predicateType": verifier.PredicateNpmPublish, "bundle": provOf(npmCLIv1)["bundle"]}), pkg: hosted, check: verifier.CheckPublishAttestation, err: verifier.ErrNpmRegistryKey},
		{name: "publish attestation as provenance", stem: npmCLIv1, file: attestationsFile(t, map[string]any{"predicateType": verifier.PredicateSLSAv1, "bundle": pubOf(npmCLIv1)["bundle"]}, pubOf(npmCLIv1)), pkg: hosted, check: verifier.CheckTlog},
		{name: "provenance listed as another version", stem: npmCLIv1, file: attestationsFile(t, map[string]any{"predicateType": verifier.PredicateSLSAv02, "bundle": provOf(npmCLIv1)["bundle"]}, pubOf(npmCLIv1)), pkg: hosted, check: verifier.CheckStatement, err: verifier.ErrMalformed},
		{name: "registry key unknown", stem: npmCLIv1, pkg: hosted, keys: onlyNewNpmKey, check: verifier.CheckPublishAttestation, err: verifier.ErrNpmRegistryKey},
		{name: "registry key expired before publishing", stem: npmCLIv1, pkg: hosted, keys: npmKeyWindow("2022-12-01T00:00:00Z", "2023-01-01T00:00:00Z"), check: verifier.CheckPublishAttestation, err: verifier.ErrNpmRegistryKey},
		{name: "registry key valid only after publishing", stem: npmCLIv1, pkg: hosted, keys: npmKeyWindow("2025-01-01T00:00:00Z", ""), check: verifier.CheckPublishAttestation, err: verifier.ErrNpmRegistryKey},
		{name: "registry key valid without end", stem: npmCLIv1, pkg: hosted, keys: npmKeyWindow("2022-12-01T00:00:00Z", ""), level: 2, pkgName: "gundam-visor", version: "1.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file, digest := npmFixture(t, tt.stem)
			if tt.file != nil {
				file = tt.file
			}
			if tt.digest != "" {
				digest = verifier.Digest{Algorithm: strings.Split(tt.digest, ":")[0], Hex: strings.Split(tt.digest, ":")[1]}
			}
			keys := npmKeysFile(t)
			if tt.keys != nil {
				keys = tt.keys(keys)
			}
			tt.flags.Source = npmSources[tt.stem]
			nv := newNpmVerifier(t, tt.flags, tt.pkg, keys, fixedNow)
			att, err := verifier.ParseNpmAttestations(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := nv.Verify(att, digest)
			if tt.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				if res.Level != tt.level || res.Name != tt.pkgName || res.Version != tt.version {
					t.Fatalf("level %d, package %s@%s; want %d, %s@%s", res.Level, res.Name, res.Version, tt.level, tt.pkgName, tt.version)
				}
				if res.Registry != "https://registry.npmjs.org" || res.PublishKeyID != "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA" || len(res.PublishTimestamps) == 0 {
					t.Fatalf("publish attestation: registry %q, key %q, %d timestamps", res.Registry, res.PublishKeyID, len(res.PublishTimestamps))
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != tt.check || (tt.err != nil && !errors.Is(err, tt.err)) {
				t.Fatalf("want %s failing with %v, got %v", tt.check, tt.err, err)
			}
		})
	}
}

var npmSources = map[string]string{
	npmCLIv02: "github.com/trishankatdatadog/supreme-goggles",
	npmCLIv1:  "github.com/ramonpetgrave64/gundam-visor",
	npmBYOB:   "github.com/laurentsimon/provenance-npm-test",
}

// onlyNewNpmKey keeps only the registry key of 2025 in keys.json.
func onlyNewNpmKey(data []byte) []byte {
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(data, &doc)
	var keep []map[string]any
	for _, k := range doc.Keys {
		if k["keyId"] != "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA" {
			keep = append(keep, k)
		}
	}
	out, _ := json.Marshal(map[string]any{"keys": keep})
	return out
}

// npmKeyWindow sets the validity of the attestation keys to start..end
// (no end when empty).
func npmKeyWindow(start, end string) func([]byte) []byte {
	return func(data []byte) []byte {
		var doc struct {
			Keys []map[string]any `json:"keys"`
		}
		_ = json.Unmarshal(data, &doc)
		for _, k := range doc.Keys {
			w := map[string]any{"start": start}
			if end != "" {
				w["end"] = end
			}
			k["publicKey"].(map[string]any)["validFor"] = w
		}
		out, _ := json.Marshal(doc)
		return out
	}
}

// TestVerifyNpmPackagePublishedInTheFuture: a publish attestation signed
// after the verifier's clock is refused, even when the provenance, signed
// before it, passes.
func TestVerifyNpmPackagePublishedInTheFuture(t *testing.T) {
	file, digest := npmFixture(t, npmCLIv1)
	att, err := verifier.ParseNpmAttestations(file)
	if err != nil {
		t.Fatal(err)
	}
	pkg := verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted}
	flags := verifier.Flags{Source: npmSources[npmCLIv1]}
	res, err := newNpmVerifier(t, flags, pkg, npmKeysFile(t), fixedNow).Verify(att, digest)
	if err != nil {
		t.Fatal(err)
	}
	signed, published := res.Timestamps[0].Time, res.PublishTimestamps[0].Time
	if !published.After(signed.Add(time.Second)) {
		t.Fatalf("the fixture's publish attestation (%v) is not logged after its provenance (%v)", published, signed)
	}
	between := signed.Add(published.Sub(signed) / 2)
	_, err = newNpmVerifier(t, flags, pkg, npmKeysFile(t), between).Verify(att, digest)
	var ce *verifier.CheckError
	if !errors.As(err, &ce) || ce.Check != verifier.CheckPublishAttestation || !errors.Is(err, verifier.ErrFutureTimestamp) {
		t.Fatalf("want a publish attestation in the future refused, got %v", err)
	}
}

func TestNpmPackagePolicyBuilderID(t *testing.T) {
	tests := []struct {
		id, want string
		err      bool
	}{
		{id: verifier.NpmRunnerGitHubHosted},
		{id: verifier.NpmRunnerSelfHosted},
		{id: verifier.NpmRunnerLegacy},
		{id: nodejsTRW, want: nodejsTRW},
		{id: nodejsTRW + "@v1.6.0", want: nodejsTRW + "@v1.6.0"},
		{id: "", err: true},
		{id: "https://github.com/actions/runner2", err: true},
		{id: "https://github.com/actions/runner/github-hosted2", err: true},
		{id: "https://github.com/actions/runner/github-hosted@v1", err: true},
	}
	for _, tt := range tests {
		got, err := verifier.NpmPackage{BuilderID: tt.id}.PolicyBuilderID()
		if tt.err {
			if !errors.Is(err, verifier.ErrNpmBuilderID) {
				t.Errorf("%q: want ErrNpmBuilderID, got %q, %v", tt.id, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.id, got, err, tt.want)
		}
	}
}

// TestNewNpmVerifierPolicyBuilderID: the policy must have been built with
// the package's PolicyBuilderID, or the runner would be checked as a
// builder at a release tag, and a BYOB builder not at all.
func TestNewNpmVerifierPolicyBuilderID(t *testing.T) {
	tr, err := verifier.LoadTrustedRoot(publicGoodV5(t))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verifier.LoadNpmKeys(npmKeysFile(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		policyID string
		pkg      verifier.NpmPackage
	}{
		{policyID: verifier.NpmRunnerGitHubHosted, pkg: verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted}},
		{policyID: "", pkg: verifier.NpmPackage{BuilderID: nodejsTRW}},
		{policyID: nodejsTRW + "@v1.6.0", pkg: verifier.NpmPackage{BuilderID: nodejsTRW}},
		{policyID: "", pkg: verifier.NpmPackage{}},
	} {
		v, err := verifier.New(tr, defaultPolicyWith(t, verifier.Flags{Source: "github.com/a/b", BuilderID: tt.policyID}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifier.NewNpmVerifier(v, keys, tt.pkg); err == nil {
			t.Errorf("policy builder id %q with --builder-id %q: accepted", tt.policyID, tt.pkg.BuilderID)
		}
	}
}

func TestParseNpmAttestations(t *testing.T) {
	valid, _ := npmFixture(t, npmCLIv1)
	atts := attestationsOf(t, npmCLIv1)
	prov, pub := byType(atts, "https://slsa.dev/provenance/"), byType(atts, verifier.PredicateNpmPublish)
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		out[k] = v
		return out
	}
	tests := []struct {
		name string
		data []byte
		err  error // nil: parses
	}{
		{name: "registry file", data: valid},
		{name: "either order", data: attestationsFile(t, pub, prov)},
		{name: "too large", data: append(append([]byte(`{"attestations":[],"x":"`), make([]byte, verifier.MaxNpmAttestationsSize)...), `"}`...), err: verifier.ErrTooLarge},
		{name: "not JSON", data: []byte("attestations"), err: verifier.ErrMalformed},
		{name: "trailing data", data: append(append([]byte(nil), valid...), "{}"...), err: verifier.ErrMalformed},
		{name: "key twice", data: []byte(`{"attestations":[],"attestations":[]}`), err: verifier.ErrMalformed},
		{name: "another top-level field", data: editJSON(t, valid, func(d map[string]any) { d["extra"] = true }), err: verifier.ErrMalformed},
		{name: "key in another case", data: []byte(strings.Replace(string(valid), `"attestations"`, `"Attestations"`, 1)), err: verifier.ErrMalformed},
		{name: "not a list", data: []byte(`{"attestations":{}}`), err: verifier.ErrMalformed},
		{name: "another field in an attestation", data: attestationsFile(t, with(prov, "extra", 1), pub), err: verifier.ErrMalformed},
		{name: "bundle not an object", data: attestationsFile(t, with(prov, "bundle", "x"), pub), err: verifier.ErrMalformed},
		{name: "predicate type not a string", data: attestationsFile(t, with(prov, "predicateType", 1), pub), err: verifier.ErrMalformed},
		{name: "unknown predicate type", data: attestationsFile(t, prov, pub, with(pub, "predicateType", "https://github.com/npm/attestation/tree/main/specs/publish/v0.2")), err: verifier.ErrMalformed},
		{name: "two provenances", data: attestationsFile(t, prov, pub, prov), err: verifier.ErrMalformed},
		{name: "two publish attestations", data: attestationsFile(t, prov, pub, pub), err: verifier.ErrMalformed},
		{name: "no publish attestation", data: attestationsFile(t, prov), err: verifier.ErrMalformed},
		{name: "no provenance", data: attestationsFile(t, pub), err: verifier.ErrMalformed},
		{name: "empty", data: []byte(`{"attestations":[]}`), err: verifier.ErrMalformed},
		{name: "a bundle that does not parse", data: attestationsFile(t, with(prov, "bundle", map[string]any{"mediaType": "x"}), pub), err: verifier.ErrMalformed},
		{name: "too many", data: attestationsFile(t, repeat(pub, 17)...), err: verifier.ErrTooLarge},
		{name: "nested too deep", data: []byte(`{"attestations":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), err: verifier.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := verifier.ParseNpmAttestations(tt.data)
			if tt.err == nil {
				if err != nil || a.Provenance == nil || a.Publish == nil || a.ProvenanceType != verifier.PredicateSLSAv1 {
					t.Fatalf("got %+v, %v", a, err)
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != verifier.CheckInput || !errors.Is(err, tt.err) {
				t.Fatalf("want an input failure with %v, got %v", tt.err, err)
			}
		})
	}
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestLoadNpmKeys(t *testing.T) {
	valid := npmKeysFile(t)
	editKey := func(i int, edit func(k map[string]any)) []byte {
		return editJSON(t, valid, func(d map[string]any) { edit(d["keys"].([]any)[i].(map[string]any)) })
	}
	pub := func(k map[string]any) map[string]any { return k["publicKey"].(map[string]any) }
	const p384 = "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAECiKOCUSdLMd2B1dY+92gKeEVJ9ZHEhGjO9706uXCN6sqgSVZPYpreO+ZD7aVVpCq/i+Ktbpjvw1jFmrvlSUa7ZWRLHrJqRzVgci02fkUYYCjeVPtu59ShL8UJC4/OEKw"
	tests := []struct {
		name string
		data []byte
		err  error // nil: loads
	}{
		{name: "keys.json of @sigstore/tuf 5.0.1", data: valid},
		{name: "signature keys only", data: editJSON(t, valid, func(d map[string]any) {
			for _, k := range d["keys"].([]any) {
				k.(map[string]any)["keyUsage"] = "npm:signatures"
			}
		}), err: verifier.ErrMalformed},
		{name: "unknown field", data: editKey(1, func(k map[string]any) { k["extra"] = 1 }), err: verifier.ErrMalformed},
		{name: "key id of another key", data: editKey(1, func(k map[string]any) { k["keyId"] = "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U" }), err: verifier.ErrMalformed},
		{name: "key listed twice", data: editJSON(t, valid, func(d map[string]any) {
			ks := d["keys"].([]any)
			d["keys"] = append(ks, ks[1])
		}), err: verifier.ErrMalformed},
		{name: "key details of another curve", data: editKey(1, func(k map[string]any) { pub(k)["keyDetails"] = "PKIX_ECDSA_P384_SHA_384" }), err: verifier.ErrMalformed},
		{name: "a P-384 key called P-256", data: editKey(1, func(k map[string]any) { pub(k)["rawBytes"] = p384 }), err: verifier.ErrMalformed},
		{name: "unknown key type", data: editKey(1, func(k map[string]any) { pub(k)["keyDetails"] = "PKIX_RSA_PKCS1V15_2048_SHA256" }), err: verifier.ErrMalformed},
		{name: "not base64", data: editKey(1, func(k map[string]any) { pub(k)["rawBytes"] = "!!" }), err: verifier.ErrMalformed},
		{name: "not a key", data: editKey(1, func(k map[string]any) { pub(k)["rawBytes"] = "AAAA" }), err: verifier.ErrMalformed},
		{name: "no start", data: editKey(1, func(k map[string]any) { pub(k)["validFor"] = map[string]any{} }), err: verifier.ErrMalformed},
		{name: "ends before it starts", data: editKey(1, func(k map[string]any) {
			pub(k)["validFor"] = map[string]any{"start": "2024-01-01T00:00:00Z", "end": "2023-01-01T00:00:00Z"}
		}), err: verifier.ErrMalformed},
		{name: "key twice in JSON", data: []byte(`{"keys":[],"keys":[]}`), err: verifier.ErrMalformed},
		{name: "too large", data: make([]byte, verifier.MaxNpmKeysSize+1), err: verifier.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verifier.LoadNpmKeys(tt.data)
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("want %v, got %v", tt.err, err)
			}
		})
	}
}

func ExampleNpmVerifier_Verify() {
	dir := filepath.Join("..", "testdata", "realworld")
	trustedRoot, _ := os.ReadFile(filepath.Join(dir, "trusted-roots", "public-good-sigstore-tuf-5.0.1.json"))
	keysJSON, _ := os.ReadFile(filepath.Join(dir, "keys", "npm", "registry.npmjs.org-keys-sigstore-tuf-5.0.1.json"))
	attestations, _ := os.ReadFile(filepath.Join(dir, "slsa-verifier", "npm", "gha", "gundam-visor-cli-v1-tag.tgz.json"))
	tarball, _ := os.ReadFile(filepath.Join(dir, "slsa-verifier", "npm", "gha", "gundam-visor-cli-v1-tag.tgz"))

	// verify-npm-package --builder-id https://github.com/actions/runner/github-hosted
	//   --source-uri github.com/ramonpetgrave64/gundam-visor --package-name gundam-visor
	pkg := verifier.NpmPackage{BuilderID: verifier.NpmRunnerGitHubHosted, Name: "gundam-visor"}
	builderID, err := pkg.PolicyBuilderID() // none: the runner names no builder
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, _ := verifier.DefaultPolicyWith(verifier.Flags{Source: "github.com/ramonpetgrave64/gundam-visor", BuilderID: builderID})
	tr, _ := verifier.LoadTrustedRoot(trustedRoot)
	v, _ := verifier.New(tr, policy, verifier.WithClock(func() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }))
	keys, _ := verifier.LoadNpmKeys(keysJSON)
	nv, err := verifier.NewNpmVerifier(v, keys, pkg)
	if err != nil {
		fmt.Println(err)
		return
	}
	att, err := verifier.ParseNpmAttestations(attestations)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := nv.Verify(att, verifier.SHA512(tarball))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s@%s: SLSA build level %d, built by %s, published by %s\n", res.Name, res.Version, res.Level, res.BuilderID, res.Registry)
	// Output: gundam-visor@1.0.1: SLSA build level 2, built by https://github.com/actions/runner/github-hosted, published by https://registry.npmjs.org
}
