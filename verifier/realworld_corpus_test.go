package verifier_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/verifier"
)

// The real-world corpus (testdata/realworld) holds what slsa-verifier,
// gh, sigstore-go and sigstore-conformance verify in their own tests, with
// the verdict each states. TestRealWorldCorpus gives every case Hallmark
// reads the source's flags, mapped onto Hallmark's, and requires the
// source's verdict, except where Hallmark's rules differ on purpose:
//
//   - slsa-verifier's test mode (SLSA_VERIFIER_TESTING=1) trusts builders
//     at refs/heads/main; without it slsa-verifier rejects those cases, and
//     so does Hallmark.
//   - a bare DSSE envelope (slsa-github-generator up to v2.0.0) carries no
//     log entry; slsa-verifier searches Rekor online for it. Offline,
//     Hallmark refuses it and says what it is; verify-artifact --rekor-url
//     looks it up as slsa-verifier does (internal/rekorv1, tested against
//     a real Rekor v1 log: public-good's is not reachable here).
//   - sigstore-conformance's statements are made up for the suite: it
//     checks the evidence (signature, log, timestamps, certificate) and the
//     identity, which Hallmark must accept too; the provenance itself (its
//     type, its builder against the certificate) Hallmark then refuses.
//   - gh refuses v0.1 bundles by its own version policy; slsa-verifier and
//     sigstore-go accept them (an inclusion promise instead of a proof),
//     and so does Hallmark.
//   - gh verifies bundles of GitHub's own Sigstore (private repositories)
//     with their signed timestamp in place of a log entry; with Hallmark
//     the policy says so (thresholds), as such a user's policy would.
//   - Cloud Build provenance (gcloud's JSON, verified with Cloud Build's
//     attestor keys) passes when any of its entries passes every check;
//     slsa-verifier takes the first entry whose signature verifies. No
//     case here tells the two apart: the corpus has no file whose first
//     signed entry fails a later check while another passes.
//
// npm's attestations files (verify-npm-package) go through NpmVerifier with
// the source's --builder-id, --package-name and --package-version; each
// rejection must also be for the reason slsa-verifier's error names
// (npmReason). None of them differs.
//
// Formats Hallmark does not read yet are listed in unreadFormats, each with
// its count, so support added or lost shows.
var unreadFormats = map[string]int{
	"cosign-legacy-attestation": 24, // verify-image of cosign's tag-based .att (OCI layouts)
}

func TestRealWorldCorpus(t *testing.T) {
	m, err := realworld.Load(filepath.Join("..", "testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	unread := map[string]int{}
	var agreed, cases int
	for _, c := range m.Cases {
		if _, ok := unreadFormats[c.BundleFormat]; ok {
			unread[c.BundleFormat]++
			continue
		}
		cases++
		t.Run(c.Name, func(t *testing.T) {
			want := c.Expect
			testMode := strings.Contains(c.Needs, "SLSA_VERIFIER_TESTING")
			online := strings.Contains(c.Needs, "online rekor lookup")
			if testMode {
				want = realworld.Reject
			}
			err := verifyRealCase(t, m, c)
			var ce *verifier.CheckError
			switch {
			case online:
				if err == nil || !errors.Is(err, verifier.ErrBareEnvelope) {
					t.Fatalf("a bare DSSE envelope: want ErrBareEnvelope, got %v", err)
				}
			case want == realworld.Reject && err == nil && c.Source == "gh" && strings.Contains(c.Reason, "bundle media type version 0.2 or later"):
				// gh's own version policy, which Hallmark does not share.
			case want == realworld.Accept && isProvenanceRefusal(err, c):
				// The suite's evidence passes; its made-up provenance
				// does not.
			case want == realworld.Accept && err != nil:
				t.Fatalf("source accepts (%s), Hallmark rejects: %v", c.Reason, err)
			case want == realworld.Reject && err == nil:
				t.Fatalf("source rejects (%s), Hallmark accepts", c.Reason)
			case err != nil && !errors.As(err, &ce) && !errors.Is(err, errRefusedFlags):
				t.Fatalf("want a *CheckError or refused flags, got %T: %v", err, err)
			case err != nil && c.BundleFormat == realworld.FormatNPMAttestations && !npmReason(c, err):
				t.Fatalf("source rejects with %s (%s), Hallmark for another reason: %v", c.SourceError, c.Origin, err)
			}
			agreed++
		})
	}
	for f, n := range unreadFormats {
		if unread[f] != n {
			t.Errorf("%d cases of unread format %s, the list says %d", unread[f], f, n)
		}
	}
	t.Logf("real-world corpus: %d of %d cases Hallmark reads agree with their source; not read: %v", agreed, cases, unread)
}

// errRefusedFlags: the source's flags for a case are ones Hallmark refuses
// (an empty --builder-id, say), which is a rejection.
var errRefusedFlags = errors.New("flags refused")

// isProvenanceRefusal reports whether err refuses a conformance case's
// statement as provenance, after every check of the evidence and the
// identity passed.
func isProvenanceRefusal(err error, c realworld.Case) bool {
	if c.Source != "sigstore-conformance" {
		return false
	}
	var ce *verifier.CheckError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Check {
	case verifier.CheckPredicateType, verifier.CheckPayloadMatchesCertificate, verifier.CheckBuilder:
		return true
	}
	return false
}

// verifyRealCase verifies one case as Hallmark's CLI would under the
// source's flags.
func verifyRealCase(t *testing.T, m *realworld.Manifest, c realworld.Case) error {
	t.Helper()
	data, err := os.ReadFile(m.Path(c.Bundle))
	if err != nil {
		t.Fatal(err)
	}
	if c.BundleFormat == realworld.FormatGCBDescribe {
		return verifyGCBCase(t, m, c, data)
	}
	if c.Command == "verify-vsa" {
		return verifyKeyVSACase(t, m, c, data)
	}
	root, err := m.TrustedRoot(c.TrustedRoot)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	policy, opts, err := realPolicy(c)
	if err != nil {
		return err
	}
	v, err := verifier.New(tr, policy, append(opts, verifier.WithClock(func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }))...)
	if err != nil {
		t.Fatalf("policy refused: %v", err)
	}
	if c.BundleFormat == realworld.FormatNPMAttestations {
		return verifyNpmCase(t, m, c, v, data)
	}
	bundles, err := verifier.ParseBundles(data)
	if err != nil {
		return err
	}
	var firstErr error
	for _, a := range c.AllArtifacts() {
		digests := realDigests(t, a, c)
		if _, err := v.VerifyAny(bundles, digests...); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// realDigests are the artifact's digests Hallmark's CLI computes: every
// sound algorithm the corpus records (or gh's --digest-alg alone).
func realDigests(t *testing.T, a realworld.Artifact, c realworld.Case) []verifier.Digest {
	t.Helper()
	algs := make([]string, 0, len(a.Digests))
	for alg := range a.Digests {
		algs = append(algs, alg)
	}
	sort.Strings(algs)
	if alg := c.Flags["digest-alg"]; len(alg) == 1 {
		algs = alg
	}
	var out []verifier.Digest
	for _, alg := range algs {
		d, err := verifier.ParseDigest(alg + ":" + a.Digests[alg])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// realPolicy maps a case's flags onto Hallmark's: slsa-verifier's flags
// are Hallmark's own; gh's --repo is --source-uri, its --owner and
// --signer-repo narrow the certificate, and without a signer flag gh wants
// the signer in the owner (or repository) it verifies, as its default
// --cert-identity-regex says. sigstore-go's and the conformance suite's
// identity flags narrow the certificate; they name no source.
func realPolicy(c realworld.Case) (*verifier.Policy, []verifier.Option, error) {
	one := func(name string) (string, bool) {
		v, ok := c.Flags[name]
		if !ok || len(v) == 0 {
			return "", ok
		}
		return v[0], true
	}
	var f verifier.Flags
	var opts []verifier.Option
	f.Source, _ = one("source-uri")
	f.SourceBranch, _ = one("source-branch")
	f.SourceTag, _ = one("source-tag")
	f.SourceVersionedTag, _ = one("source-versioned-tag")
	if id, given := one("builder-id"); given {
		if id == "" {
			return nil, nil, fmt.Errorf("%w: an empty --builder-id", errRefusedFlags)
		}
		f.BuilderID = id
	}
	if c.Command == "verify-npm-package" {
		// A runner names no builder: the npm verifier checks it.
		id, err := npmPackage(c).PolicyBuilderID()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errRefusedFlags, err)
		}
		f.BuilderID = id
	}
	for _, kv := range c.Flags["build-workflow-input"] {
		k, v, _ := strings.Cut(kv, "=")
		if f.WorkflowInputs == nil {
			f.WorkflowInputs = map[string]string{}
		}
		f.WorkflowInputs[k] = v
	}
	f.CertIdentity, _ = one("cert-identity")
	f.CertIdentityRegex, _ = one("cert-identity-regex")
	f.CertOIDCIssuer, _ = one("cert-oidc-issuer")
	f.SignerWorkflow, _ = one("signer-workflow")
	if c.Command == "gh attestation verify" {
		repo, _ := one("repo")
		owner, _ := one("owner")
		if repo != "" {
			f.Source = "github.com/" + repo
		}
		if owner != "" {
			f.Owner = owner
		}
		if sr, ok := one("signer-repo"); ok {
			f.SignerRepo = sr
		}
		if f.CertIdentity == "" && f.CertIdentityRegex == "" && f.SignerWorkflow == "" && f.SignerRepo == "" {
			switch {
			case repo != "":
				f.CertIdentityRegex = "^https://github.com/" + regexp.QuoteMeta(repo) + "/"
			case owner != "":
				f.CertIdentityRegex = "^https://github.com/" + regexp.QuoteMeta(owner) + "/"
			}
		}
	}
	if f.Source == "" {
		opts = append(opts, verifier.WithoutSourceUnsafe())
	}
	p, err := verifier.DefaultPolicyWith(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errRefusedFlags, err)
	}
	if c.TrustedRoot == "github" {
		// GitHub's own Sigstore timestamps and logs nothing; a policy for
		// it says the timestamp stands in for the log entry.
		zero, one := 0, 1
		p.Thresholds.TransparencyLog, p.Thresholds.SignedTimestamps = &zero, &one
	}
	return p, opts, nil
}

// npmPackage is a verify-npm-package case's expectations of the package.
func npmPackage(c realworld.Case) verifier.NpmPackage {
	one := func(name string) string {
		if v := c.Flags[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return verifier.NpmPackage{BuilderID: one("builder-id"), Name: one("package-name"), Version: one("package-version")}
}

// verifyNpmCase verifies an npm tarball against its attestations file, as
// verify-npm-package does, with npm's registry keys the case names.
func verifyNpmCase(t *testing.T, m *realworld.Manifest, c realworld.Case, v *verifier.Verifier, data []byte) error {
	t.Helper()
	var keys *verifier.NpmKeys
	for _, id := range c.Trust {
		if m.Trust[id].Kind != realworld.TrustNPMRegistryKeys {
			continue
		}
		b, err := os.ReadFile(m.Path(m.Trust[id].File))
		if err != nil {
			t.Fatal(err)
		}
		if keys, err = verifier.LoadNpmKeys(b); err != nil {
			t.Fatal(err)
		}
	}
	if keys == nil {
		t.Fatal("an npm case without npm's registry keys")
	}
	nv, err := verifier.NewNpmVerifier(v, keys, npmPackage(c))
	if err != nil {
		t.Fatalf("npm verifier refused: %v", err)
	}
	att, err := verifier.ParseNpmAttestations(data)
	if err != nil {
		return err
	}
	d, err := verifier.ParseDigest("sha512:" + c.Digests["sha512"])
	if err != nil {
		t.Fatal(err)
	}
	res, err := nv.Verify(att, d)
	if err == nil && (res.Level < 2 || res.Name == "" || res.PublishKeyID == "") {
		t.Errorf("accepted at level %d, package %q, publish key %q", res.Level, res.Name, res.PublishKeyID)
	}
	return err
}

// npmReason reports whether err rejects an npm case for the reason its
// source's error states.
func npmReason(c realworld.Case, err error) bool {
	var ce *verifier.CheckError
	isCheck := func(checks ...verifier.Check) bool { return errors.As(err, &ce) && slices.Contains(checks, ce.Check) }
	switch c.SourceError {
	case "serrors.ErrorInvalidBuilderID":
		// No --builder-id, or one the provenance's version never names.
		return errors.Is(err, verifier.ErrNpmBuilderID) || isCheck(verifier.CheckBuilder) && errors.Is(err, verifier.ErrBuilderMismatch)
	case "serrors.ErrorNotSupported":
		return errors.Is(err, verifier.ErrNpmBuilderID)
	case "serrors.ErrorMismatchBuilderID":
		return isCheck(verifier.CheckBuilder) && errors.Is(err, verifier.ErrBuilderMismatch)
	case "serrors.ErrorMismatchSource":
		return isCheck(verifier.CheckSource) && errors.Is(err, verifier.ErrSourceMismatch)
	case "serrors.ErrorMismatchPackageName":
		return isCheck(verifier.CheckPackage) && errors.Is(err, verifier.ErrPackageNameMismatch)
	case "serrors.ErrorMismatchPackageVersion":
		return isCheck(verifier.CheckPackage) && errors.Is(err, verifier.ErrPackageVersionMismatch)
	case "serrors.ErrorInvalidSignature":
		if strings.Contains(c.Origin, "signature publish") {
			return isCheck(verifier.CheckPublishAttestation)
		}
		return isCheck(verifier.CheckTlog, verifier.CheckSignature)
	}
	return false
}

// verifyGCBCase verifies a Cloud Build case as verify-image --gcb-keys
// does: gcloud's JSON for the image digest, with the Cloud Build attestor
// keys the case names, under the source's flags.
func verifyGCBCase(t *testing.T, m *realworld.Manifest, c realworld.Case, data []byte) error {
	t.Helper()
	if len(c.Trust) != 1 || m.Trust[c.Trust[0]].Kind != realworld.TrustGCBKeys {
		t.Fatalf("a Cloud Build case names trust %v, want one %s", c.Trust, realworld.TrustGCBKeys)
	}
	keys := gcbKeysFromDir(t, m.Path(m.Trust[c.Trust[0]].Dir))
	policy, opts, err := realPolicy(c)
	if err != nil {
		return err
	}
	v, err := verifier.NewGCB(keys, policy, append(opts, verifier.WithClock(func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }))...)
	if err != nil {
		t.Fatalf("policy refused: %v", err)
	}
	prov, err := verifier.ParseGCBProvenance(data)
	if err != nil {
		return err
	}
	var firstErr error
	for _, a := range c.AllArtifacts() {
		digests := realDigests(t, a, c)
		if len(digests) != 1 {
			t.Fatalf("an image has one sha256 digest, the case gives %v", digests)
		}
		res, err := v.Verify(prov, digests[0])
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if res.Level != 3 || res.TrustedBuilder != "google-cloud-build" {
			t.Errorf("level %d from %q, want 3 from the built-in Cloud Build entry", res.Level, res.TrustedBuilder)
		}
	}
	return firstErr
}

// TestGCBCorpusSentinels: every Cloud Build case of the real-world corpus
// that slsa-verifier rejects is rejected with the sentinel of the error
// slsa-verifier returns.
func TestGCBCorpusSentinels(t *testing.T) {
	m, err := realworld.Load(filepath.Join("..", "testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	sentinels := map[string]error{
		"serrors.ErrorMismatchBuilderID":    verifier.ErrBuilderMismatch,
		"serrors.ErrorVerifierNotSupported": verifier.ErrBuilderMismatch,
		"serrors.ErrorMismatchSource":       verifier.ErrSourceMismatch,
		"serrors.ErrorNoValidSignature":     verifier.ErrNoTrustedSignature,
		"serrors.ErrorMismatchHash":         verifier.ErrSubjectMismatch,
		"serrors.ErrorMismatchIntoto":       verifier.ErrTextProvenanceMismatch,
		"serrors.ErrorInvalidFormat":        verifier.ErrMalformed,
		"serrors.ErrorInvalidDssePayload":   verifier.ErrMalformed,
		"serrors.ErrorMismatchTag":          verifier.ErrTagMismatch,
		"serrors.ErrorMismatchVersionedTag": verifier.ErrVersionedTagMismatch,
	}
	n := 0
	for _, c := range m.Cases {
		if c.BundleFormat != realworld.FormatGCBDescribe || c.Expect != realworld.Reject {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			want, ok := sentinels[c.SourceError]
			if !ok {
				t.Fatalf("no Hallmark sentinel for %s", c.SourceError)
			}
			data, err := os.ReadFile(m.Path(c.Bundle))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyGCBCase(t, m, c, data); !errors.Is(err, want) {
				t.Fatalf("slsa-verifier: %s; want %v, got %v", c.SourceError, want, err)
			}
		})
	}
	if n != 31 {
		t.Errorf("%d rejected Cloud Build cases, want 31", n)
	}
}

// verifyKeyVSACase verifies a summary its verifier signed with a key of its
// own, as verify-vsa --public-key does, under slsa-verifier's flags. A case
// that names no subject is about the signature alone: any subject will do.
func verifyKeyVSACase(t *testing.T, m *realworld.Manifest, c realworld.Case, data []byte) error {
	t.Helper()
	one := func(name string) string {
		if v := c.Flags[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	keyPEM, err := os.ReadFile(m.Path(one("public-key-path")))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verifier.ParseEnvelope(data)
	if err != nil {
		return err
	}
	var digests []verifier.Digest
	for _, sd := range c.Flags["subject-digest"] {
		alg, value, _ := strings.Cut(sd, ":")
		digests = append(digests, verifier.Digest{Algorithm: alg, Hex: value})
	}
	if len(digests) == 0 {
		digests = []verifier.Digest{{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}
	}
	p := verifier.VSAPolicy{ResourceURI: one("resource-uri"), VerifierID: one("verifier-id"), Levels: c.Flags["verified-level"]}
	_, err = verifier.VerifyVSAWithKey(b, verifier.VSAKey{ID: one("public-key-id"), Key: key}, p, digests...)
	return err
}
