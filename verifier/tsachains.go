package verifier

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"time"

	"crypto/x509/pkix"
	"math/big"

	"github.com/digitorus/pkcs7"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// sigstore-go verifies an RFC 3161 timestamp with the timestamp-authority
// library (root.SigstoreTimestampingAuthority.Verify, which calls
// verification.VerifyTimestampResponse), and that pays on every bundle for
// signatures that depend on the trusted root alone, or repeat one already
// checked: the authority's certificate by its intermediate and the
// intermediate by the root, and, for a response that embeds certificates,
// the timestamp's signature a second time. linkedTSA is a local wrapper
// that does the same checks with one signature: the one over the
// timestamp. It builds the signing certificate's chains once, when the
// verifier is made, and takes its fast path only where the library's
// verdict is known to be the same:
//
//   - the trusted root names the authority's signing certificate, and the
//     library's checks of that certificate alone pass (an end-entity
//     certificate whose one, critical, extended key usage is timestamping);
//   - the response's signature verifies, checked once: as the response is
//     parsed if it embeds certificates (the library's second check would
//     repeat it on the same bytes), else with the named certificate, as
//     the library does;
//   - the certificates the response embeds, if any, are all the
//     authority's own, and its one signer is the named certificate (the
//     library requires that too), so the chains the library would build at
//     the timestamp's time are those built here, less those with a
//     certificate not valid at that time;
//   - one such chain is valid at the timestamp's time and passes the
//     library's rule for intermediates' key usage;
//   - the hash algorithm, the hashed message and the authority's validity
//     period check out as the library and sigstore-go check them.
//
// Anything else (a response that brings certificates of its own, a failure
// of any check) is verified by sigstore-go's authority as it is,
// so the verdict and its error are the library's.
type linkedTSA struct {
	tsa *root.SigstoreTimestampingAuthority
	// chains are the signing certificate's chains to the root, each
	// passing crypto/x509's checks but validity and the library's
	// intermediate key usage rule.
	chains [][]*x509.Certificate
}

// oidExtKeyUsage is the X.509 extended key usage extension.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

func newLinkedTSA(ta root.TimestampingAuthority) *linkedTSA {
	tsa, ok := ta.(*root.SigstoreTimestampingAuthority)
	if !ok || tsa.Root == nil || tsa.Leaf == nil {
		return nil
	}
	leaf := tsa.Leaf
	// verification.verifyLeafCert's checks of the certificate alone.
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			critical = e.Critical
			break
		}
	}
	if leaf.IsCA || !critical || len(leaf.ExtKeyUsage)+len(leaf.UnknownExtKeyUsage) != 1 ||
		len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping {
		return nil
	}
	// Build the chains at a time every certificate of the authority is
	// valid: then only validity, checked per timestamp, depends on time.
	all := append([]*x509.Certificate{leaf, tsa.Root}, tsa.Intermediates...)
	from, to := all[0].NotBefore, all[0].NotAfter
	for _, c := range all[1:] {
		if c == nil {
			return nil
		}
		if c.NotBefore.After(from) {
			from = c.NotBefore
		}
		if c.NotAfter.Before(to) {
			to = c.NotAfter
		}
	}
	if from.After(to) {
		return nil
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(tsa.Root)
	for _, c := range tsa.Intermediates {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: from,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return nil
	}
	var kept [][]*x509.Certificate
	for _, chain := range chains {
		if intermediatesMayTimestamp(chain) {
			kept = append(kept, chain)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &linkedTSA{tsa: tsa, chains: kept}
}

// intermediatesMayTimestamp is the timestamp-authority library's rule for
// a chain's intermediates (not its leaf, not its root): each has no
// extended key usage, or one that includes timestamping or any.
func intermediatesMayTimestamp(chain []*x509.Certificate) bool {
	for _, c := range chain[1 : len(chain)-1] {
		if len(c.ExtKeyUsage) == 0 {
			continue
		}
		ok := false
		for _, eku := range c.ExtKeyUsage {
			if eku == x509.ExtKeyUsageTimeStamping || eku == x509.ExtKeyUsageAny {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Verify verifies the timestamp response over the signature as
// root.SigstoreTimestampingAuthority.Verify does.
func (l *linkedTSA) Verify(signedTimestamp, signatureBytes []byte) (*root.Timestamp, error) {
	if ts := l.verifyLinked(signedTimestamp, signatureBytes); ts != nil {
		return ts, nil
	}
	return l.tsa.Verify(signedTimestamp, signatureBytes)
}

// verifyLinked is the fast path: the verified timestamp, or nil where the
// authority's own Verify must decide.
func (l *linkedTSA) verifyLinked(signedTimestamp, signatureBytes []byte) *root.Timestamp {
	// timestamp.ParseResponse, with its one parse of the signed data
	// (it parses it, and the library parses it again).
	var resp tsResponse
	if rest, err := asn1.Unmarshal(signedTimestamp, &resp); err != nil || len(rest) > 0 ||
		resp.Status.Status > 0 || len(resp.TimeStampToken.Bytes) == 0 {
		return nil
	}
	p7, err := pkcs7.Parse(resp.TimeStampToken.FullBytes)
	if err != nil {
		return nil
	}
	switch {
	case p7.Certificates == nil:
		// As the library does: the signer is the named certificate.
		p7.Certificates = []*x509.Certificate{l.tsa.Leaf}
	case len(p7.Certificates) == 0:
		return nil // the library finds no certificate for the signer
	}
	// Once: timestamp.Parse verifies a response that embeds
	// certificates, and the library verifies it again, on the same bytes.
	if err := p7.Verify(); err != nil {
		return nil
	}
	var info tstInfo
	if _, err := asn1.Unmarshal(p7.Content, &info); err != nil || len(info.MessageImprint.HashedMessage) == 0 {
		return nil
	}
	var hash crypto.Hash
	switch alg := info.MessageImprint.HashAlgorithm.Algorithm; {
	case alg.Equal(oidSHA256):
		hash = crypto.SHA256
	case alg.Equal(oidSHA384):
		hash = crypto.SHA384
	case alg.Equal(oidSHA512):
		hash = crypto.SHA512
	default:
		return nil // SHA-1 and unknown algorithms are refused
	}
	for _, c := range p7.Certificates {
		if !l.own(c) {
			return nil
		}
	}
	if signer := p7.GetOnlySigner(); signer == nil || !signer.Equal(l.tsa.Leaf) {
		return nil
	}
	at := info.Time
	if at.IsZero() || !l.chainValidAt(at) {
		return nil
	}
	h := hash.New()
	h.Write(signatureBytes)
	if !bytes.Equal(h.Sum(nil), info.MessageImprint.HashedMessage) {
		return nil
	}
	if !l.tsa.ValidityPeriodStart.IsZero() && at.Before(l.tsa.ValidityPeriodStart) {
		return nil
	}
	if !l.tsa.ValidityPeriodEnd.IsZero() && at.After(l.tsa.ValidityPeriodEnd) {
		return nil
	}
	return &root.Timestamp{Time: at, URI: l.tsa.URI}
}

// own reports whether c is one of the authority's certificates.
func (l *linkedTSA) own(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	if c.Equal(l.tsa.Leaf) || c.Equal(l.tsa.Root) {
		return true
	}
	for _, i := range l.tsa.Intermediates {
		if c.Equal(i) {
			return true
		}
	}
	return false
}

// chainValidAt reports whether one of the chains has every certificate
// valid at t, as crypto/x509 judges validity.
func (l *linkedTSA) chainValidAt(t time.Time) bool {
next:
	for _, chain := range l.chains {
		for _, c := range chain {
			if t.Before(c.NotBefore) || t.After(c.NotAfter) {
				continue next
			}
		}
		return true
	}
	return false
}

// The RFC 3161 structures as github.com/digitorus/timestamp (the version
// go.mod pins) declares them for ParseResponse and Parse, so encoding/asn1
// reads a response as it does. TestLinkedTSAMatchesTimestampingAuthority
// and FuzzLinkedTSA compare the verdicts.
type tsResponse struct {
	Status struct {
		Status       int
		StatusString []string       `asn1:"optional,utf8"`
		FailInfo     asn1.BitString `asn1:"optional"`
	}
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	Time         time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds      int64 `asn1:"optional"`
		Milliseconds int64 `asn1:"tag:0,optional"`
		Microseconds int64 `asn1:"tag:1,optional"`
	} `asn1:"optional"`
	Ordering   bool             `asn1:"optional,default:false"`
	Nonce      *big.Int         `asn1:"optional"`
	TSA        asn1.RawValue    `asn1:"tag:0,optional"`
	Extensions []pkix.Extension `asn1:"tag:1,optional"`
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)
