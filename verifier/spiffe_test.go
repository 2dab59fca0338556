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
	"reflect"
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

// spiffeCA makes a CA certificate naming spiffe://td, or no SPIFFE ID when
// td is empty.
func spiffeCA(t *testing.T, td string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var uris []*url.URL
	if td != "" {
		u, _ := url.Parse("spiffe://" + td)
		uris = append(uris, u)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca " + td}, URIs: uris,
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

func pemOf(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func TestLoadSPIFFEBundle(t *testing.T) {
	ca, partner, anonymous := spiffeCA(t, "example.org"), spiffeCA(t, "partner.example"), spiffeCA(t, "")
	jsonOf := func(certs ...*x509.Certificate) []byte {
		data, err := spiffebundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("example.org"), certs).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name, td string
		data     []byte
		want     map[string]int // trust domain -> CAs
		wantErr  bool
	}{
		{name: "pem-trust-domain-from-ca", data: pemOf(ca), want: map[string]int{"example.org": 1}},
		{name: "pem-given-trust-domain", td: "example.org", data: pemOf(ca), want: map[string]int{"example.org": 1}},
		{name: "pem-ca-without-spiffe-id-given-trust-domain", td: "example.org", data: pemOf(anonymous), want: map[string]int{"example.org": 1}},
		{name: "pem-ca-without-spiffe-id", data: pemOf(anonymous), wantErr: true},
		{name: "pem-two-trust-domains", data: pemOf(ca, partner), want: map[string]int{"example.org": 1, "partner.example": 1}},
		// A partner's CA relabelled as your trust domain would mint SVIDs
		// of your domain: each CA belongs to the domain it names.
		{name: "pem-partner-ca-relabelled", td: "example.org", data: pemOf(ca, partner), wantErr: true},
		{name: "spiffe-json", td: "example.org", data: jsonOf(ca), want: map[string]int{"example.org": 1}},
		{name: "spiffe-json-partner-ca-relabelled", td: "example.org", data: jsonOf(ca, partner), wantErr: true},
		{name: "spiffe-json-without-trust-domain", data: jsonOf(ca), wantErr: true},
		{name: "empty", data: nil, wantErr: true},
		{name: "garbage", data: []byte("not a bundle"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := verifier.LoadSPIFFEBundle(tc.td, tc.data)
			if tc.wantErr {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, b := range bs {
				got[b.TrustDomain().Name()] = len(b.X509Authorities())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("bundles %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSPIFFEPolicyLoads(t *testing.T) {
	p, err := verifier.LoadPolicy([]byte("spiffe:\n  ids: [\"spiffe://example.org/ns/hallmark-system/*\"]\nbuilders:\n  - signer: \"glob:spiffe://example.org/ns/hallmark-system/**\"\n    maxLevel: 3\n"))
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
	// A trust domain is not a builder: every workload of the domain,
	// tenants' build pods included, has an ID in it.
	for _, signer := range []string{"spiffe://example.org", "glob:spiffe://example.org/**", "regexp:spiffe://example\\.org/.*", "glob:spiffe://*.org/ns/x"} {
		if _, err := verifier.LoadPolicy([]byte("spiffe:\n  ids: [\"spiffe://example.org\"]\nbuilders:\n  - signer: \"" + signer + "\"\n    maxLevel: 3\n")); err == nil {
			t.Errorf("builder signer %s accepted", signer)
		}
	}
}
