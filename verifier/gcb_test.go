package verifier_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/verifier"
)

// Image digests of the Cloud Build fixtures (their image_summary.digest).
const (
	gcbImageV1     = "sha256:7e9b6e7ba2842c91cf49f3e214d04a7a496f8214356f41d81a6e6dcad11f11e3"
	gcbImageV03    = "sha256:f472ca4b68898c951ac3b476cba919d0d56fca4ced631fabcead51e4b2b690e7"
	gcbImageGit    = "sha256:2476c2e19b1459b0a0a6d3d214f96f0a0bf4d2071584b8feeebf51a68168bff2"
	gcbImagePAE    = "sha256:f54a58bc1aac5ea1a25d796ae155dc228b3f0e11d046ae276b39c4bf2f13d8c4"
	gcbImageV02    = "sha256:1a033b002f89ed2b8ea733162497fb70f1a4049a7f8602d6a33682b4ad9921fd"
	gcbKeyV1Global = verifier.GCBSignerScheme + "projects/verified-builder/locations/global/keyRings/attestor/cryptoKeys/google-hosted-worker/cryptoKeyVersions/1"
)

// realGCBKeys are the Cloud Build attestor keys slsa-verifier v2.7.1 ships.
func realGCBKeys(t testing.TB) *verifier.GCBKeys {
	t.Helper()
	return gcbKeysFromDir(t, filepath.Join("..", "testdata", "realworld", "keys", "gcb"))
}

// gcbKeysFromDir loads a folder of Cloud Build attestor keys, as
// verify-image --gcb-keys does.
func gcbKeysFromDir(t testing.TB, dir string) *verifier.GCBKeys {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	keys, err := verifier.LoadGCBKeys(files)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func readGCB(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "gcb", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustDigest(t testing.TB, s string) verifier.Digest {
	t.Helper()
	d, err := verifier.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// verifyGCB verifies gcloud's JSON for image under the built-in policy
// with the flags.
func verifyGCB(t testing.TB, keys *verifier.GCBKeys, data []byte, image string, f verifier.Flags) (*verifier.Result, error) {
	t.Helper()
	p, err := verifier.DefaultPolicyWith(f)
	if err != nil {
		return nil, err
	}
	return verifyGCBPolicy(t, keys, data, image, p)
}

func verifyGCBPolicy(t testing.TB, keys *verifier.GCBKeys, data []byte, image string, p *verifier.Policy) (*verifier.Result, error) {
	t.Helper()
	var opts []verifier.Option
	if p.Source == "" {
		opts = append(opts, verifier.WithoutSourceUnsafe())
	}
	v, err := verifier.NewGCB(keys, p, append(opts, verifier.WithClock(fixedClock))...)
	if err != nil {
		t.Fatalf("NewGCB: %v", err)
	}
	prov, err := verifier.ParseGCBProvenance(data)
	if err != nil {
		return nil, err
	}
	return v.Verify(prov, mustDigest(t, image))
}

// wantGCB asserts a verdict: nil wantErr is an accept at level 3 by the
// built-in Cloud Build entry.
func wantGCB(t *testing.T, res *verifier.Result, err error, wantErr error, check verifier.Check) {
	t.Helper()
	if wantErr == nil {
		if err != nil {
			t.Fatalf("want accept, got %v", err)
		}
		if res.Level != 3 || res.TrustedBuilder != "google-cloud-build" {
			t.Errorf("level %d from %q, want 3 from google-cloud-build", res.Level, res.TrustedBuilder)
		}
		return
	}
	var ce *verifier.CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *CheckError wrapping %v, got %v", wantErr, err)
	}
	if !errors.Is(err, wantErr) || ce.Check != check {
		t.Fatalf("want %s: %v, got %s: %v", check, wantErr, ce.Check, err)
	}
}

// TestGCBRealProvenance verifies slsa-verifier's own Cloud Build fixtures
// (verifiers/internal/gcb/testdata). Its tests state the verdicts named in
// each case; those run a single check on a statement set without its
// signature (setStatement), so where a fixture's signature does not verify
// the verdict here is the signature's.
func TestGCBRealProvenance(t *testing.T) {
	keys := realGCBKeys(t)
	const prodProv = "github.com/khalkie/gcb-prod-prov"
	cases := []struct {
		name, file, image string
		flags             verifier.Flags
		err               error
		check             verifier.Check
		builder, ref      string
	}{
		// Test_VerifySignature, Test_VerifyBuilder, Test_VerifySourceURI:
		// SLSA v1.0 with the google-hosted-worker key.
		{name: "v1.0 with a v0.1 entry", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv, BuilderID: verifier.GCBBuilderID}, builder: verifier.GCBBuilderID, ref: "refs/heads/main"},
		{name: "v1.0 single entry", file: "v1.0-gcloud-container-github-single.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, builder: verifier.GCBBuilderID},
		{name: "v1.0 entry only valid", file: "v1.0-gcloud-container-github-v1.0-valid.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, builder: verifier.GCBBuilderID},
		{name: "v0.1 entry only valid", file: "v1.0-gcloud-container-github-v0.1-valid.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, builder: verifier.GCBBuilderID + "@v0.3"},
		{name: "v1.0 gitlab enterprise", file: "v1.0-gcloud-container-gitlabent.json", image: gcbImageV1,
			flags: verifier.Flags{Source: "https://gle-us-central1.gcb-test.com/proctorprober/khalk-slsav1"}, builder: verifier.GCBBuilderID},
		{name: "v1.0 invalid signature", file: "v1.0-gcloud-container-github-single-invalid-sig.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, err: verifier.ErrNoTrustedSignature, check: verifier.CheckSignature},
		{name: "v1.0 and v0.1 invalid signatures", file: "v1.0-gcloud-container-github-both-invalid-sig.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, err: verifier.ErrNoTrustedSignature, check: verifier.CheckSignature},
		{name: "v1.0 mismatch builder name", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv, BuilderID: "https://cloudbuild.googleapis.com/GoogleHostedWorke"}, err: verifier.ErrBuilderMismatch, check: verifier.CheckBuilder},
		{name: "v1.0 source with a ref", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv + "@refs/heads/main"}, err: verifier.ErrSourceMismatch, check: verifier.CheckSource},
		// Test_VerifyBranch: slsa-verifier does not support branches.
		{name: "v1.0 branch", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv, SourceBranch: "main"}, err: verifier.ErrNotApplicable, check: verifier.CheckRef},
		// Test_VerifyTag "v1.0 tag not present".
		{name: "v1.0 tag not present", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv, SourceTag: "v34.0.4"}, err: verifier.ErrTagMismatch, check: verifier.CheckRef},
		{name: "v1.0 versioned tag not present", file: "v1.0-gcloud-container-github.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv, SourceVersionedTag: "v34"}, err: verifier.ErrVersionedTagMismatch, check: verifier.CheckRef},
		// Test_VerifyMetadata "v1.0 invalid kind".
		{name: "v1.0 invalid kind", file: "v1.0-gcloud-container-github-invalid-kind.json", image: gcbImageV1,
			flags: verifier.Flags{Source: prodProv}, err: verifier.ErrMalformed, check: verifier.CheckInput},
		// Test_VerifySubjectDigest, Test_VerifyMetadata, Test_VerifySummary: another image.
		{name: "v1.0 another image", file: "v1.0-gcloud-container-github.json", image: gcbImageV03,
			flags: verifier.Flags{Source: prodProv}, err: verifier.ErrSubjectMismatch, check: verifier.CheckSubject},
		{name: "fully qualified digest of another image", file: "gcloud-container-invalid-fullyqualifieddigest.json", image: gcbImageV02,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrSubjectMismatch, check: verifier.CheckSubject},
		// The global provenanceSigner key, over DSSE's PAE.
		{name: "v0.1 global PAE key", file: "gcloud-container-global-pae-signing-key-successful.json", image: gcbImagePAE,
			flags: verifier.Flags{Source: "github.com/khalkie/gcb-repo-staging", BuilderID: verifier.GCBBuilderID + "@v0.3"}, builder: verifier.GCBBuilderID + "@v0.3"},
		{name: "v0.1 global PAE key invalid", file: "gcloud-container-invalid-signature-global-pae-key.json", image: gcbImagePAE,
			flags: verifier.Flags{Source: "github.com/khalkie/gcb-repo-staging"}, err: verifier.ErrNoTrustedSignature, check: verifier.CheckSignature},
		// Test_VerifySourceURI "v0.3 valid gcb provenance with git prefix".
		{name: "v0.3 git+ material and tag", file: "gcloud-container-github-v03-git.json", image: gcbImageGit,
			flags: verifier.Flags{Source: "github.com/slsa-framework/example-package", SourceVersionedTag: "v33.0"}, builder: verifier.GCBBuilderID + "@v0.3", ref: "refs/tags/v33.0.3"},
		{name: "v0.3 builder at v0.2", file: "gcloud-container-github-v03-git.json", image: gcbImageGit,
			flags: verifier.Flags{Source: "github.com/slsa-framework/example-package", BuilderID: verifier.GCBBuilderID + "@v0.2"}, err: verifier.ErrBuilderMismatch, check: verifier.CheckBuilder},
		{name: "v0.3 builder as a git ref", file: "gcloud-container-github-v03-git.json", image: gcbImageGit,
			flags: verifier.Flags{Source: "github.com/slsa-framework/example-package", BuilderID: verifier.GCBBuilderID + "@refs/tags/v0.3"}, err: verifier.ErrBuilderMismatch, check: verifier.CheckBuilder},
		{name: "v0.3 builder over http", file: "gcloud-container-github-v03-git.json", image: gcbImageGit,
			flags: verifier.Flags{Source: "github.com/slsa-framework/example-package", BuilderID: "http://cloudbuild.googleapis.com/GoogleHostedWorker@v0.3"}, err: verifier.ErrBuilderMismatch, check: verifier.CheckBuilder},
		// Test_VerifySignature "invalid signature" (payload type), Test_ProvenanceFromBytes.
		{name: "payload type", file: "gcloud-container-invalid-signature-payloadtype.json", image: gcbImageV02,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrMalformed, check: verifier.CheckInput},
		{name: "empty payload", file: "gcloud-container-empty-payload.json", image: gcbImageV03,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrMalformed, check: verifier.CheckInput},
		{name: "payload encoding", file: "gcloud-container-invalid-payload-encoding.json", image: gcbImageV03,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrMalformed, check: verifier.CheckInput},
		{name: "no provenance", file: "gcloud-container-no-provenance.json", image: gcbImageV03,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrMalformed, check: verifier.CheckInput},
		{name: "provenance not a list", file: "gcloud-container-empty-provenance.json", image: gcbImageV03,
			flags: verifier.Flags{Source: "github.com/laurentsimon/gcb-tests"}, err: verifier.ErrMalformed, check: verifier.CheckInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := verifyGCB(t, keys, readGCB(t, tc.file), tc.image, tc.flags)
			wantGCB(t, res, err, tc.err, tc.check)
			if tc.err != nil {
				return
			}
			if res.BuilderID != tc.builder {
				t.Errorf("builder %s, want %s", res.BuilderID, tc.builder)
			}
			if got := res.Identity.Extensions.SourceRepositoryRef; tc.ref != "" && got != tc.ref {
				t.Errorf("ref %q, want %q", got, tc.ref)
			}
			if !strings.HasPrefix(res.Identity.SAN, verifier.GCBSignerScheme+"projects/verified-builder/") {
				t.Errorf("signer %q is not a Cloud Build attestor key", res.Identity.SAN)
			}
			if res.Statement == nil || len(res.Subjects) == 0 || len(res.Payload) == 0 {
				t.Error("result lacks the verified statement")
			}
		})
	}
}

// TestGCBResult checks what a verified SLSA v1.0 provenance reports.
func TestGCBResult(t *testing.T) {
	res, err := verifyGCB(t, realGCBKeys(t), readGCB(t, "v1.0-gcloud-container-github-single.json"), gcbImageV1, verifier.Flags{Source: "github.com/khalkie/gcb-prod-prov"})
	if err != nil {
		t.Fatal(err)
	}
	ext := res.Identity.Extensions
	got := []string{res.PredicateType, res.BuildType, res.Identity.SAN, ext.SourceRepositoryURI, ext.SourceRepositoryRef, ext.SourceRepositoryDigest}
	want := []string{verifier.PredicateSLSAv1, verifier.BuildTypeGCB, gcbKeyV1Global, "https://github.com/khalkie/gcb-prod-prov", "refs/heads/main", "2ce3f90facdb51aeb950d5bc641e981be61fdf48"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result field %d: %q, want %q", i, got[i], want[i])
		}
	}
	if len(res.Timestamps) != 0 {
		t.Errorf("timestamps %v: Cloud Build records no verifiable signing time", res.Timestamps)
	}
}

// TestGCBTrust: the trust rule for Cloud Build. The built-in policy names
// the hosted workers; a policy file trusts them only through an entry of
// its own; expectations of another kind of signer fail.
func TestGCBTrust(t *testing.T) {
	keys := realGCBKeys(t)
	data := readGCB(t, "v1.0-gcloud-container-github.json")
	const src = "github.com/khalkie/gcb-prod-prov"
	load := func(t *testing.T, yaml string) *verifier.Policy {
		t.Helper()
		p, err := verifier.LoadPolicy([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const head = "issuers: [https://token.actions.githubusercontent.com]\nsource: " + src + "\n"
	cases := []struct {
		name   string
		policy func(*testing.T) *verifier.Policy
		level  int
		err    error
		check  verifier.Check
	}{
		{name: "built-in policy, no builder named", policy: func(t *testing.T) *verifier.Policy { return defaultPolicyWith(t, verifier.Flags{Source: src}) }, level: 3},
		{name: "policy file without a Cloud Build entry", policy: func(t *testing.T) *verifier.Policy {
			return load(t, head+"builders: [{name: hallmark, signer: 'glob:https://github.com/hallmark-dev/**', maxLevel: 3}]\n")
		}, err: verifier.ErrUntrustedBuilder, check: verifier.CheckBuilder},
		{name: "policy file naming the v1.0 worker at level 2", policy: func(t *testing.T) *verifier.Policy {
			return load(t, head+"builders: [{name: gcb, id: https://cloudbuild.googleapis.com/GoogleHostedWorker, maxLevel: 2}]\n")
		}, level: 2},
		{name: "policy file entry for one key only", policy: func(t *testing.T) *verifier.Policy {
			return load(t, head+"builders: [{name: gcb-global, signer: '"+gcbKeyV1Global+"', maxLevel: 3}]\n")
		}, level: 3},
		{name: "policy file entry for another key", policy: func(t *testing.T) *verifier.Policy {
			return load(t, head+"builders: [{name: gcb-us, signer: 'glob:gcpkms://projects/verified-builder/locations/us-*/**', maxLevel: 3}]\n")
		}, err: verifier.ErrUntrustedBuilder, check: verifier.CheckBuilder},
		{name: "level below the minimum", policy: func(t *testing.T) *verifier.Policy {
			return load(t, head+"minLevel: 3\nbuilders: [{name: gcb, id: 'glob:https://cloudbuild.googleapis.com/GoogleHostedWorker*', maxLevel: 2}]\n")
		}, err: verifier.ErrLevelTooLow, check: verifier.CheckBuilder},
		{name: "SLSA v0.2 only", policy: func(t *testing.T) *verifier.Policy {
			p := defaultPolicyWith(t, verifier.Flags{Source: src})
			p.PredicateTypes = []string{verifier.PredicateSLSAv02}
			return p
		}, err: verifier.ErrPredicateType, check: verifier.CheckPredicateType},
		{name: "build types", policy: func(t *testing.T) *verifier.Policy {
			p := defaultPolicyWith(t, verifier.Flags{Source: src})
			p.BuildTypes = []string{verifier.BuildTypeGitHubWorkflow}
			return p
		}, err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "expected external parameter", policy: func(t *testing.T) *verifier.Policy {
			p := defaultPolicyWith(t, verifier.Flags{Source: src, BuilderID: verifier.GCBBuilderID})
			p.ExternalParameters = map[string]any{"substitutions": map[string]any{}}
			p.StrictExternalParameters = true
			return p
		}, err: verifier.ErrUnknownExternalParameter, check: verifier.CheckExternalParameters},
		{name: "expression", policy: func(t *testing.T) *verifier.Policy {
			p := defaultPolicyWith(t, verifier.Flags{Source: src})
			p.Expressions = []string{`statement.predicate.runDetails.builder.id == "https://cloudbuild.googleapis.com/GoogleHostedWorker"`}
			return p
		}, level: 3},
		{name: "false expression", policy: func(t *testing.T) *verifier.Policy {
			p := defaultPolicyWith(t, verifier.Flags{Source: src})
			p.Expressions = []string{`statement.subject.size() > 5`}
			return p
		}, err: verifier.ErrExpressionFalse, check: verifier.CheckPolicyExpression},
	}
	for _, f := range []struct {
		name  string
		flags verifier.Flags
	}{
		{"cert identity", verifier.Flags{CertIdentity: "https://github.com/a/b/.github/workflows/c.yml@refs/heads/main"}},
		{"cert identity regex", verifier.Flags{CertIdentityRegex: "^https://github.com/"}},
		{"cert oidc issuer", verifier.Flags{CertOIDCIssuer: verifier.GitHubIssuer}},
		{"signer workflow", verifier.Flags{SignerWorkflow: "khalkie/gcb-prod-prov/.github/workflows/x.yml"}},
		{"signer repo", verifier.Flags{SignerRepo: "khalkie/gcb-prod-prov"}},
		{"owner", verifier.Flags{Owner: "khalkie"}},
		{"deny self-hosted runners", verifier.Flags{DenySelfHostedRunners: true}},
		{"spiffe id", verifier.Flags{SPIFFEIDs: []string{"spiffe://example.org/builder"}}},
		{"workflow inputs", verifier.Flags{WorkflowInputs: map[string]string{"a": "b"}}},
	} {
		cases = append(cases, struct {
			name   string
			policy func(*testing.T) *verifier.Policy
			level  int
			err    error
			check  verifier.Check
		}{name: f.name + " does not apply", policy: func(t *testing.T) *verifier.Policy {
			flags := f.flags
			flags.Source = src
			return defaultPolicyWith(t, flags)
		}, err: verifier.ErrNotApplicable, check: verifier.CheckIdentity})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := verifyGCBPolicy(t, keys, data, gcbImageV1, tc.policy(t))
			if tc.err != nil {
				wantGCB(t, res, err, tc.err, tc.check)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != tc.level {
				t.Errorf("level %d, want %d", res.Level, tc.level)
			}
		})
	}
}

// TestGCBSources: the --source-uri forms slsa-verifier accepts for each
// builder version (Test_VerifySourceURI), on real provenance.
func TestGCBSources(t *testing.T) {
	keys := realGCBKeys(t)
	m, err := realworld.Load(filepath.Join("..", "testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	corpus := func(name string) []byte {
		data, err := os.ReadFile(m.Path("slsa-verifier/gcb_container/" + name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	const gcs = "gs://slsa-tooling_cloudbuild/source/1663616632.078353-fc7db143dcc64b5f9fe71d0497125ca1.tgz"
	cases := []struct {
		name, file, image, source string
		ok                        bool
	}{
		{"v0.2 repository", "v0.2/gcloud-container-github.json", gcbImageV02, "github.com/laurentsimon/gcb-tests", true},
		{"v0.2 with https", "v0.2/gcloud-container-github.json", gcbImageV02, "https://github.com/laurentsimon/gcb-tests", true},
		{"v0.2 with git+https", "v0.2/gcloud-container-github.json", gcbImageV02, "git+https://github.com/laurentsimon/gcb-tests", true},
		{"v0.2 another name", "v0.2/gcloud-container-github.json", gcbImageV02, "github.com/laurentsimon/gcb-tests2", false},
		{"v0.2 full commit uri", "v0.2/gcloud-container-github.json", gcbImageV02, "github.com/laurentsimon/gcb-tests/commit/fbbb98765e85ad464302dc5977968104d36e455e", false},
		{"v0.3 repository", "v0.3/gcloud-container-github.json", gcbImageV03, "github.com/laurentsimon/gcb-tests", true},
		{"v0.3 v0.2's commit form", "v0.3/gcloud-container-github.json", gcbImageV03, "github.com/laurentsimon/gcb-tests/commit/01ce393d04eb6df2a7b2b3e95d4126e687afb7ae", false},
		{"v0.3 another host", "v0.3/gcloud-container-github.json", gcbImageV03, "gitlab.com/laurentsimon/gcb-tests", false},
		{"gcs object", "v0.3/gcloud-container-gcs.json", "sha256:71efcbb3f03f5914dcde87e38d3813f63982b475f76887babf25f76fff760d3c", gcs, true},
		{"gcs folder", "v0.3/gcloud-container-gcs.json", "sha256:71efcbb3f03f5914dcde87e38d3813f63982b475f76887babf25f76fff760d3c", "gs://slsa-tooling_cloudbuild/source", false},
		{"gcs another bucket", "v0.3/gcloud-container-gcs.json", "sha256:71efcbb3f03f5914dcde87e38d3813f63982b475f76887babf25f76fff760d3c", strings.Replace(gcs, "tooling", "toolings", 1), false},
		{"gcs as https", "v0.3/gcloud-container-gcs.json", "sha256:71efcbb3f03f5914dcde87e38d3813f63982b475f76887babf25f76fff760d3c", "https://" + strings.TrimPrefix(gcs, "gs://"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyGCB(t, keys, corpus(tc.file), tc.image, verifier.Flags{Source: tc.source})
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, verifier.ErrSourceMismatch) {
				t.Fatalf("want ErrSourceMismatch, got %v", err)
			}
		})
	}
	// A generation (#...) is part of what Cloud Build records, never of
	// what the verifying user names.
	if _, err := verifier.DefaultPolicyWith(verifier.Flags{Source: gcs + "#1663616632"}); err == nil {
		t.Error("a gs:// source with a generation was accepted")
	}
}

// TestLoadGCBKeys: key files are named as slsa-verifier ships them, and
// anything else is refused.
func TestLoadGCBKeys(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("..", "testdata", "realworld", "keys", "gcb", "us-west2.key"))
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := []byte("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\nkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\ncKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\nmwIDAQAB\n-----END PUBLIC KEY-----\n")
	cases := []struct {
		name  string
		files map[string][]byte
		ok    bool
	}{
		{"regional", map[string][]byte{"us-west2.key": real}, true},
		{"pem suffix", map[string][]byte{"us-west2.pem": real}, true},
		{"none", map[string][]byte{}, false},
		{"unknown suffix", map[string][]byte{"us-west2.txt": real}, false},
		{"path in name", map[string][]byte{"../us-west2.key": real}, false},
		{"uppercase region", map[string][]byte{"US-west2.key": real}, false},
		{"one key twice", map[string][]byte{"us-west2.key": real, "us-west2.pem": real}, false},
		{"not PEM", map[string][]byte{"us-west2.key": []byte("MFkwEwYH")}, false},
		{"two PEM blocks", map[string][]byte{"us-west2.key": append(append([]byte{}, real...), real...)}, false},
		{"RSA key", map[string][]byte{"us-west2.key": rsaPEM}, false},
		{"too large", map[string][]byte{"us-west2.key": append([]byte(strings.Repeat(" ", 70<<10)), real...)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier.LoadGCBKeys(tc.files)
			if tc.ok != (err == nil) {
				t.Fatalf("ok %v, got %v", tc.ok, err)
			}
		})
	}
	if _, err := verifier.NewGCB(nil, verifier.DefaultPolicy()); err == nil {
		t.Error("NewGCB without keys")
	}
	keys := realGCBKeys(t)
	if _, err := verifier.NewGCB(keys, verifier.DefaultPolicy()); !errors.Is(err, verifier.ErrNoSourceExpectation) {
		t.Errorf("NewGCB without a source: %v", err)
	}
	if _, err := verifier.NewGCB(keys, verifier.DefaultPolicy(), verifier.WithoutSourceUnsafe(), verifier.WithSPIFFEBundles()); err == nil {
		t.Error("NewGCB with SPIFFE bundles")
	}
}

// TestParseGCBProvenance: gcloud's JSON is read strictly and within limits.
func TestParseGCBProvenance(t *testing.T) {
	valid := readGCB(t, "v1.0-gcloud-container-github-single.json")
	var doc map[string]any
	if err := json.Unmarshal(valid, &doc); err != nil {
		t.Fatal(err)
	}
	with := func(f func(doc, entry map[string]any)) []byte {
		d := deepCopy(t, doc)
		e := d["provenance_summary"].(map[string]any)["provenance"].([]any)[0].(map[string]any)
		f(d, e)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		err  error
	}{
		{"too large", append(valid, []byte(strings.Repeat(" ", verifier.MaxGCBProvenanceSize))...), verifier.ErrTooLarge},
		{"not an object", []byte(`[]`), verifier.ErrMalformed},
		{"trailing data", append(append([]byte{}, valid...), []byte(`{}`)...), verifier.ErrMalformed},
		{"duplicate key", []byte(strings.Replace(string(valid), `"image_summary": {`, `"image_summary": {"digest": "sha256:00", `, 1)), verifier.ErrMalformed},
		{"keys equal under case folding", []byte(strings.Replace(string(valid), `"image_summary": {`, `"image_summary": {"Digest": "x", `, 1)), verifier.ErrMalformed},
		{"invalid UTF-8", append([]byte{0xff}, valid...), verifier.ErrMalformed},
		{"digest not a string", with(func(d, _ map[string]any) { d["image_summary"].(map[string]any)["digest"] = 1 }), verifier.ErrMalformed},
		{"signatures not a list", with(func(_, e map[string]any) { e["envelope"].(map[string]any)["signatures"] = "x" }), verifier.ErrMalformed},
		{"keyid not a string", with(func(_, e map[string]any) {
			e["envelope"].(map[string]any)["signatures"] = []any{map[string]any{"keyid": 1, "sig": "x"}}
		}), verifier.ErrMalformed},
		{"too many signatures", with(func(_, e map[string]any) {
			var sigs []any
			for range verifier.MaxGCBSignatures + 1 {
				sigs = append(sigs, map[string]any{"keyid": "k", "sig": "AA=="})
			}
			e["envelope"].(map[string]any)["signatures"] = sigs
		}), verifier.ErrTooLarge},
		{"too many entries", with(func(d, e map[string]any) {
			var list []any
			for range verifier.MaxGCBProvenances + 1 {
				list = append(list, e)
			}
			d["provenance_summary"].(map[string]any)["provenance"] = list
		}), verifier.ErrTooLarge},
		{"nested too deep", with(func(_, e map[string]any) {
			var v any = "x"
			for range 70 {
				v = []any{v}
			}
			e["build"].(map[string]any)["deep"] = v
		}), verifier.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifier.ParseGCBProvenance(tc.data)
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != verifier.CheckInput || !errors.Is(err, tc.err) {
				t.Fatalf("want input: %v, got %v", tc.err, err)
			}
		})
	}
	// Unknown fields of the unsigned wrapper are ignored.
	if _, err := verifier.ParseGCBProvenance(with(func(d, _ map[string]any) { d["extra"] = map[string]any{"a": 1} })); err != nil {
		t.Errorf("unknown wrapper field: %v", err)
	}
}

func deepCopy(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// gcbTestKey is a P-256 key standing in for a Cloud Build attestor key,
// to sign what Cloud Build never would: only hostile input is signed
// with it, to reach the checks after the signature.
type gcbTestKey struct {
	file, keyID string
	pae         bool
	priv        *ecdsa.PrivateKey
}

// gcbTestKeys returns a key set of three test keys in the attestor's
// places: us-west2's builtByGCB, the global provenanceSigner and
// google-hosted-worker.
func gcbTestKeys(t testing.TB) (*verifier.GCBKeys, map[string]gcbTestKey) {
	t.Helper()
	const p = "projects/verified-builder/locations/"
	ks := map[string]gcbTestKey{
		"regional": {file: "us-west2.key", keyID: p + "us-west2/keyRings/attestor/cryptoKeys/builtByGCB/cryptoKeyVersions/1"},
		"v01":      {file: "global-pae-provenanceSigner_1.key", keyID: p + "global/keyRings/attestor/cryptoKeys/provenanceSigner/cryptoKeyVersions/1", pae: true},
		"v1":       {file: "global-pae-google-hosted-worker_1.key", keyID: p + "global/keyRings/attestor/cryptoKeys/google-hosted-worker/cryptoKeyVersions/1", pae: true},
	}
	files := map[string][]byte{}
	for name, k := range ks {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		files[k.file] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		k.priv = priv
		ks[name] = k
	}
	keys, err := verifier.LoadGCBKeys(files)
	if err != nil {
		t.Fatal(err)
	}
	return keys, ks
}

// gcbTestEntry is one provenance entry to write: the signed payload, the
// text copy (nil: derived from the payload, as Cloud Build writes it) and
// how to sign.
type gcbTestEntry struct {
	payload []byte
	text    map[string]any
	key     gcbTestKey
	// rawForPAE signs a PAE key's signature over the payload alone,
	// paeForRaw a regional key's over the PAE.
	rawForPAE, paeForRaw bool
	image                string
}

// gcbTestFile writes gcloud's JSON for entries, the image summary naming
// image.
func gcbTestFile(t testing.TB, image string, entries ...gcbTestEntry) []byte {
	t.Helper()
	var list []any
	for _, e := range entries {
		msg := e.payload
		if (e.key.pae && !e.rawForPAE) || e.paeForRaw {
			msg = fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(verifier.PayloadTypeInToto), verifier.PayloadTypeInToto, len(e.payload), e.payload)
		}
		sum := sha256.Sum256(msg)
		sig, err := ecdsa.SignASN1(rand.Reader, e.key.priv, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		text := e.text
		build := map[string]any{}
		if text == nil {
			if err := json.Unmarshal(e.payload, &text); err != nil {
				t.Fatal(err)
			}
			if _, ok := text["slsaProvenance"]; ok {
				delete(text, "predicate")
				build["intotoStatement"] = text
			} else {
				build["inTotoSlsaProvenanceV1"] = text
			}
		} else {
			maps.Copy(build, text)
		}
		img := image
		if e.image != "" {
			img = e.image
		}
		list = append(list, map[string]any{
			"kind": "BUILD", "resourceUri": "https://us-west2-docker.pkg.dev/p/r/i@" + img, "build": build,
			"envelope": map[string]any{
				"payloadType": verifier.PayloadTypeInToto, "payload": base64.StdEncoding.EncodeToString(e.payload),
				"signatures": []any{map[string]any{"keyid": e.key.keyID, "sig": base64.StdEncoding.EncodeToString(sig)}},
			},
		})
	}
	b, err := json.Marshal(map[string]any{
		"image_summary":      map[string]any{"digest": image, "fully_qualified_digest": "us-west2-docker.pkg.dev/p/r/i@" + image},
		"provenance_summary": map[string]any{"provenance": list},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realGCBPayload returns the signed payload of a real fixture's first
// entry, decoded, to edit.
func realGCBPayload(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var doc struct {
		P struct {
			P []struct {
				Envelope struct {
					Payload []byte `json:"payload"`
				} `json:"envelope"`
			} `json:"provenance"`
		} `json:"provenance_summary"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(doc.P.P[0].Envelope.Payload, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGCBHostile: provenance Cloud Build would not sign, signed with test
// keys in the attestor keys' places, reaches every check after the
// signature and is refused there.
func TestGCBHostile(t *testing.T) {
	keys, k := gcbTestKeys(t)
	m, err := realworld.Load(filepath.Join("..", "testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	v03Data, err := os.ReadFile(m.Path("slsa-verifier/gcb_container/v0.3/gcloud-container-github.json"))
	if err != nil {
		t.Fatal(err)
	}
	v01 := realGCBPayload(t, v03Data)                                               // GoogleHostedWorker@v0.3, tag v39
	v1 := realGCBPayload(t, readGCB(t, "v1.0-gcloud-container-github-single.json")) // GoogleHostedWorker, refs/heads/main
	edit := func(base map[string]any, f func(map[string]any)) []byte {
		d := deepCopy(t, base)
		f(d)
		if _, ok := d["slsaProvenance"]; ok {
			d["slsaProvenance"] = d["predicate"]
		}
		return marshal(t, d)
	}
	pred := func(d map[string]any) map[string]any { return d["predicate"].(map[string]any) }
	recipe := func(d map[string]any) map[string]any { return pred(d)["recipe"].(map[string]any) }
	const lsSrc, prodSrc = "github.com/laurentsimon/gcb-tests", "github.com/khalkie/gcb-prod-prov"
	cases := []struct {
		name  string
		file  []byte
		image string
		flags verifier.Flags
		err   error
		check verifier.Check
	}{
		{name: "v0.1 as signed", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{payload: marshal(t, v01), key: k["regional"]}),
			flags: verifier.Flags{Source: lsSrc, SourceTag: "v39"}},
		{name: "v0.1 with the PAE key", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{payload: marshal(t, v01), key: k["v01"]}),
			flags: verifier.Flags{Source: lsSrc}},
		{name: "v1.0 as signed", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{payload: marshal(t, v1), key: k["v1"]}),
			flags: verifier.Flags{Source: prodSrc}},
		{name: "PAE key over the bare payload", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{payload: marshal(t, v01), key: k["v01"], rawForPAE: true}),
			flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrNoTrustedSignature, check: verifier.CheckSignature},
		{name: "regional key over the PAE", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{payload: marshal(t, v01), key: k["regional"], paeForRaw: true}),
			flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrNoTrustedSignature, check: verifier.CheckSignature},
		{name: "v1.0 signed by a v0.1 key", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{payload: marshal(t, v1), key: k["regional"]}),
			flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrPredicateType, check: verifier.CheckPredicateType},
		{name: "v0.1 signed by the v1.0 key", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{payload: marshal(t, v01), key: k["v1"]}),
			flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrPredicateType, check: verifier.CheckPredicateType},
		{name: "slsaProvenance differs from predicate", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: func() []byte {
			d := deepCopy(t, v01)
			d["slsaProvenance"].(map[string]any)["builder"] = map[string]any{"id": "https://example.com/evil"}
			return marshal(t, d)
		}()}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrMalformed, check: verifier.CheckStatement},
		{name: "unknown top-level field", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) { d["predicate_type"] = "x" })}),
			flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrMalformed, check: verifier.CheckStatement},
		{name: "duplicate key in the payload", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], text: map[string]any{"inTotoSlsaProvenanceV1": v1},
			payload: []byte(strings.Replace(string(marshal(t, v1)), `"_type":`, `"predicateType":"https://slsa.dev/provenance/v1","_type":`, 1))}),
			flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrMalformed, check: verifier.CheckStatement},
		{name: "text copy missing", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: marshal(t, v1), text: map[string]any{}}),
			flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrTextProvenanceMismatch, check: verifier.CheckStatement},
		{name: "text copy with an extra field", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: marshal(t, v1), text: map[string]any{
			"inTotoSlsaProvenanceV1": func() map[string]any { d := deepCopy(t, v1); d["note"] = "built on a laptop"; return d }(),
		}}), flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrTextProvenanceMismatch, check: verifier.CheckStatement},
		{name: "subject without sha256", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			d["subject"] = append(d["subject"].([]any), map[string]any{"name": "x", "digest": map[string]any{"sha512": strings.Repeat("a", 128)}})
		})}), flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrMalformed, check: verifier.CheckStatement},
		{name: "unknown builder version", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			pred(d)["builder"] = map[string]any{"id": verifier.GCBBuilderID + "@v0.4"}
		})}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrUntrustedBuilder, check: verifier.CheckBuilder},
		{name: "v1.0 with a versioned builder", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			pred(d)["runDetails"].(map[string]any)["builder"] = map[string]any{"id": verifier.GCBBuilderID + "@v0.3"}
		})}), flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrUntrustedBuilder, check: verifier.CheckBuilder},
		// Test_VerifyBuilder's recipe cases.
		{name: "v0.3 random recipe type", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			recipe(d)["type"] = "https://cloudbuild.googleapis.com/Random@v0.1"
		})}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "v0.2 with a CloudBuildYaml recipe", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			pred(d)["builder"] = map[string]any{"id": verifier.GCBBuilderID + "@v0.2"}
		})}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "v0.3 with CloudBuildSteps", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			recipe(d)["type"] = "https://cloudbuild.googleapis.com/CloudBuildSteps@v0.1"
		})}), flags: verifier.Flags{Source: lsSrc}},
		{name: "recipe arguments of another type", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			recipe(d)["arguments"].(map[string]any)["@type"] = "type.googleapis.com/google.devtools.cloudbuild.v1.Other"
		})}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "v1.0 build type", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			pred(d)["buildDefinition"].(map[string]any)["buildType"] = "https://cloud.google.com/build/gcb-buildtypes/google-worker/v2"
		})}), flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "v0.1 without material", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			delete(pred(d), "materials")
		})}), flags: verifier.Flags{Source: lsSrc}, err: verifier.ErrMalformed, check: verifier.CheckSource},
		{name: "v1.0 tag", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			bd := pred(d)["buildDefinition"].(map[string]any)
			bd["externalParameters"].(map[string]any)["buildConfigSource"].(map[string]any)["ref"] = "refs/tags/v1.2.3"
			bd["internalParameters"].(map[string]any)["systemSubstitutions"].(map[string]any)["TAG_NAME"] = "v1.2.3"
		})}), flags: verifier.Flags{Source: prodSrc, SourceVersionedTag: "v1.2"}},
		{name: "v1.0 TAG_NAME contradicting the ref", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			pred(d)["buildDefinition"].(map[string]any)["internalParameters"].(map[string]any)["systemSubstitutions"].(map[string]any)["TAG_NAME"] = "v1.2.3"
		})}), flags: verifier.Flags{Source: prodSrc, SourceTag: "v1.2.3"}, err: verifier.ErrTagMismatch, check: verifier.CheckRef},
		{name: "v1.0 repository with a ref in it", file: gcbTestFile(t, gcbImageV1, gcbTestEntry{key: k["v1"], payload: edit(v1, func(d map[string]any) {
			pred(d)["buildDefinition"].(map[string]any)["externalParameters"].(map[string]any)["buildConfigSource"].(map[string]any)["repository"] = "git+https://github.com/khalkie/gcb-prod-prov@x"
		})}), flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrMalformed, check: verifier.CheckSource},
		{name: "tag not a string", file: gcbTestFile(t, gcbImageV03, gcbTestEntry{key: k["regional"], payload: edit(v01, func(d map[string]any) {
			recipe(d)["arguments"].(map[string]any)["substitutions"].(map[string]any)["TAG_NAME"] = 39
		})}), flags: verifier.Flags{Source: lsSrc, SourceTag: "v39"}, err: verifier.ErrTagMismatch, check: verifier.CheckRef},
		// Per entry before merge: an entry for another image does not
		// stop one for this image, nor lend it anything.
		{name: "first entry for another image", file: gcbTestFile(t, gcbImageV03,
			gcbTestEntry{key: k["v1"], payload: marshal(t, v1), image: gcbImageV1},
			gcbTestEntry{key: k["regional"], payload: marshal(t, v01)}),
			flags: verifier.Flags{Source: lsSrc}},
		{name: "only an entry for another image", file: gcbTestFile(t, gcbImageV03,
			gcbTestEntry{key: k["v1"], payload: marshal(t, v1), image: gcbImageV1}),
			flags: verifier.Flags{Source: prodSrc}, err: verifier.ErrSubjectMismatch, check: verifier.CheckSubject},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			image := tc.image
			if image == "" {
				var doc struct {
					S struct {
						D string `json:"digest"`
					} `json:"image_summary"`
				}
				if err := json.Unmarshal(tc.file, &doc); err != nil {
					t.Fatal(err)
				}
				image = doc.S.D
			}
			res, err := verifyGCB(t, keys, tc.file, image, tc.flags)
			wantGCB(t, res, err, tc.err, tc.check)
		})
	}
}

// FuzzParseGCBProvenance: gcloud's JSON of any shape never panics the
// parser or the verifier, and nothing the attestor keys did not sign
// passes.
func FuzzParseGCBProvenance(f *testing.F) {
	addFiles(f, filepath.Join("testdata", "gcb", "*.json"))
	addFiles(f, filepath.Join("..", "testdata", "realworld", "slsa-verifier", "gcb_container", "*", "*.json"))
	f.Add([]byte(`{"provenance_summary":{"provenance":[{"envelope":{"signatures":[{}]}}]}}`))
	keys := realGCBKeys(f)
	p, err := verifier.DefaultPolicyWith(verifier.Flags{})
	if err != nil {
		f.Fatal(err)
	}
	v, err := verifier.NewGCB(keys, p, verifier.WithoutSourceUnsafe())
	if err != nil {
		f.Fatal(err)
	}
	seeds := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join("testdata", "gcb", "*.json"))
	more, _ := filepath.Glob(filepath.Join("..", "testdata", "realworld", "slsa-verifier", "gcb_container", "*", "*.json"))
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, payload := range gcbPayloads(data) {
			seeds[payload] = true
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prov, err := verifier.ParseGCBProvenance(data)
		if err != nil {
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != verifier.CheckInput {
				t.Fatalf("parse error not an input *CheckError: %v", err)
			}
			return
		}
		var summary struct {
			S struct {
				D string `json:"digest"`
			} `json:"image_summary"`
		}
		_ = json.Unmarshal(data, &summary)
		d, err := verifier.ParseDigest(summary.S.D)
		if err != nil {
			d = verifier.Digest{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		}
		res, err := v.Verify(prov, d)
		if err != nil {
			return
		}
		if !seeds[string(res.Payload)] {
			t.Fatalf("a payload Cloud Build never signed passed: %s", res.Payload)
		}
	})
}

// gcbPayloads are the decoded envelope payloads of gcloud's JSON.
func gcbPayloads(data []byte) []string {
	var doc struct {
		P struct {
			P []struct {
				Envelope struct {
					Payload string `json:"payload"`
				} `json:"envelope"`
			} `json:"provenance"`
		} `json:"provenance_summary"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	for _, e := range doc.P.P {
		if b, err := base64.StdEncoding.DecodeString(e.Envelope.Payload); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// TestGCBUntrustedFix: the entry an untrusted Cloud Build builder's error
// suggests, added to the policy, trusts it.
func TestGCBUntrustedFix(t *testing.T) {
	keys := realGCBKeys(t)
	data := readGCB(t, "v1.0-gcloud-container-github.json")
	const head = "issuers: [https://token.actions.githubusercontent.com]\nsource: github.com/khalkie/gcb-prod-prov\n"
	p, err := verifier.LoadPolicy([]byte(head + "builders: [{name: hallmark, signer: 'glob:https://github.com/hallmark-dev/**', maxLevel: 3}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifyGCBPolicy(t, keys, data, gcbImageV1, p)
	var ce *verifier.CheckError
	if !errors.As(err, &ce) || !errors.Is(err, verifier.ErrUntrustedBuilder) {
		t.Fatalf("want ErrUntrustedBuilder, got %v", err)
	}
	entry := ce.Fix[strings.Index(ce.Fix, "{"):]
	p, err = verifier.LoadPolicy([]byte(head + "builders: [" + entry + "]\n"))
	if err != nil {
		t.Fatalf("the suggested entry %s does not load: %v", entry, err)
	}
	res, err := verifyGCBPolicy(t, keys, data, gcbImageV1, p)
	if err != nil || res.Level != 3 {
		t.Fatalf("with the suggested entry: %v", err)
	}
}
