package verifier

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// sigstore-go verifies every signing certificate's whole chain, so each
// bundle pays again for the intermediate-to-root signature, which depends on
// the trusted root alone (a P-384 signature for the public-good instance:
// a fifth of a verification). linkedTrustedMaterial checks those links once,
// when the verifier is made, and then verifies each leaf against the
// intermediates it already trusts. It is a local wrapper around
// root.FulcioCertificateAuthority.Verify, which it must match: the same
// validity windows, key usage, path rules and chain. Where the split chain
// could decide otherwise than the whole one (a root that constrains the
// path below it by path length, names or policies; an intermediate that is
// not a CA or maps policies; a leaf with policy constraints) the CA is left
// to sigstore-go as it is, and a leaf the linked intermediates do not
// verify is verified again by sigstore-go's CA, so the linked CA never
// refuses what sigstore-go accepts. A bundle that brings intermediates of
// its own is left to sigstore-go too (see checker.sigstoreChains):
// sigstore-go adds those only to its own CA type. The timestamping
// authorities are linked the same way, in tsachains.go.

// linkedTrustedMaterial is trusted material whose Fulcio CAs verify leaves
// against pre-verified intermediates, and whose timestamping authorities
// reuse their signing certificate's pre-verified chains.
type linkedTrustedMaterial struct {
	root.TrustedMaterial
	cas  []root.CertificateAuthority
	tsas []root.TimestampingAuthority
}

func (m *linkedTrustedMaterial) FulcioCertificateAuthorities() []root.CertificateAuthority {
	return m.cas
}

func (m *linkedTrustedMaterial) TimestampingAuthorities() []root.TimestampingAuthority {
	return m.tsas
}

// LinkedTrustedMaterial returns trusted material that verifies what
// trusted verifies, with the same verdicts, but checks the links of its
// certificate chains that depend on it alone (a Fulcio intermediate by its
// root, a timestamping authority's certificate by its intermediates and
// root) once, here, rather than on every bundle. It is for code that
// verifies many bundles with sigstore-go directly (New links the trusted
// material it is given itself). Authorities it cannot link safely are kept
// as they are.
func LinkedTrustedMaterial(trusted root.TrustedMaterial) root.TrustedMaterial {
	return linkChains(trusted)
}

// linkChains wraps trusted so its Fulcio CAs verify only the leaf's link
// per bundle, and its timestamping authorities no link at all. Authorities
// it cannot link safely are kept as they are.
func linkChains(trusted root.TrustedMaterial) root.TrustedMaterial {
	var cas []root.CertificateAuthority
	changed := false
	for _, ca := range trusted.FulcioCertificateAuthorities() {
		if l := newLinkedCA(ca); l != nil {
			cas = append(cas, l)
			changed = true
			continue
		}
		cas = append(cas, ca)
	}
	var tsas []root.TimestampingAuthority
	for _, tsa := range trusted.TimestampingAuthorities() {
		if l := newLinkedTSA(tsa); l != nil {
			tsas = append(tsas, l)
			changed = true
			continue
		}
		tsas = append(tsas, tsa)
	}
	if !changed {
		return trusted
	}
	return &linkedTrustedMaterial{TrustedMaterial: trusted, cas: cas, tsas: tsas}
}

// oidNameConstraints is the X.509 name constraints extension.
var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

// constrainsNames reports whether c carries a name constraints extension,
// whatever its content (crypto/x509 applies it along the chain).
func constrainsNames(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidNameConstraints) {
			return true
		}
	}
	return false
}

// constrainsPolicies reports whether c carries policy constraints or
// policy mappings: crypto/x509's policy checks read them along the whole
// chain, so a chain verified in two pieces could be judged otherwise.
func constrainsPolicies(c *x509.Certificate) bool {
	return c.RequireExplicitPolicy > 0 || c.RequireExplicitPolicyZero ||
		c.InhibitPolicyMapping > 0 || c.InhibitPolicyMappingZero ||
		c.InhibitAnyPolicy > 0 || c.InhibitAnyPolicyZero || len(c.PolicyMappings) > 0
}

// linkedCA is a Fulcio CA whose intermediates were verified against its
// root once.
type linkedCA struct {
	ca *root.FulcioCertificateAuthority
	// anchors are the intermediates that chain to the root, as trust
	// anchors for leaves.
	anchors *x509.CertPool
}

func newLinkedCA(ca root.CertificateAuthority) *linkedCA {
	fca, ok := ca.(*root.FulcioCertificateAuthority)
	if !ok || fca.Root == nil || len(fca.Intermediates) == 0 {
		return nil
	}
	r := fca.Root
	if r.MaxPathLen == 0 {
		return nil // the root allows no CA below it: verify whole chains
	}
	if constrainsNames(r) || constrainsPolicies(r) ||
		len(r.PermittedDNSDomains)+len(r.ExcludedDNSDomains)+len(r.PermittedIPRanges)+len(r.ExcludedIPRanges)+
			len(r.PermittedEmailAddresses)+len(r.ExcludedEmailAddresses)+len(r.PermittedURIDomains)+len(r.ExcludedURIDomains) > 0 {
		return nil
	}
	for _, i := range fca.Intermediates {
		// In a whole chain an intermediate must be a CA and its policy
		// mappings count; as a trust anchor neither is checked.
		if !i.BasicConstraintsValid || !i.IsCA || constrainsPolicies(i) {
			return nil
		}
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(r)
	for _, i := range fca.Intermediates {
		inter.AddCert(i)
	}
	anchors := x509.NewCertPool()
	linked := 0
	for _, i := range fca.Intermediates {
		// The link's signatures only: the validity windows are checked
		// at each signing time, in Verify.
		chains, err := i.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: i.NotBefore,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		})
		if err != nil || len(chains) != 1 || len(chains[0]) != 2 {
			// Not directly under the root, or linked several ways: verify
			// whole chains.
			return nil
		}
		anchors.AddCert(i)
		linked++
	}
	if linked == 0 {
		return nil
	}
	return &linkedCA{ca: fca, anchors: anchors}
}

// Verify checks cert as root.FulcioCertificateAuthority.Verify does, at the
// observer timestamp: the CA's validity period, and a chain whose every
// certificate is valid at that time; the intermediates' signatures by the
// root were checked once in newLinkedCA. A leaf with policy constraints,
// or one the linked intermediates do not verify, is verified by
// sigstore-go's CA as it is.
func (l *linkedCA) Verify(cert *x509.Certificate, at time.Time) ([][]*x509.Certificate, error) {
	if constrainsPolicies(cert) {
		return l.ca.Verify(cert, at)
	}
	chains, err := l.verifyLinked(cert, at)
	if err != nil {
		return l.ca.Verify(cert, at)
	}
	return chains, nil
}

func (l *linkedCA) verifyLinked(cert *x509.Certificate, at time.Time) ([][]*x509.Certificate, error) {
	ca := l.ca
	if !ca.ValidityPeriodStart.IsZero() && at.Before(ca.ValidityPeriodStart) {
		return nil, errors.New("certificate is not valid yet")
	}
	if !ca.ValidityPeriodEnd.IsZero() && at.After(ca.ValidityPeriodEnd) {
		return nil, errors.New("certificate is no longer valid")
	}
	if at.Before(ca.Root.NotBefore) || at.After(ca.Root.NotAfter) {
		return nil, x509.CertificateInvalidError{Cert: ca.Root, Reason: x509.Expired}
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		CurrentTime: at,
		Roots:       l.anchors,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return nil, err
	}
	for i := range chains {
		chains[i] = append(chains[i], ca.Root)
	}
	return chains, nil
}
