package verifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	signer, parentCert := key, tmpl
	if parent != nil {
		signer, parentCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: c, key: key}
}

func caTemplate(name string, from, to time.Time, pathLen int) *x509.Certificate {
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, NotBefore: from, NotAfter: to,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
}

// TestLinkedCAMatchesFulcioCA: a CA whose intermediate-to-root link was
// checked once gives the same verdict as sigstore-go's, at times inside and
// outside each certificate's validity, for leaves of the CA and of another.
func TestLinkedCAMatchesFulcioCA(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rootCA := issue(t, caTemplate("root", t0, t0.Add(100*24*time.Hour), 1), nil)
	inter := issue(t, caTemplate("intermediate", t0.Add(24*time.Hour), t0.Add(50*24*time.Hour), 0), rootCA)
	leaf := issue(t, &x509.Certificate{
		NotBefore: t0.Add(30 * 24 * time.Hour), NotAfter: t0.Add(30*24*time.Hour + 10*time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}, inter)
	otherRoot := issue(t, caTemplate("other root", t0, t0.Add(100*24*time.Hour), 1), nil)
	stranger := issue(t, &x509.Certificate{
		NotBefore: t0.Add(30 * 24 * time.Hour), NotAfter: t0.Add(30*24*time.Hour + 10*time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}, otherRoot)

	byRoot := issue(t, &x509.Certificate{
		NotBefore: t0.Add(30 * 24 * time.Hour), NotAfter: t0.Add(30*24*time.Hour + 10*time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}, rootCA)
	// crypto/x509 parses policy constraints but does not write them.
	constrained := *leaf.cert
	constrained.RequireExplicitPolicyZero = true

	fca := &root.FulcioCertificateAuthority{Root: rootCA.cert, Intermediates: []*x509.Certificate{inter.cert}}
	linked := newLinkedCA(fca)
	if linked == nil {
		t.Fatal("a root with an intermediate directly under it was not linked")
	}
	signed := t0.Add(30*24*time.Hour + time.Minute)
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		at   time.Time
	}{
		{"leaf at signing time", leaf.cert, signed},
		{"leaf after it expired", leaf.cert, signed.Add(time.Hour)},
		{"leaf before it was valid", leaf.cert, signed.Add(-time.Hour)},
		{"another CA's leaf", stranger.cert, signed},
		{"leaf the root signed itself", byRoot.cert, signed},
		{"leaf requiring an explicit policy", &constrained, signed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, want := fca.Verify(tc.cert, tc.at)
			_, got := linked.Verify(tc.cert, tc.at)
			if (want == nil) != (got == nil) {
				t.Fatalf("sigstore-go says %v, the linked CA %v", want, got)
			}
		})
	}
	// Past the intermediate's and the root's validity, at a time the leaf
	// itself could claim: both refuse.
	for _, at := range []time.Time{t0.Add(60 * 24 * time.Hour), t0.Add(200 * 24 * time.Hour)} {
		if _, err := linked.Verify(leaf.cert, at); err == nil {
			t.Errorf("verified at %s, past the CA's validity", at)
		}
	}

	t.Run("not linked", func(t *testing.T) {
		noCA := issue(t, caTemplate("root allowing no CA", t0, t0.Add(100*24*time.Hour), 0), nil)
		under := issue(t, caTemplate("intermediate", t0, t0.Add(50*24*time.Hour), 0), noCA)
		if newLinkedCA(&root.FulcioCertificateAuthority{Root: noCA.cert, Intermediates: []*x509.Certificate{under.cert}}) != nil {
			t.Error("a root with path length 0 was linked")
		}
		if newLinkedCA(&root.FulcioCertificateAuthority{Root: rootCA.cert, Intermediates: []*x509.Certificate{stranger.cert}}) != nil {
			t.Error("an intermediate the root did not sign was linked")
		}
		notCA := issue(t, &x509.Certificate{
			Subject: pkix.Name{CommonName: "not a CA"}, NotBefore: t0, NotAfter: t0.Add(50 * 24 * time.Hour),
			KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		}, rootCA)
		if newLinkedCA(&root.FulcioCertificateAuthority{Root: rootCA.cert, Intermediates: []*x509.Certificate{notCA.cert}}) != nil {
			t.Error("an intermediate that is no CA was linked")
		}
		// crypto/x509 parses policy mappings but does not write them.
		mapping := *issue(t, caTemplate("mapping intermediate", t0, t0.Add(50*24*time.Hour), 0), rootCA).cert
		mapping.PolicyMappings = []x509.PolicyMapping{{IssuerDomainPolicy: mustOID(t, "1.2.3"), SubjectDomainPolicy: mustOID(t, "1.2.4")}}
		if newLinkedCA(&root.FulcioCertificateAuthority{Root: rootCA.cert, Intermediates: []*x509.Certificate{&mapping}}) != nil {
			t.Error("an intermediate mapping policies was linked")
		}
		if newLinkedCA(&root.FulcioCertificateAuthority{Root: rootCA.cert}) != nil {
			t.Error("a CA without intermediates was linked")
		}
	})
}

func mustOID(t *testing.T, s string) x509.OID {
	t.Helper()
	oid, err := x509.ParseOID(s)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}
