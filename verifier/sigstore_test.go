package verifier_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// testSigstore is a private Sigstore for unit tests: sigstore-go's
// VirtualSigstore provides Rekor and the TSA, and a Fulcio CA of our own
// issues certificates carrying GitHub's Fulcio extensions, which the
// virtual Fulcio cannot.
type testSigstore struct {
	virtual   *ca.VirtualSigstore
	fulcio    *testCA
	withCTLog bool
}

type testCA struct {
	root, intermediate *x509.Certificate
	key                *ecdsa.PrivateKey
}

func newTestSigstore(t testing.TB) *testSigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	return &testSigstore{virtual: vs, fulcio: newTestCA(t)}
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	rootKey := mustKey(t)
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test fulcio root"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	interKey := mustKey(t)
	interTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test fulcio intermediate"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, rootCert, &interKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(interDER)
	return &testCA{root: rootCert, intermediate: inter, key: interKey}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TrustedMaterial implements root.TrustedMaterial: our Fulcio, the virtual
// Rekor and TSA, and CT logs only when withCTLog is set.
func (s *testSigstore) TimestampingAuthorities() []root.TimestampingAuthority {
	return s.virtual.TimestampingAuthorities()
}

func (s *testSigstore) FulcioCertificateAuthorities() []root.CertificateAuthority {
	return []root.CertificateAuthority{&root.FulcioCertificateAuthority{
		Root: s.fulcio.root, Intermediates: []*x509.Certificate{s.fulcio.intermediate},
	}}
}

func (s *testSigstore) RekorLogs() map[string]*root.TransparencyLog { return s.virtual.RekorLogs() }

func (s *testSigstore) CTLogs() map[string]*root.TransparencyLog {
	if s.withCTLog {
		return s.virtual.CTLogs()
	}
	return map[string]*root.TransparencyLog{}
}

func (s *testSigstore) PublicKeyVerifier(id string) (root.TimeConstrainedVerifier, error) {
	return nil, fmt.Errorf("no public key %s", id)
}

// ghFacts are the OIDC claims a GitHub Actions certificate records.
type ghFacts struct {
	issuer, signer, signerDigest, runner, repo, sha, ref, repoID, owner, ownerID, config, trigger, run string
	notBefore, notAfter                                                                                time.Time
}

func defaultFacts() ghFacts {
	now := time.Now()
	return ghFacts{
		issuer:       "https://token.actions.githubusercontent.com",
		signer:       "https://github.com/acme/build/.github/workflows/build.yml@refs/tags/v1.0.0",
		signerDigest: "1111111111111111111111111111111111111111",
		runner:       "github-hosted",
		repo:         "https://github.com/acme/app",
		sha:          "2222222222222222222222222222222222222222",
		ref:          "refs/tags/v1.2.3",
		repoID:       "42", owner: "https://github.com/acme", ownerID: "7",
		config:    "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
		trigger:   "push",
		run:       "https://github.com/acme/app/actions/runs/99/attempts/1",
		notBefore: now.Add(-time.Minute), notAfter: now.Add(10 * time.Minute),
	}
}

// leaf issues a Fulcio-style certificate with GitHub's extensions.
func (c *testCA) leaf(t testing.TB, f ghFacts, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	san, err := url.Parse(f.signer)
	if err != nil {
		t.Fatal(err)
	}
	ext := func(n int, v string) pkix.Extension {
		der, err := asn1.MarshalWithParams(v, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, n}, Value: der}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    f.notBefore, NotAfter: f.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		URIs:        []*url.URL{san},
		ExtraExtensions: []pkix.Extension{
			ext(8, f.issuer), ext(9, f.signer), ext(10, f.signerDigest), ext(11, f.runner),
			ext(12, f.repo), ext(13, f.sha), ext(14, f.ref), ext(15, f.repoID), ext(16, f.owner),
			ext(17, f.ownerID), ext(18, f.config), ext(19, f.sha), ext(20, f.trigger), ext(21, f.run),
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.intermediate, pub, c.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// signed is a signed statement and every piece of its bundle, so tests can
// recombine pieces from different signings.
type signed struct {
	cert      *x509.Certificate
	payload   []byte
	sig       []byte
	tlog      *protorekor.TransparencyLogEntry
	timestamp []byte
}

// sign signs payload as a DSSE envelope with a fresh key under facts f,
// logs it in the virtual Rekor and timestamps it with the virtual TSA.
func (s *testSigstore) sign(t testing.TB, ca *testCA, f ghFacts, payload []byte) *signed {
	t.Helper()
	key := mustKey(t)
	cert := ca.leaf(t, f, &key.PublicKey)
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(payloadTypeInToto), payloadTypeInToto, len(payload), payload)
	digest := sha256.Sum256([]byte(pae))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	env := &dsse.Envelope{
		PayloadType: payloadTypeInToto,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}
	entry, err := s.virtual.GenerateTlogEntry(cert, env, sig, time.Now().Unix(), true)
	if err != nil {
		t.Fatal(err)
	}
	tsr, err := s.virtual.TimestampResponse(sig)
	if err != nil {
		t.Fatal(err)
	}
	tle := entry.TransparencyLogEntry()
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	return &signed{cert: cert, payload: payload, sig: sig, tlog: tle, timestamp: tsr}
}

const payloadTypeInToto = "application/vnd.in-toto+json"

// bundle assembles a v0.3 bundle from the pieces.
func (sd *signed) bundle(t testing.TB) *bundle.Bundle {
	t.Helper()
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: sd.cert.Raw}},
	}
	if sd.tlog != nil {
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{sd.tlog}
	}
	vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
	if sd.timestamp != nil {
		vm.TimestampVerificationData.Rfc3161Timestamps = []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: sd.timestamp}}
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: sd.payload, PayloadType: payloadTypeInToto,
			Signatures: []*protodsse.Signature{{Sig: sd.sig}},
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ghStatement returns GitHub workflow/v1 provenance consistent with f for
// one subject; edit mutates the decoded statement before it is encoded.
func ghStatement(t testing.TB, f ghFacts, digest string, edit func(map[string]any)) []byte {
	t.Helper()
	path := ".github/workflows/release.yml"
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": "app", "digest": map[string]any{"sha256": digest}}},
		"predicateType": "https://slsa.dev/provenance/v1",
		"predicate": map[string]any{
			"buildDefinition": map[string]any{
				"buildType": "https://actions.github.io/buildtypes/workflow/v1",
				"externalParameters": map[string]any{
					"workflow": map[string]any{"ref": f.ref, "repository": f.repo, "path": path},
				},
				"internalParameters": map[string]any{
					"github": map[string]any{"event_name": f.trigger, "repository_id": f.repoID, "repository_owner_id": f.ownerID, "runner_environment": f.runner},
				},
				"resolvedDependencies": []any{map[string]any{"uri": "git+" + f.repo + "@" + f.ref, "digest": map[string]any{"gitCommit": f.sha}}},
			},
			"runDetails": map[string]any{
				"builder":  map[string]any{"id": f.signer},
				"metadata": map[string]any{"invocationId": f.run},
			},
		},
	}
	if edit != nil {
		edit(st)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pred returns the predicate of a statement map, for edits.
func pred(st map[string]any, keys ...string) map[string]any {
	m := st["predicate"].(map[string]any)
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}
