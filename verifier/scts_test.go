package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// oidSCTList is the certificate extension holding embedded SCTs.
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// ctLogsOf is trusted material with other CT logs.
type ctLogsOf struct {
	root.TrustedMaterial
	logs map[string]*root.TransparencyLog
}

func (m ctLogsOf) CTLogs() map[string]*root.TransparencyLog { return m.logs }

// sctFixture is the public-good trusted root and the signing certificates
// of the public bundles (RealFixtures), each with the chains sigstore-go builds for
// it (leaf, intermediate, root).
func sctFixture(t testing.TB) (*root.TrustedRoot, []*x509.Certificate, [][][]*x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "trusted-root-public-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTrustedRoot(data)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, name := range RealFixtures() {
		if strings.HasSuffix(name, ".intoto.jsonl") {
			files = append(files, RealFixture(name))
		}
	}
	var leaves []*x509.Certificate
	var chains [][][]*x509.Certificate
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := ParseBundles(data)
		if err != nil {
			continue // a bare envelope
		}
		for _, b := range bs {
			leaf := leafCertificate(b)
			if leaf == nil || seen[string(leaf.Raw)] {
				continue
			}
			seen[string(leaf.Raw)] = true
			c, err := verify.VerifyLeafCertificate(leaf.NotBefore, withoutOtherNameSAN(leaf), tr)
			if err != nil {
				continue
			}
			leaves = append(leaves, leaf)
			chains = append(chains, c)
		}
	}
	if len(leaves) < 2 {
		t.Fatalf("%d signing certificates of the public-good root in the public bundles", len(leaves))
	}
	return tr, leaves, chains
}

// withSCTByteFlipped is leaf with the last byte of its SCT list (in an SCT
// signature) changed, parsed again.
func withSCTByteFlipped(t testing.TB, leaf *x509.Certificate) *x509.Certificate {
	t.Helper()
	for _, e := range leaf.Extensions {
		if !e.Id.Equal(oidSCTList) {
			continue
		}
		at := bytes.Index(leaf.Raw, e.Value)
		if at < 0 {
			t.Fatal("SCT list not found in the certificate")
		}
		raw := bytes.Clone(leaf.Raw)
		raw[at+len(e.Value)-1] ^= 1
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Fatal("no SCT list")
	return nil
}

// compareSCT fails t unless sctVerifier gives sigstore-go's verdict and
// error.
func compareSCT(t testing.TB, tm root.TrustedMaterial, chains [][]*x509.Certificate, threshold int) error {
	t.Helper()
	want := verify.VerifySignedCertificateTimestamp(chains, threshold, tm)
	got := newSCTVerifier(tm).verify(chains, threshold)
	switch {
	case (want == nil) != (got == nil):
		t.Fatalf("sigstore-go says %v, the SCT verifier %v", want, got)
	case want != nil && want.Error() != got.Error():
		t.Fatalf("sigstore-go refuses with %q, the SCT verifier with %q", want, got)
	}
	return got
}

// TestSCTVerifierMatchesSigstore: the SCT check with one parse of the
// signing certificate and the trusted root's issuers parsed once gives
// sigstore-go's verdict and error, for honest certificates at each
// threshold, a forged SCT, a chain without or with the wrong issuer, an
// issuer outside the trusted root, unknown or expired CT logs, and bytes
// that are not DER.
func TestSCTVerifierMatchesSigstore(t *testing.T) {
	tr, leaves, chains := sctFixture(t)
	leaf, chain := leaves[0], chains[0]
	inter, rootCert := chain[0][1], chain[0][2]
	stranger := issue(t, caTemplate("stranger", leaf.NotBefore.Add(-time.Hour), leaf.NotAfter.Add(time.Hour), 0), nil)
	forged := withSCTByteFlipped(t, leaf)
	var logs map[string]*root.TransparencyLog = tr.CTLogs()
	expired := map[string]*root.TransparencyLog{}
	for id, l := range logs {
		c := *l
		c.ValidityPeriodEnd = leaf.NotBefore.Add(-time.Hour)
		expired[id] = &c
	}
	notDER := &x509.Certificate{Raw: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})}

	type tc struct {
		name      string
		tm        root.TrustedMaterial
		chains    [][]*x509.Certificate
		threshold int
		pass      bool
	}
	cases := []tc{
		{"no chains", tr, nil, 1, false},
		{"a chain of the leaf alone", tr, [][]*x509.Certificate{{leaf}}, 1, false},
		{"threshold 0 without an issuer", tr, [][]*x509.Certificate{{leaf}}, 0, true},
		{"the root as issuer", tr, [][]*x509.Certificate{{leaf, rootCert}}, 1, false},
		{"an issuer outside the trusted root", tr, [][]*x509.Certificate{{leaf, stranger.cert}}, 1, false},
		{"a wrong chain, then the right one", tr, [][]*x509.Certificate{{leaf, stranger.cert}, {leaf, inter, rootCert}}, 1, true},
		{"a forged SCT", tr, [][]*x509.Certificate{{forged, inter, rootCert}}, 1, false},
		{"no CT logs", ctLogsOf{tr, nil}, chain, 1, false},
		{"CT logs expired before the SCT", ctLogsOf{tr, expired}, chain, 1, false},
		{"not DER", tr, [][]*x509.Certificate{{notDER, inter}}, 1, false},
	}
	for i, l := range leaves {
		for th := range 3 {
			cases = append(cases, tc{l.SerialNumber.String() + " threshold " + string(rune('0'+th)), tr, chains[i], th, th <= 1})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := compareSCT(t, c.tm, c.chains, c.threshold); (err == nil) != c.pass {
				t.Fatalf("pass: %v, want %v (%v)", err == nil, c.pass, err)
			}
		})
	}
}

// FuzzSCTVerifier holds the SCT check to sigstore-go's on signing
// certificates an attacker shapes, under the public-good root's issuers
// and another's.
func FuzzSCTVerifier(f *testing.F) {
	tr, leaves, chains := sctFixture(f)
	inter, rootCert := chains[0][0][1], chains[0][0][2]
	for _, l := range leaves {
		f.Add(l.Raw, uint8(1))
	}
	f.Add(withSCTByteFlipped(f, leaves[0]).Raw, uint8(1))
	f.Fuzz(func(t *testing.T, der []byte, threshold uint8) {
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		compareSCT(t, tr, [][]*x509.Certificate{{leaf, inter, rootCert}}, int(threshold%3))
		compareSCT(t, tr, [][]*x509.Certificate{{leaf, rootCert}, {leaf, leaf}, {leaf, inter}}, int(threshold%3))
	})
}
