package verifier

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// PredicateVSA is the predicate type of SLSA verification summaries.
const PredicateVSA = formats.PredicateVSAV1

// CheckVSA names failures of VerifyVSA's checks on the summary itself.
const CheckVSA Check = "verification-summary"

// Sentinels for VerifyVSA.
var (
	ErrVSAResult = errors.New("the summary does not say PASSED")
	ErrVSALevel  = errors.New("the summary does not vouch for the level")
	ErrVSAPolicy = errors.New("the summary was made under another policy")
	// ErrVSAVerifier: the summary names another verifier.
	ErrVSAVerifier = errors.New("the summary names another verifier")
)

// VSAPolicy says which verification summaries to accept.
type VSAPolicy struct {
	// Issuer and SAN identify the verifier that signed the summary: the
	// OIDC issuer (exact) and certificate SAN (a Pattern: exact, glob: or
	// regexp:). Both required.
	Issuer string
	SAN    string
	// MinLevel is the SLSA build level the summary must vouch for (0-3).
	MinLevel int
	// ResourceURI, when set, must equal the summary's resourceUri.
	ResourceURI string
	// PolicyDigest, when set (sha256 hex), must equal the digest of the
	// policy the summary names.
	PolicyDigest string
	// VerifierID, when set, must equal the summary's verifier.id.
	VerifierID string
	// Levels, when set, must all be among the summary's verifiedLevels
	// (slsa-verifier's --verified-level, any level names the verifier
	// uses, such as BCID_L1).
	Levels []string
	// Thresholds of evidence the summary's bundle must carry, as for
	// provenance (default: one log entry, one observer timestamp). The
	// policy decides, never the bundle: a summary without the log entry
	// the thresholds ask for is refused.
	Thresholds Thresholds
}

// vsaExpects is a validated VSAPolicy.
type vsaExpects struct {
	VSAPolicy
	san Pattern
}

// VSA is a verified verification summary.
type VSA struct {
	Verifier     string    // predicate.verifier.id
	TimeVerified time.Time // predicate.timeVerified
	ResourceURI  string
	Levels       []string
	PolicyURI    string
	Identity     CertificateIdentity
	SignedAt     []Timestamp
	Subjects     []string
	InputBundles []string
	Payload      []byte
}

// VerifyVSA checks a signed SLSA verification summary through the same
// pipeline as Verify: its signature and certificate against trusted with
// the policy's thresholds, the signer's identity, the statement (read
// once, strictly), that one of digests is a subject, and then that the
// summary says PASSED, vouches for at least p.MinLevel and names the
// expected resource and policy. It is pure, like Verify. To check many
// summaries under one policy, make a VSAVerifier once instead.
func VerifyVSA(b *bundle.Bundle, trusted root.TrustedMaterial, p VSAPolicy, digests ...Digest) (*VSA, error) {
	v, err := NewVSAVerifier(trusted, p)
	if err != nil {
		return nil, err
	}
	return v.Verify(b, digests...)
}

// VSAVerifier verifies verification summaries against one trusted root
// and one VSAPolicy, as VerifyVSA does, with what depends on them alone
// (the policy's patterns, the trusted root's verified chains) prepared
// once. It holds no mutable state: one VSAVerifier serves any number of
// goroutines.
type VSAVerifier struct {
	c *checker
}

// NewVSAVerifier validates the policy and prepares a verifier for it.
func NewVSAVerifier(trusted root.TrustedMaterial, p VSAPolicy) (*VSAVerifier, error) {
	if trusted == nil {
		return nil, errors.New("verify vsa: no trusted material")
	}
	if p.Issuer == "" || p.SAN == "" {
		return nil, errors.New("verify vsa: the verifier's issuer and SAN are required")
	}
	if p.MinLevel < 0 || p.MinLevel > 3 {
		return nil, fmt.Errorf("verify vsa: level %d: want 0 to 3", p.MinLevel)
	}
	san, err := ParsePattern(p.SAN)
	if err != nil {
		return nil, fmt.Errorf("verify vsa: SAN: %w", err)
	}
	th, err := p.Thresholds.resolve()
	if err != nil {
		return nil, fmt.Errorf("verify vsa: %w", err)
	}
	c, err := newChecker(trusted, th, p.Thresholds.SCTs != nil, options{now: time.Now, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("verify vsa: %w", err)
	}
	c.vsa = &vsaExpects{VSAPolicy: p, san: san}
	return &VSAVerifier{c: c}, nil
}

// Verify verifies one summary bundle for a resource with any of the
// digests.
func (v *VSAVerifier) Verify(b *bundle.Bundle, digests ...Digest) (*VSA, error) {
	return verifyVSA(v.c, b, digests)
}

// verifyVSA runs the pipeline for a summary and reads the result.
func verifyVSA(c *checker, b *bundle.Bundle, digests []Digest) (*VSA, error) {
	r := &run{c: c, b: b, digests: digests}
	if err := r.verify(forVSA); err != nil {
		return nil, err
	}
	pred := r.st.vsa
	out := &VSA{
		Verifier: pred.VerifierID, ResourceURI: pred.ResourceURI, Levels: pred.VerifiedLevels,
		PolicyURI: pred.PolicyURI, Payload: r.payload, Identity: r.signer.identity(),
		SignedAt: r.stamps,
	}
	if t, err := time.Parse(time.RFC3339, pred.TimeVerified); err == nil {
		out.TimeVerified = t
	}
	for _, in := range pred.InputAttestations {
		out.InputBundles = append(out.InputBundles, in.URI)
	}
	for _, s := range r.st.Subject {
		out.Subjects = append(out.Subjects, s.Name)
	}
	return out, nil
}

// checkIdentity: the summary was signed by the expected verifier.
func (e *vsaExpects) checkIdentity(s *signer) error {
	if s.kind == signerKey {
		return nil // the signature named the key's id and verified with it
	}
	if s.kind == signerSVID {
		return fail(CheckIdentity, "a Fulcio certificate of "+e.Issuer, s.kind.String(), ErrCertificateIdentity)
	}
	if got := s.cert.Extensions.Issuer; got != e.Issuer {
		return fail(CheckIdentity, e.Issuer, got, ErrIssuer)
	}
	if !e.san.Match(s.cert.SubjectAlternativeName) {
		return fail(CheckIdentity, e.SAN, s.cert.SubjectAlternativeName, ErrCertificateIdentity)
	}
	return nil
}

// checkSummary: the summary says PASSED, for the expected resource and
// policy, at the level asked for.
func (r *run) checkSummary() error {
	e, pred := r.c.vsa, r.st.vsa
	if pred.VerificationResult != "PASSED" {
		return fail(CheckVSA, "PASSED", pred.VerificationResult, ErrVSAResult)
	}
	if e.ResourceURI != "" && pred.ResourceURI != e.ResourceURI {
		return fail(CheckVSA, "resourceUri "+e.ResourceURI, pred.ResourceURI, ErrSubjectMismatch)
	}
	if e.PolicyDigest != "" && pred.PolicyDigest["sha256"] != e.PolicyDigest {
		return fail(CheckVSA, "policy sha256:"+e.PolicyDigest, "sha256:"+pred.PolicyDigest["sha256"], ErrVSAPolicy)
	}
	if e.VerifierID != "" && pred.VerifierID != e.VerifierID {
		return fail(CheckVSA, "verifier "+e.VerifierID, pred.VerifierID, ErrVSAVerifier)
	}
	for _, l := range e.Levels {
		if !slices.Contains(pred.VerifiedLevels, l) {
			return fail(CheckVSA, "verified level "+l, strings.Join(pred.VerifiedLevels, ", "), ErrVSALevel)
		}
	}
	best := -1
	for _, l := range pred.VerifiedLevels {
		var n int
		if _, err := fmt.Sscanf(l, "SLSA_BUILD_LEVEL_%d", &n); err == nil && n > best && n <= 3 && l == fmt.Sprintf("SLSA_BUILD_LEVEL_%d", n) {
			best = n
		}
	}
	if best < e.MinLevel {
		return fail(CheckVSA, fmt.Sprintf("SLSA_BUILD_LEVEL_%d or higher", e.MinLevel), strings.Join(pred.VerifiedLevels, ", "), ErrVSALevel)
	}
	return nil
}
