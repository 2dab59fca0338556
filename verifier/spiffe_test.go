package verifier_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hallmark-dev/hallmark/verifier"
)

func TestParseSPIFFEIDPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, id string
		ok          bool
	}{
		{"spiffe://example.org/ns/a/sa/b", "spiffe://example.org/ns/a/sa/b", true},
		{"spiffe://example.org/ns/a/sa/b", "spiffe://example.org/ns/a/sa/bb", false},
		{"spiffe://example.org/ns/a/*", "spiffe://example.org/ns/a/sa/b", true},
		{"spiffe://example.org/ns/a/*", "spiffe://example.org/ns/ab/sa/b", false},
		{"spiffe://example.org/ns/a/*", "spiffe://other.org/ns/a/sa/b", false},
		{"spiffe://example.org", "spiffe://example.org/anything", true},
		{"spiffe://example.org", "spiffe://example.org.evil/x", false},
	} {
		t.Run(tc.pattern+"~"+tc.id, func(t *testing.T) {
			m, err := verifier.ParseSPIFFEIDPattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			err = m(spiffeid.RequireFromString(tc.id))
			if tc.ok != (err == nil) {
				t.Fatalf("match = %v, want %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, verifier.ErrSPIFFEID) {
				t.Fatalf("err = %v, want ErrSPIFFEID", err)
			}
		})
	}
	for _, bad := range []string{"", "https://example.org/x", "spiffe://Example.org/x", "spiffe://example.org/a/../b"} {
		if _, err := verifier.ParseSPIFFEIDPattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func spiffeCA(t *testing.T, td string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://" + td)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: td}, URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestLoadSPIFFEBundle(t *testing.T) {
	ca := spiffeCA(t, "example.org")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	jsonData, err := spiffebundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("example.org"), []*x509.Certificate{ca}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, td string
		data     []byte
		wantTD   string
		wantErr  bool
	}{
		{name: "pem-trust-domain-from-ca", data: pemData, wantTD: "example.org"},
		{name: "pem-given-trust-domain", td: "example.org", data: pemData, wantTD: "example.org"},
		{name: "spiffe-json", td: "example.org", data: jsonData, wantTD: "example.org"},
		{name: "spiffe-json-without-trust-domain", data: jsonData, wantErr: true},
		{name: "empty", data: nil, wantErr: true},
		{name: "garbage", data: []byte("not a bundle"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := verifier.LoadSPIFFEBundle(tc.td, tc.data)
			if tc.wantErr {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.TrustDomain().Name() != tc.wantTD || len(b.X509Authorities()) != 1 {
				t.Fatalf("bundle for %s with %d CAs", b.TrustDomain(), len(b.X509Authorities()))
			}
		})
	}
}

func TestSPIFFEPolicyLoads(t *testing.T) {
	p, err := verifier.LoadPolicy([]byte("spiffe:\n  ids: [\"spiffe://example.org/ns/hallmark-system/*\"]\nbuilders:\n  - signer: \"glob:spiffe://example.org/**\"\n    maxLevel: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.SPIFFE == nil || len(p.SPIFFE.IDs) != 1 {
		t.Fatalf("spiffe section %+v", p.SPIFFE)
	}
	if _, err := verifier.LoadPolicy([]byte("spiffe:\n  ids: [\"https://x\"]\nbuilders: [{id: x, maxLevel: 1}]\n")); err == nil {
		t.Fatal("a non-SPIFFE id pattern was accepted")
	}
	if _, err := verifier.LoadPolicy([]byte("spiffe: {}\nbuilders: [{id: x, maxLevel: 1}]\n")); err == nil {
		t.Fatal("a spiffe section without ids was accepted")
	}
}
