package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// PredicateVSA is the predicate type of SLSA verification summaries.
const PredicateVSA = "https://slsa.dev/verification_summary/v1"

// CheckVSA names failures of VerifyVSA's checks on the summary itself.
const CheckVSA Check = "verification-summary"

// Sentinels for VerifyVSA.
var (
	ErrVSAResult = errors.New("the summary does not say PASSED")
	ErrVSALevel  = errors.New("the summary does not vouch for the level")
	ErrVSAPolicy = errors.New("the summary was made under another policy")
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

type vsaPredicate struct {
	Verifier struct {
		ID string `json:"id"`
	} `json:"verifier"`
	TimeVerified string `json:"timeVerified"`
	ResourceURI  string `json:"resourceUri"`
	Policy       struct {
		URI    string            `json:"uri"`
		Digest map[string]string `json:"digest"`
	} `json:"policy"`
	InputAttestations []struct {
		URI string `json:"uri"`
	} `json:"inputAttestations"`
	VerificationResult string   `json:"verificationResult"`
	VerifiedLevels     []string `json:"verifiedLevels"`
}

// VerifyVSA checks a signed SLSA verification summary: its signature and
// certificate against trusted (with an observer timestamp, and the log
// entry when it carries one), the signer's identity, that one of digests is
// a subject, that the result is PASSED and that it vouches for at least
// p.MinLevel. It is pure, like Verify.
func VerifyVSA(b *bundle.Bundle, trusted root.TrustedMaterial, p VSAPolicy, digests ...Digest) (*VSA, error) {
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
	if len(digests) == 0 {
		return nil, errors.New("verify vsa: no artifact digest")
	}
	env := b.GetDsseEnvelope()
	if env == nil || len(env.GetSignatures()) != 1 {
		return nil, &CheckError{Check: CheckInput, Want: "a DSSE envelope with one signature", Got: "something else", Err: ErrSignatureCount}
	}
	opts := []verify.VerifierOption{verify.WithObserverTimestamps(1)}
	if n := len(b.GetVerificationMaterial().GetTlogEntries()); n > 0 {
		opts = append(opts, verify.WithTransparencyLog(1))
	}
	if len(trusted.CTLogs()) > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(1))
	}
	sv, err := verify.NewVerifier(trusted, opts...)
	if err != nil {
		return nil, fmt.Errorf("verify vsa: %w", err)
	}
	res, err := sv.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, &CheckError{Check: CheckSignature, Want: "a valid signature from the trusted root", Got: "none", Err: err}
	}
	cert := res.Signature.Certificate
	if cert == nil {
		return nil, &CheckError{Check: CheckIdentity, Want: "a certificate", Got: "a bare key", Err: ErrCertificateIdentity}
	}
	if cert.Issuer != p.Issuer {
		return nil, &CheckError{Check: CheckIdentity, Want: p.Issuer, Got: cert.Issuer, Err: ErrIssuer}
	}
	if !san.Match(cert.SubjectAlternativeName) {
		return nil, &CheckError{Check: CheckIdentity, Want: p.SAN, Got: cert.SubjectAlternativeName, Err: ErrCertificateIdentity}
	}
	if env.GetPayloadType() != "application/vnd.in-toto+json" {
		return nil, &CheckError{Check: CheckInput, Want: "application/vnd.in-toto+json", Got: env.GetPayloadType(), Err: ErrMalformed}
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate vsaPredicate `json:"predicate"`
	}
	if err := json.Unmarshal(env.GetPayload(), &st); err != nil {
		return nil, &CheckError{Check: CheckInput, Want: "an in-toto statement", Got: "unparseable JSON", Err: ErrMalformed}
	}
	if st.PredicateType != PredicateVSA {
		return nil, &CheckError{Check: CheckPredicateType, Want: PredicateVSA, Got: st.PredicateType, Err: ErrPredicateType}
	}
	out := &VSA{
		Verifier: st.Predicate.Verifier.ID, ResourceURI: st.Predicate.ResourceURI, Levels: st.Predicate.VerifiedLevels,
		PolicyURI: st.Predicate.Policy.URI, Payload: env.GetPayload(),
		Identity: CertificateIdentity{Issuer: cert.Issuer, SAN: cert.SubjectAlternativeName, Extensions: cert.Extensions},
	}
	for _, ts := range res.VerifiedTimestamps {
		out.SignedAt = append(out.SignedAt, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp})
	}
	for _, in := range st.Predicate.InputAttestations {
		out.InputBundles = append(out.InputBundles, in.URI)
	}
	matched := false
	for _, s := range st.Subject {
		out.Subjects = append(out.Subjects, s.Name)
		for _, d := range digests {
			if s.Digest[d.Algorithm] == d.Hex {
				matched = true
			}
		}
	}
	if !matched {
		return nil, &CheckError{Check: CheckSubject, Want: digests[0].Algorithm + ":" + digests[0].Hex, Got: strings.Join(out.Subjects, ", "), Err: ErrSubjectMismatch}
	}
	if st.Predicate.VerificationResult != "PASSED" {
		return nil, &CheckError{Check: CheckVSA, Want: "PASSED", Got: st.Predicate.VerificationResult, Err: ErrVSAResult}
	}
	if t, err := time.Parse(time.RFC3339, st.Predicate.TimeVerified); err == nil {
		out.TimeVerified = t
	}
	if p.ResourceURI != "" && st.Predicate.ResourceURI != p.ResourceURI {
		return nil, &CheckError{Check: CheckVSA, Want: "resourceUri " + p.ResourceURI, Got: st.Predicate.ResourceURI, Err: ErrSubjectMismatch}
	}
	if p.PolicyDigest != "" && st.Predicate.Policy.Digest["sha256"] != p.PolicyDigest {
		return nil, &CheckError{Check: CheckVSA, Want: "policy sha256:" + p.PolicyDigest, Got: "sha256:" + st.Predicate.Policy.Digest["sha256"], Err: ErrVSAPolicy}
	}
	best := -1
	for _, l := range st.Predicate.VerifiedLevels {
		var n int
		if _, err := fmt.Sscanf(l, "SLSA_BUILD_LEVEL_%d", &n); err == nil && n > best && n <= 3 && l == fmt.Sprintf("SLSA_BUILD_LEVEL_%d", n) {
			best = n
		}
	}
	if best < p.MinLevel {
		return nil, &CheckError{Check: CheckVSA, Want: fmt.Sprintf("SLSA_BUILD_LEVEL_%d or higher", p.MinLevel), Got: strings.Join(st.Predicate.VerifiedLevels, ", "), Err: ErrVSALevel}
	}
	return out, nil
}
