package verifier

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CertificateIdentity is what the verified signing certificate says: its
// issuer, subject alternative name and Fulcio extensions.
type CertificateIdentity struct {
	// Issuer is the OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8);
	// for an X.509-SVID, spiffe://TRUST-DOMAIN.
	Issuer string
	// SAN is the subject alternative name: for GitHub Actions,
	// https://github.com/ + job_workflow_ref; for a SPIFFE signer, its
	// SPIFFE ID.
	SAN string
	// Extensions holds every Fulcio extension of the certificate.
	Extensions certificate.Extensions
}

// certFields is the certificate as the checks read it.
type certFields = certificate.Summary

// signerKind is what kind of identity signed: it decides which
// expectations apply and what the evidence alone proves.
type signerKind int

const (
	// signerGitHub: a Fulcio certificate with GitHub Actions' workflow
	// extensions (build signer URI and source repository).
	signerGitHub signerKind = iota + 1
	// signerFulcio: another Fulcio identity.
	signerFulcio
	// signerSPIFFEKeyless: a Fulcio certificate whose SAN is a SPIFFE ID,
	// bought with a JWT-SVID.
	signerSPIFFEKeyless
	// signerSVID: an X.509-SVID chaining to a SPIFFE trust bundle.
	signerSVID
)

func (k signerKind) String() string {
	switch k {
	case signerGitHub:
		return "a GitHub Actions certificate"
	case signerFulcio:
		return "a Fulcio certificate"
	case signerSPIFFEKeyless:
		return "a Fulcio certificate for a SPIFFE ID"
	case signerSVID:
		return "an X.509-SVID"
	case signerKey:
		return "a verifier's key"
	}
	return "an unknown signer"
}

func (k signerKind) spiffe() bool { return k == signerSPIFFEKeyless || k == signerSVID }

// signer is the verified signer.
type signer struct {
	kind signerKind
	cert certFields
	// preExtensions is set for a GitHub certificate Fulcio issued before
	// it recorded the build's run, workflow file and repository IDs
	// (early 2023): only the deprecated GitHub extensions. Claims of
	// those are then unverified, listed in unverified.
	preExtensions bool
	unverified    []string
	// id is the SPIFFE ID of a SPIFFE signer.
	id spiffeid.ID
}

// uri is the signer as builder entries match it: the build signer URI of
// a Fulcio certificate, the SPIFFE ID of a SPIFFE signer.
func (s *signer) uri() string {
	if s.kind.spiffe() {
		return s.id.String()
	}
	return s.cert.BuildSignerURI
}

func (s *signer) identity() CertificateIdentity {
	return CertificateIdentity{Issuer: s.cert.Extensions.Issuer, SAN: s.cert.SubjectAlternativeName, Extensions: s.cert.Extensions}
}

// kindOfFulcio sorts a verified Fulcio certificate.
func kindOfFulcio(c *certFields) (signerKind, spiffeid.ID) {
	if id, err := spiffeid.FromString(c.SubjectAlternativeName); err == nil {
		return signerSPIFFEKeyless, id
	}
	if c.BuildSignerURI != "" && c.SourceRepositoryURI != "" && strings.HasPrefix(c.SubjectAlternativeName, "https://") {
		return signerGitHub, spiffeid.ID{}
	}
	return signerFulcio, spiffeid.ID{}
}

func compileIdentity(id Identity) ([]identityMatch, error) {
	type field struct {
		name       string
		pat        string
		get        func(*certFields) string
		githubOnly bool
	}
	fields := []field{
		{"san", id.SAN, func(c *certFields) string { return c.SubjectAlternativeName }, false},
		{"signerWorkflow", id.SignerWorkflow, func(c *certFields) string {
			uri, _, _ := strings.Cut(c.BuildSignerURI, "@")
			return strings.TrimPrefix(uri, "https://")
		}, true},
		{"sourceRepositoryURI", id.SourceRepositoryURI, func(c *certFields) string { return c.SourceRepositoryURI }, true},
		{"sourceRepositoryDigest", id.SourceRepositoryDigest, func(c *certFields) string { return c.SourceRepositoryDigest }, true},
		{"sourceRepositoryRef", id.SourceRepositoryRef, func(c *certFields) string { return c.SourceRepositoryRef }, true},
		{"sourceRepositoryOwnerURI", id.SourceRepositoryOwner, func(c *certFields) string { return c.SourceRepositoryOwnerURI }, true},
		{"buildSignerURI", id.BuildSignerURI, func(c *certFields) string { return c.BuildSignerURI }, true},
		{"buildSignerDigest", id.BuildSignerDigest, func(c *certFields) string { return c.BuildSignerDigest }, true},
		{"runnerEnvironment", id.RunnerEnvironment, func(c *certFields) string { return c.RunnerEnvironment }, true},
	}
	var out []identityMatch
	for _, f := range fields {
		if f.pat == "" {
			continue
		}
		pat := f.pat
		if f.name == "signerWorkflow" && !strings.HasPrefix(pat, "regexp:") && !strings.HasPrefix(pat, "glob:") {
			pat = strings.TrimPrefix(pat, "https://")
		}
		p, err := ParsePattern(pat)
		if err != nil {
			return nil, fmt.Errorf("identity.%s: %w", f.name, err)
		}
		out = append(out, identityMatch{field: f.name, get: f.get, want: p, githubOnly: f.githubOnly})
	}
	return out, nil
}

// notApplicable is the failure of an expectation that cannot be checked
// against this kind of signer: it fails, never passes unchecked.
func notApplicable(what string, s *signer) *CheckError {
	return fail(CheckIdentity, what+" (which "+s.kind.String()+" cannot show)", s.kind.String()+" "+s.uriOrSAN(), ErrNotApplicable).
		with("drop " + what + ", or verify with the expectations of this signer's kind")
}

func (s *signer) uriOrSAN() string {
	if s.kind.spiffe() {
		return s.id.String()
	}
	return s.cert.SubjectAlternativeName
}

// checkIdentity checks the signer against the policy: the issuer, SAN and
// extension expectations of a Fulcio certificate, the SPIFFE IDs of a
// SPIFFE signer, and that every expectation set applies to its kind.
func (p *Policy) checkIdentity(s *signer) error {
	c := &s.cert
	flags := p.narrowed.flags
	if s.kind == signerSVID {
		if flags[flagCertOIDCIssuer] {
			return notApplicable("--cert-oidc-issuer", s)
		}
	} else if !slices.Contains(p.Issuers, c.Extensions.Issuer) {
		fix := "list the issuer in the policy's issuers if you trust it"
		if p.narrowed.builtin {
			fix = "name the issuer if you trust it: --cert-oidc-issuer " + c.Extensions.Issuer
		}
		return fail(CheckIdentity, "issuer in "+strings.Join(p.Issuers, ", "), c.Extensions.Issuer, ErrIssuer).with(fix)
	}
	for _, m := range p.compiled.identity {
		if m.githubOnly && s.kind != signerGitHub && s.kind != signerFulcio {
			return notApplicable("identity."+m.field, s)
		}
		if got := m.get(c); !m.want.Match(got) {
			return fail(CheckIdentity, m.field+" "+m.want.String(), orNone(got), ErrCertificateIdentity)
		}
	}
	if p.DenySelfHostedRunners {
		if s.kind.spiffe() {
			return notApplicable("--deny-self-hosted-runners", s)
		}
		if c.RunnerEnvironment != "github-hosted" {
			return fail(CheckIdentity, "runnerEnvironment github-hosted", orNone(c.RunnerEnvironment), ErrSelfHostedRunner)
		}
	}
	if !s.kind.spiffe() {
		if flags[flagSPIFFEID] {
			return notApplicable("--spiffe-id", s)
		}
		return nil
	}
	if len(p.compiled.spiffe) == 0 {
		return fail(CheckIdentity, "a signer the policy's issuers or spiffe section accept", s.id.String(), ErrSPIFFEID).
			with("name the SPIFFE IDs that may sign: --spiffe-id spiffe://TRUST-DOMAIN/PATH, or a spiffe section in the policy")
	}
	for _, ms := range p.compiled.spiffe {
		if err := matchAnySPIFFEID(ms, s.id); err != nil {
			return fail(CheckIdentity, "a SPIFFE ID the policy accepts", s.id.String(), err)
		}
	}
	return nil
}

func matchAnySPIFFEID(ms []SPIFFEIDMatcher, id spiffeid.ID) error {
	var first error
	for _, m := range ms {
		err := m(id)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}
