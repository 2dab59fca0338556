package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

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
// list that Fulcio issuer in Policy.Issuers). Accepting a signer is not
// trusting it as a builder: a Builders entry whose Signer names the SPIFFE
// ID (or a pattern that fixes its trust domain and path) grants the level.
type SPIFFEPolicy struct {
	// IDs are the accepted signers, each one of:
	//   - "spiffe://TRUST-DOMAIN/PATH": exactly this ID;
	//   - "spiffe://TRUST-DOMAIN/PATH/*": any ID whose path starts with
	//     /PATH/;
	//   - "spiffe://TRUST-DOMAIN": any ID of the trust domain (which names
	//     no builder: every workload of the domain has such an ID).
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
		if id.Path() == "" {
			return nil, fmt.Errorf("spiffe id pattern %q: write spiffe://%s for the whole trust domain", s, id.TrustDomain())
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

func compileSPIFFEIDs(field string, ids []string) ([]SPIFFEIDMatcher, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s: no ids", field)
	}
	var ms []SPIFFEIDMatcher
	for i, s := range ids {
		m, err := ParseSPIFFEIDPattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// spiffeBuilderPrefix reports whether a builder's Signer pattern can name a
// SPIFFE signer, and refuses one that would name a whole trust domain: a
// pattern names SPIFFE signers when every string it matches starts with
// spiffe://, and it must then fix the trust domain and the first character
// of the path.
func spiffeBuilderPrefix(p Pattern) (bool, error) {
	rest, ok := strings.CutPrefix(p.literalPrefix(), "spiffe://")
	if !ok {
		return false, nil
	}
	td, path, _ := strings.Cut(rest, "/")
	if td == "" || path == "" {
		return false, fmt.Errorf("signer %s: a SPIFFE builder must be a full SPIFFE ID or a pattern with a path (spiffe://TRUST-DOMAIN/PATH): a trust domain is not a builder", p)
	}
	return true, nil
}

// LoadSPIFFEBundle reads a SPIFFE trust bundle's X.509 authorities: PEM
// certificates (as `spire-server bundle show` prints) or a SPIFFE bundle
// JSON document (`-format spiffe`). Each CA belongs to the trust domain its
// own SPIFFE ID names; a CA that names none belongs to trustDomain, which
// a JSON bundle must also give. A CA naming another domain than
// trustDomain is refused, so a partner's CA cannot be relabelled as yours.
// A PEM file of several trust domains' CAs gives one bundle per domain.
func LoadSPIFFEBundle(trustDomain string, data []byte) ([]*x509bundle.Bundle, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("loading spiffe bundle: %w", ErrTooLarge)
	}
	var given spiffeid.TrustDomain
	if trustDomain != "" {
		td, err := spiffeid.TrustDomainFromString(trustDomain)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: %w", err)
		}
		given = td
	}
	var cas []*x509.Certificate
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("{")) {
		if given.IsZero() {
			return nil, fmt.Errorf("loading spiffe bundle: a JSON bundle does not name its trust domain; give it (--spiffe-trust-domain): %w", ErrMalformed)
		}
		sb, err := spiffebundle.Parse(given, trimmed)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: %w", err)
		}
		cas = sb.X509Authorities()
	} else {
		probe, err := x509bundle.Parse(spiffeid.RequireTrustDomainFromString("probe.invalid"), trimmed)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: %w", err)
		}
		cas = probe.X509Authorities()
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("loading spiffe bundle: no X.509 authorities: %w", ErrMalformed)
	}
	byTD := map[spiffeid.TrustDomain][]*x509.Certificate{}
	var order []spiffeid.TrustDomain
	for i, c := range cas {
		td, err := caTrustDomain(c)
		if err != nil {
			return nil, fmt.Errorf("loading spiffe bundle: CA %d (%s): %w", i, c.Subject, err)
		}
		switch {
		case td.IsZero() && given.IsZero():
			return nil, fmt.Errorf("loading spiffe bundle: CA %d (%s) names no trust domain; give it (--spiffe-trust-domain): %w", i, c.Subject, ErrMalformed)
		case td.IsZero():
			td = given
		case !given.IsZero() && td != given:
			return nil, fmt.Errorf("loading spiffe bundle: CA %d (%s) belongs to trust domain %s, not %s: %w", i, c.Subject, td, given, ErrMalformed)
		}
		if _, seen := byTD[td]; !seen {
			order = append(order, td)
		}
		byTD[td] = append(byTD[td], c)
	}
	var out []*x509bundle.Bundle
	for _, td := range order {
		out = append(out, x509bundle.FromX509Authorities(td, byTD[td]))
	}
	return out, nil
}

// caTrustDomain is the trust domain a CA certificate's SPIFFE URI names,
// or zero when it names none.
func caTrustDomain(c *x509.Certificate) (spiffeid.TrustDomain, error) {
	var td spiffeid.TrustDomain
	for _, u := range c.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		id, err := spiffeid.FromURI(u)
		if err != nil {
			return spiffeid.TrustDomain{}, err
		}
		if !td.IsZero() && id.TrustDomain() != td {
			return spiffeid.TrustDomain{}, fmt.Errorf("names two trust domains, %s and %s", td, id.TrustDomain())
		}
		td = id.TrustDomain()
	}
	return td, nil
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

// NewSPIFFE returns a verifier that also accepts provenance signed by the
// SPIFFE IDs of policy.SPIFFE (required), whose X.509-SVIDs chain to one of
// bundles (one per trust domain; none when only keyless signers are
// expected), with signing time proven by trusted's logs or timestamp
// authorities. It is New with WithSPIFFEBundles.
func NewSPIFFE(trusted root.TrustedMaterial, bundles []*x509bundle.Bundle, policy *Policy, opts ...Option) (*Verifier, error) {
	if policy == nil || policy.SPIFFE == nil {
		return nil, errors.New("new spiffe verifier: the policy has no spiffe section")
	}
	return New(trusted, policy, append(opts, WithSPIFFEBundles(bundles...))...)
}
