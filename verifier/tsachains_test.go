package verifier

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// tsaLeafTemplate is a timestamping certificate as RFC 3161 wants it: one
// extended key usage, timestamping, marked critical.
func tsaLeafTemplate(t testing.TB, from, to time.Time, critical bool) *x509.Certificate {
	t.Helper()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	return &x509.Certificate{
		Subject: pkix.Name{CommonName: "tsa"}, NotBefore: from, NotAfter: to,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: critical, Value: eku}},
	}
}

// TestLinkedTSAMatchesTimestampingAuthority: an authority whose signing
// certificate's chain was built once gives the verdict, and the time, of
// sigstore-go's, for timestamps with and without embedded certificates,
// over other bytes, at times outside the certificates' and the authority's
// validity, and from another authority.
func TestLinkedTSAMatchesTimestampingAuthority(t *testing.T) {
	// The response's signing-time attribute is now, which the signing
	// certificate must cover.
	day := 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Second).Add(-20 * day)
	tsaCA := func(name string, parent *testCert) *testCert {
		tmpl := caTemplate(name, t0, t0.Add(100*day), 1)
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
		return issue(t, tmpl, parent)
	}
	rootCA := tsaCA("tsa root", nil)
	inter := tsaCA("tsa intermediate", rootCA)
	leaf := issue(t, tsaLeafTemplate(t, t0.Add(10*day), t0.Add(50*day), true), inter)
	otherRoot := tsaCA("other tsa root", nil)
	otherLeaf := issue(t, tsaLeafTemplate(t, t0.Add(10*day), t0.Add(50*day), true), otherRoot)

	tsa := &root.SigstoreTimestampingAuthority{
		Root: rootCA.cert, Intermediates: []*x509.Certificate{inter.cert}, Leaf: leaf.cert,
		URI: "https://tsa.example", ValidityPeriodEnd: t0.Add(40 * day),
	}
	linked := newLinkedTSA(tsa)
	if linked == nil {
		t.Fatal("an authority with its signing certificate named was not linked")
	}

	signature := []byte("the signature timestamped")
	stamp := func(by *testCert, over []byte, at time.Time, embed bool) []byte {
		t.Helper()
		h := sha256.Sum256(over)
		ts := timestamp.Timestamp{
			HashAlgorithm: crypto.SHA256, HashedMessage: h[:], Time: at,
			SerialNumber: big.NewInt(1), Policy: asn1.ObjectIdentifier{1, 2, 3}, AddTSACertificate: embed,
		}
		resp, err := ts.CreateResponseWithOpts(by.cert, by.key, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	signed := t0.Add(20 * day)
	for _, tc := range []struct {
		name string
		tsr  []byte
	}{
		{"certificate embedded", stamp(leaf, signature, signed, true)},
		{"no certificate embedded", stamp(leaf, signature, signed, false)},
		{"over other bytes", stamp(leaf, []byte("another signature"), signed, true)},
		{"before the signing certificate", stamp(leaf, signature, t0.Add(5*day), true)},
		{"after the signing certificate", stamp(leaf, signature, t0.Add(60*day), false)},
		{"after the authority's validity period", stamp(leaf, signature, t0.Add(45*day), true)},
		{"another authority's", stamp(otherLeaf, signature, signed, true)},
		{"another authority's without certificate", stamp(otherLeaf, signature, signed, false)},
		{"not a timestamp", []byte("garbage")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := tsa.Verify(tc.tsr, signature)
			got, gotErr := linked.Verify(tc.tsr, signature)
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("sigstore-go says %v, the linked authority %v", wantErr, gotErr)
			}
			if wantErr == nil && (!want.Time.Equal(got.Time) || want.URI != got.URI) {
				t.Fatalf("sigstore-go verified %v, the linked authority %v", want, got)
			}
			if wantErr != nil && wantErr.Error() != gotErr.Error() {
				t.Fatalf("sigstore-go refuses with %q, the linked authority with %q", wantErr, gotErr)
			}
		})
	}
	// Honest timestamps pass, on the linked path.
	for _, embed := range []bool{true, false} {
		if linked.verifyLinked(stamp(leaf, signature, signed, embed), signature) == nil {
			t.Errorf("an honest timestamp (certificate embedded: %v) took sigstore-go's path", embed)
		}
	}

	t.Run("not linked", func(t *testing.T) {
		lax := issue(t, tsaLeafTemplate(t, t0.Add(10*day), t0.Add(50*day), false), inter)
		for name, a := range map[string]*root.SigstoreTimestampingAuthority{
			"extended key usage not critical": {Root: rootCA.cert, Intermediates: []*x509.Certificate{inter.cert}, Leaf: lax.cert},
			"no signing certificate named":    {Root: rootCA.cert, Intermediates: []*x509.Certificate{inter.cert}},
			"signing certificate of another":  {Root: rootCA.cert, Intermediates: []*x509.Certificate{inter.cert}, Leaf: otherLeaf.cert},
		} {
			if newLinkedTSA(a) != nil {
				t.Errorf("%s: linked", name)
			}
		}
	})
}

// FuzzLinkedTSA: for any bytes offered as a timestamp response, the linked
// authority's verdict, time and error are sigstore-go's.
func FuzzLinkedTSA(f *testing.F) {
	day := 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Second).Add(-20 * day)
	tmpl := caTemplate("tsa root", t0, t0.Add(100*day), 1)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	rootCA := issue(f, tmpl, nil)
	leaf := issue(f, tsaLeafTemplate(f, t0.Add(10*day), t0.Add(50*day), true), rootCA)
	tsa := &root.SigstoreTimestampingAuthority{Root: rootCA.cert, Leaf: leaf.cert, URI: "https://tsa.example"}
	linked := newLinkedTSA(tsa)
	if linked == nil {
		f.Fatal("not linked")
	}
	signature := []byte("the signature timestamped")
	for _, embed := range []bool{true, false} {
		for _, hash := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			h := hash.New()
			h.Write(signature)
			ts := timestamp.Timestamp{
				HashAlgorithm: hash, HashedMessage: h.Sum(nil), Time: t0.Add(20 * day),
				SerialNumber: big.NewInt(7), Policy: asn1.ObjectIdentifier{1, 2, 3}, AddTSACertificate: embed,
			}
			resp, err := ts.CreateResponseWithOpts(leaf.cert, leaf.key, crypto.SHA256)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(resp)
		}
	}
	f.Fuzz(func(t *testing.T, tsr []byte) {
		want, wantErr := tsa.Verify(tsr, signature)
		got, gotErr := linked.Verify(tsr, signature)
		switch {
		case (wantErr == nil) != (gotErr == nil):
			t.Fatalf("sigstore-go says %v, the linked authority %v", wantErr, gotErr)
		case wantErr != nil && wantErr.Error() != gotErr.Error():
			t.Fatalf("sigstore-go refuses with %q, the linked authority with %q", wantErr, gotErr)
		case wantErr == nil && (!want.Time.Equal(got.Time) || want.URI != got.URI):
			t.Fatalf("sigstore-go verified %v, the linked authority %v", want, got)
		}
	})
}
