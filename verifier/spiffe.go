package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// SPIFFEPolicy says which SPIFFE IDs may sign provenance, for Hallmark's
// factory mode: a controller signing with its X.509-SVID (its certificate
// chains to a SPIFFE trust bundle given to NewSPIFFE), or with a keyless
// Fulcio certificate obtained for its JWT-SVID (its SAN is the SPIFFE ID;
// list that Fulcio issuer in Policy.Issuers).
type SPIFFEPolicy struct {
	// IDs are the accepted signers, each one of:
	//   - "spiffe://TRUST-DOMAIN/PATH": exactly this ID;
	//   - "spiffe://TRUST-DOMAIN/PATH/*": any ID whose path starts with
	//     /PATH/;
	//   - "spiffe://TRUST-DOMAIN": any ID of the trust domain.
	// Required: at least one.
	IDs []string `json:"ids"`
}

// SPIFFEIDMatcher accepts or rejects a signer's SPIFFE ID.
type SPIFFEIDMatcher func(spiffeid.ID) error

// ErrSPIFFEID: the signer's SPIFFE ID is not one the policy accepts.
var ErrSPIFFEID = errors.New("untrusted SPIFFE ID")

// ParseSPIFFEIDPattern compiles one entry of SPIFFEPolicy.IDs.
func ParseSPIFFEIDPattern(s string) (SPIFFEIDMatcher, error) {
	if prefix, ok := strings.CutSuffix(s, "/*"); ok {
		id, err := spiffeid.FromString(prefix)
		if err != nil {
			return nil, fmt.Errorf("spiffe id pattern %q: %w", s, err)
		}
		td, path := id.TrustDomain(), id.Path()+"/"
		return func(got spiffeid.ID) error {
			if got.TrustDomain() != td || !strings.HasPrefix(got.Path(), path) {
				return fmt.Errorf("%w: want %s, got %s", ErrSPIFFEID, s, got)
			}
			return nil
		}, nil
	}
	id, err := spiffeid.FromString(s)
	if err != nil {
		return nil, fmt.Errorf("spiffe id pattern %q: %w", s, err)
	}
	if id.Path() == "" {
		m := spiffeid.MatchMemberOf(id.TrustDomain())
		return func(got spiffeid.ID) error {
			if err := m(got); err != nil {
				return fmt.Errorf("%w: want a member of %s, got %s", ErrSPIFFEID, id.TrustDomain(), got)
			}
			return nil
		}, nil
	}
	return func(got spiffeid.ID) error {
		if got != id {
			return fmt.Errorf("%w: want %s, got %s", ErrSPIFFEID, id, got)
		}
		return nil
	}, nil
}

func (sp *SPIFFEPolicy) compile() ([]SPIFFEIDMatcher, error) {
	if sp == nil {
		return nil, nil
	}
	if len(sp.IDs) == 0 {
		return nil, errors.New("spiffe: no ids")
	}
	var ms []SPIFFEIDMatcher
	for i, s := range sp.IDs {
		m, err := ParseSPIFFEIDPattern(s)
		if err != nil {
			return nil, fmt.Errorf("spiffe.ids[%d]: %w", i, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// LoadSPIFFEBundle reads a SPIFFE trust bundle's X.509 authorities: PEM
// certificates (as `spire-server bundle show` prints) or a SPIFFE bundle
// JSON document (`-format spiffe`). trustDomain may be empty for PEM, whose
// trust domain is then read from the CA certificates' SPIFFE ID.
func LoadSPIFFEBundle(trustDomain string, data []byte) (*x509bundle.Bundle, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("loading spiffe bundle: %w", ErrTooLarge)
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		td, err := spiffeid.TrustDomainFromString(trustDomain)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: a JSON bundle needs its trust domain: %w", err)
		}
		sb, err := spiffebundle.Parse(td, trimmed)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: %w", err)
		}
		if len(sb.X509Authorities()) == 0 {
			return nil, fmt.Errorf("loading spiffe bundle: no X.509 authorities: %w", ErrMalformed)
		}
		return x509bundle.FromX509Authorities(td, sb.X509Authorities()), nil
	}
	if trustDomain == "" {
		probe, err := x509bundle.Parse(spiffeid.RequireTrustDomainFromString("probe.invalid"), trimmed)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: %w", err)
		}
		for _, c := range probe.X509Authorities() {
			for _, u := range c.URIs {
				if id, err := spiffeid.FromURI(u); err == nil {
					trustDomain = id.TrustDomain().Name()
				}
			}
		}
		if trustDomain == "" {
			return nil, fmt.Errorf("loading spiffe bundle: no CA names its trust domain; give it: %w", ErrMalformed)
		}
	}
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		return nil, fmt.Errorf("loading spiffe bundle: %w", err)
	}
	b, err := x509bundle.Parse(td, trimmed)
	if err != nil {
		return nil, fmt.Errorf("loading spiffe bundle: %w", err)
	}
	if b.Empty() {
		return nil, fmt.Errorf("loading spiffe bundle: no certificates: %w", ErrMalformed)
	}
	return b, nil
}

// SPIFFETrustedMaterial is trusted plus the X.509 authorities of SPIFFE
// bundles: certificates that are X.509-SVIDs of those trust domains,
// valid at a verified signing time, are accepted as signing certificates,
// while logs and timestamp authorities still come from trusted.
func SPIFFETrustedMaterial(trusted root.TrustedMaterial, bundles ...*x509bundle.Bundle) root.TrustedMaterial {
	var cas []root.CertificateAuthority
	for _, b := range bundles {
		cas = append(cas, &spiffeAuthority{bundle: b})
	}
	return root.TrustedMaterialCollection{trusted, &spiffeMaterial{cas: cas}}
}

type spiffeMaterial struct {
	root.BaseTrustedMaterial
	cas []root.CertificateAuthority
}

func (m *spiffeMaterial) FulcioCertificateAuthorities() []root.CertificateAuthority { return m.cas }

// spiffeAuthority verifies X.509-SVIDs of one trust domain at a signing
// time, as x509svid.Verify does (the leaf is an SVID, not a CA, with one
// SPIFFE ID of this trust domain).
type spiffeAuthority struct{ bundle *x509bundle.Bundle }

func (a *spiffeAuthority) Verify(cert *x509.Certificate, at time.Time) ([][]*x509.Certificate, error) {
	if hasFulcioIssuer(cert) {
		return nil, errors.New("a Fulcio certificate, not an X.509-SVID")
	}
	_, chains, err := x509svid.Verify([]*x509.Certificate{cert}, a.bundle, x509svid.WithTime(at))
	return chains, err
}

// Fulcio's issuer extensions: 1.3.6.1.4.1.57264.1.8 and the deprecated .1.
var (
	oidFulcioIssuer   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	oidFulcioIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
)

func hasFulcioIssuer(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidFulcioIssuer) || e.Id.Equal(oidFulcioIssuerV1) {
			return true
		}
	}
	return false
}

// SPIFFEVerifier verifies provenance signed by X.509-SVIDs, and any
// provenance Verifier verifies. Results of SVID signatures name the SPIFFE
// ID as Identity.SAN and its trust domain (spiffe://TD) as Identity.Issuer.
type SPIFFEVerifier struct {
	*Verifier
	// keyless verifies Fulcio certificates whose SAN is a SPIFFE ID: the
	// policy without its source and ref, which such certificates do not
	// carry and checkSVIDSource checks instead; Fulcio's CAs only.
	keyless *Verifier
	bundles *x509bundle.Set
	ids     []SPIFFEIDMatcher
}

// NewSPIFFE returns a verifier for provenance signed by the SPIFFE IDs of
// policy.SPIFFE (required), whose X.509-SVIDs chain to one of bundles
// (one per trust domain; none when only keyless signers are expected), with
// signing time proven by trusted's logs or timestamp authorities. Bundles signed by Fulcio certificates go through
// Verifier.Verify; if their SAN is a SPIFFE ID it must match policy.SPIFFE.
//
// An SVID signer is granted up to level 3 (its trusted builder's MaxLevel):
// the key lives in the controller, out of reach of build steps, and the
// controller writes every field of the provenance.
func NewSPIFFE(trusted root.TrustedMaterial, bundles []*x509bundle.Bundle, policy *Policy, opts ...Option) (*SPIFFEVerifier, error) {
	if policy == nil || policy.SPIFFE == nil {
		return nil, errors.New("new spiffe verifier: the policy has no spiffe section")
	}
	ids, err := policy.SPIFFE.compile()
	if err != nil {
		return nil, fmt.Errorf("new spiffe verifier: %w", err)
	}
	if trusted == nil {
		return nil, errors.New("new spiffe verifier: no trusted material")
	}
	v, err := New(SPIFFETrustedMaterial(trusted, bundles...), policy, opts...)
	if err != nil {
		return nil, err
	}
	// The keyless verifier leaves out what verifyKeyless checks itself with
	// the real policy: source and ref (from the provenance the controller
	// wrote) and the builder (with the SPIFFE ID as signer). Its result is
	// never returned without those checks.
	kp := *policy
	kp.Source, kp.SourceBranch, kp.SourceTag, kp.SourceVersionedTag = "", "", "", ""
	kp.Builders = []TrustedBuilder{{Name: "keyless-spiffe", ID: "regexp:.*", MaxLevel: 3}}
	kp.BuilderID, kp.MinLevel = "", 0
	keyless, err := New(trusted, &kp, opts...)
	if err != nil {
		return nil, err
	}
	return &SPIFFEVerifier{Verifier: v, keyless: keyless, bundles: x509bundle.NewSet(bundles...), ids: ids}, nil
}

func (v *SPIFFEVerifier) matchID(id spiffeid.ID) error {
	var errs []error
	for _, m := range v.ids {
		err := m(id)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fail(CheckIdentity, "SPIFFE ID "+strings.Join(v.policy.SPIFFE.IDs, " or "), id.String(), errors.Join(errs...))
}

// Verify verifies one bundle for the artifact with any of the digests; see
// Verifier.Verify for the checks.
func (v *SPIFFEVerifier) Verify(b *bundle.Bundle, digests ...Digest) (*Result, error) {
	leaf := leafCertificate(b)
	if leaf != nil && hasFulcioIssuer(leaf) && spiffeSAN(leaf) {
		return v.verifyKeyless(b, digests)
	}
	if leaf == nil || hasFulcioIssuer(leaf) {
		res, err := v.Verifier.Verify(b, digests...)
		if err != nil {
			return nil, err
		}
		if id, perr := spiffeid.FromString(res.Identity.SAN); perr == nil {
			if err := v.matchID(id); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	return v.verifySVID(b, digests)
}

// VerifyAny verifies each bundle in turn and returns the first success.
func (v *SPIFFEVerifier) VerifyAny(bundles []*bundle.Bundle, digests ...Digest) (*Result, error) {
	return verifyAny(v.Verify, bundles, digests)
}

func leafCertificate(b *bundle.Bundle) *x509.Certificate {
	if b == nil || b.Bundle == nil {
		return nil
	}
	vc, err := b.VerificationContent()
	if err != nil || vc == nil {
		return nil
	}
	return vc.Certificate()
}

func (v *SPIFFEVerifier) verifySVID(b *bundle.Bundle, digests []Digest) (*Result, error) {
	payload, res, stamps, err := v.signedPayload(b)
	if err != nil {
		return nil, err
	}
	if len(stamps) == 0 {
		return nil, fail(CheckTimestamp, "a verified signing time", "none", ErrMalformed)
	}
	// sigstore-go found the certificate valid at a signing time; name the
	// SVID's identity, checked again against the bundle of its own trust
	// domain at every verified time.
	leaf := leafCertificate(b)
	var id spiffeid.ID
	for _, ts := range stamps {
		id, _, err = x509svid.Verify([]*x509.Certificate{leaf}, v.bundles, x509svid.WithTime(ts.Time))
		if err != nil {
			return nil, fail(CheckSignature, "an X.509-SVID valid at "+ts.Time.UTC().Format(time.RFC3339), "not", err)
		}
	}
	if err := v.matchID(id); err != nil {
		return nil, err
	}
	cert := certFields{SubjectAlternativeName: id.String()}
	cert.Issuer = "spiffe://" + id.TrustDomain().Name()
	cert.BuildSignerURI = id.String()
	p := v.policy
	for _, m := range p.compiled.identity {
		if m.field != "san" {
			continue
		}
		if got := m.get(&p.Identity, &cert); !m.want.Match(got) {
			return nil, fail(CheckIdentity, m.field+" "+m.want.String(), got, ErrCertificateIdentity)
		}
	}
	st, names, known, err := p.statementChecks(payload, digests, &cert)
	if err != nil {
		return nil, err
	}
	bid := BuilderID{ID: st.builderID(), Signer: id.String(), BuildType: st.buildType()}
	trustedName, level, err := p.checkSVIDBuilder(bid)
	if err != nil {
		return nil, err
	}
	if err := p.checkSVIDSource(st); err != nil {
		return nil, err
	}
	if p.SourceBranch != "" || p.SourceTag != "" || p.SourceVersionedTag != "" {
		return nil, fail(CheckRef, "a source ref", "factory provenance, which records the commit built, not a ref", ErrRefKind)
	}
	if err := p.parameterChecks(st, payload, &cert, known); err != nil {
		return nil, err
	}
	v.log.Debug("provenance verified", "builder", bid.ID, "spiffe_id", id.String(), "level", level)
	return &Result{
		Statement:      res.Statement,
		Payload:        payload,
		PredicateType:  st.PredicateType,
		BuildType:      st.buildType(),
		BuilderID:      bid.ID,
		TrustedBuilder: trustedName,
		Level:          level,
		Identity:       CertificateIdentity{Issuer: cert.Issuer, SAN: id.String()},
		Subjects:       names,
		Timestamps:     stamps,
		VerifiedAt:     v.now(),
	}, nil
}

// checkSVIDBuilder is checkBuilder for an SVID signer, whose evidence
// supports level 3.
func (p *Policy) checkSVIDBuilder(b BuilderID) (string, int, error) {
	if p.compiled.expectLoose != nil {
		if err := p.compiled.expectLoose(b); err != nil {
			return "", 0, fail(CheckBuilder, p.BuilderID, b.ID, fmt.Errorf("%w: %w", ErrBuilderMismatch, err))
		}
	}
	name, maxLevel := "", 0
	var why []error
	for _, tb := range p.compiled.builders {
		if err := tb.match(b); err != nil {
			why = append(why, fmt.Errorf("%s: %w", tb.name, err))
			continue
		}
		name, maxLevel = tb.name, tb.maxLevel
		break
	}
	if name == "" && p.compiled.expectLoose != nil {
		name, maxLevel = p.BuilderID, 3
	}
	if name == "" {
		return "", 0, fail(CheckBuilder, "a trusted builder", b.ID+" signed by "+b.Signer, fmt.Errorf("%w: %w", ErrUntrustedBuilder, errors.Join(why...)))
	}
	if maxLevel < p.MinLevel {
		return "", 0, fail(CheckBuilder, fmt.Sprintf("level %d", p.MinLevel), fmt.Sprintf("level %d", maxLevel), ErrLevelTooLow)
	}
	return name, maxLevel, nil
}

// svidSourceDependency is the name Chains (and the factory) give the
// resolved dependency made from the CHAINS-GIT_URL/CHAINS-GIT_COMMIT hints:
// the source the run built, as opposed to the Task's own repository.
const svidSourceDependency = "inputs/result"

// checkSVIDSource checks the policy's source for an SVID signer. An SVID
// names no repository; but the signer is the factory's controller, which
// writes every field of the provenance itself (builds cannot reach its
// key), so the git source it recorded is what the source is compared with.
func (p *Policy) checkSVIDSource(st *statement) error {
	want := p.compiled.source
	if want == "" {
		return nil
	}
	var got []string
	if st.v1 != nil {
		for _, d := range st.v1.BuildDefinition.ResolvedDependencies {
			if d.Name != svidSourceDependency || !strings.HasPrefix(d.URI, "git+") {
				continue
			}
			uri, _, _ := strings.Cut(d.URI, "@")
			norm, err := normalizeSource(strings.TrimSuffix(uri, ".git"))
			if err != nil {
				continue
			}
			if norm == want {
				return nil
			}
			got = append(got, norm)
		}
	}
	if len(got) == 0 {
		return fail(CheckSource, want, "no git source recorded (CHAINS-GIT_URL)", ErrSourceMismatch)
	}
	return fail(CheckSource, want, strings.Join(got, ", "), ErrSourceMismatch)
}

// spiffeSAN reports whether a certificate names a SPIFFE ID as its SAN, as
// Fulcio's spiffe issuer writes it. It only routes: the identity that counts
// is the one verification returns.
func spiffeSAN(c *x509.Certificate) bool {
	return len(c.URIs) == 1 && c.URIs[0].Scheme == "spiffe"
}

// verifyKeyless verifies provenance signed with a Fulcio certificate bought
// with a JWT-SVID: Verifier.Verify's checks, then the SPIFFE ID, the builder
// (the SPIFFE ID as signer, up to the entry's level) and the source the
// controller recorded, since the certificate names none.
func (v *SPIFFEVerifier) verifyKeyless(b *bundle.Bundle, digests []Digest) (*Result, error) {
	res, err := v.keyless.Verify(b, digests...)
	if err != nil {
		return nil, err
	}
	id, err := spiffeid.FromString(res.Identity.SAN)
	if err != nil {
		return nil, fail(CheckIdentity, "a SPIFFE ID", res.Identity.SAN, ErrCertificateIdentity)
	}
	if err := v.matchID(id); err != nil {
		return nil, err
	}
	p := v.policy
	// As for an X.509-SVID: the JWT-SVID that bought the certificate is
	// the controller's, out of reach of build steps.
	name, level, err := p.checkSVIDBuilder(BuilderID{ID: res.BuilderID, Signer: id.String(), BuildType: res.BuildType})
	if err != nil {
		return nil, err
	}
	res.TrustedBuilder, res.Level = name, level
	st, err := parseStatement(res.Payload, p.compiled.maxSubjects)
	if err != nil {
		return nil, fail(CheckInput, "an in-toto statement", "undecodable", err)
	}
	if err := p.checkSVIDSource(st); err != nil {
		return nil, err
	}
	if p.SourceBranch != "" || p.SourceTag != "" || p.SourceVersionedTag != "" {
		return nil, fail(CheckRef, "a source ref", "factory provenance, which records the commit built, not a ref", ErrRefKind)
	}
	return res, nil
}
