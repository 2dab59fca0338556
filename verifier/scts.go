package verifier

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/ctutil"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/google/certificate-transparency-go/x509util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// sigstore-go v1.3.0's verify.VerifySignedCertificateTimestamp parses the
// signing certificate twice with certificate-transparency-go's x509 (once
// for its SCT list, x509util.ParseSCTsFromCertificate, once more for the
// chain it hands ctutil.VerifySCT, ctx509.ParseCertificates) and the
// chain's issuer, a certificate of the trusted root, once per chain on
// every bundle: a tenth of a public-good verification. sctVerifier is a
// local wrapper that gives its verdict, and its error, with one parse of
// the signing certificate and the trusted root's issuers parsed once:
//
//   - the signing certificate is DER (crypto/x509 parsed it), so
//     ParseSCTsFromCertificate takes its ctx509.ParseCertificate branch,
//     and fails, with the error wrapped as it wraps it, exactly when that
//     call fails;
//   - when ctx509.ParseCertificate(raw) succeeds, ctx509.ParseCertificates
//     on the same bytes succeeds too, with one certificate read the same
//     way: both run the same strict asn1.Unmarshal (ParseCertificate
//     succeeded, so it did, with nothing after the certificate, so
//     ParseCertificates reads no second one) and the same
//     parseCertificate(…, false) on what it read. One parse serves both;
//   - ctx509.ParseCertificates of an issuer is a function of its bytes
//     alone, and ctutil.VerifySCT only reads the issuer (its
//     RawSubjectPublicKeyInfo), so its result for a certificate of the
//     trusted root is kept, error included, and used for any chain whose
//     issuer has those very bytes; another issuer is parsed per chain, as
//     sigstore-go does;
//   - the rest (which SCTs count, the logs' validity windows, which chains
//     are tried, ctutil.VerifySCT itself, the threshold and the errors) is
//     sigstore-go's code, unchanged.
//
// A certificate whose bytes are not DER is handed to sigstore-go's
// function as it is. TestSCTVerifierMatchesSigstore and FuzzSCTVerifier
// hold it to sigstore-go's verdicts.
type sctVerifier struct {
	trusted root.TrustedMaterial
	// issuers are the trusted root's CA certificates as
	// ctx509.ParseCertificates reads them, by their bytes.
	issuers map[string]parsedIssuer
}

type parsedIssuer struct {
	certs []*ctx509.Certificate
	err   error
}

// newSCTVerifier parses the trusted material's Fulcio CA certificates once.
func newSCTVerifier(trusted root.TrustedMaterial) *sctVerifier {
	s := &sctVerifier{trusted: trusted, issuers: map[string]parsedIssuer{}}
	for _, ca := range trusted.FulcioCertificateAuthorities() {
		fca, ok := ca.(*root.FulcioCertificateAuthority)
		if !ok {
			continue
		}
		certs := append([]*x509.Certificate{fca.Root}, fca.Intermediates...)
		for _, c := range certs {
			if c == nil {
				continue
			}
			if _, done := s.issuers[string(c.Raw)]; done {
				continue
			}
			parsed, err := ctx509.ParseCertificates(c.Raw)
			s.issuers[string(c.Raw)] = parsedIssuer{parsed, err}
		}
	}
	return s
}

// issuer is ctx509.ParseCertificates(raw).
func (s *sctVerifier) issuer(raw []byte) ([]*ctx509.Certificate, error) {
	if p, ok := s.issuers[string(raw)]; ok {
		return p.certs, p.err
	}
	return ctx509.ParseCertificates(raw)
}

// verify is verify.VerifySignedCertificateTimestamp(chains, threshold,
// s.trusted): the same verdict, the same error.
func (s *sctVerifier) verify(chains [][]*x509.Certificate, threshold int) error {
	if len(chains) == 0 || len(chains[0]) == 0 || chains[0][0] == nil {
		return errors.New("no chains provided")
	}
	leaf := chains[0][0]
	if len(leaf.Raw) == 0 || leaf.Raw[0] != 0x30 {
		// Not a DER SEQUENCE: whatever it is, sigstore-go judges it.
		return verify.VerifySignedCertificateTimestamp(chains, threshold, s.trusted)
	}

	ctlogs := s.trusted.CTLogs()

	leafCT, err := ctx509.ParseCertificate(leaf.Raw)
	if err != nil {
		return fmt.Errorf("failed to parse certificate: %s", err)
	}
	scts, err := x509util.ParseSCTsFromSCTList(&leafCT.SCTList)
	if err != nil {
		return err
	}

	verifiedLogs := make(map[string]bool)
	for _, sct := range scts {
		encodedKeyID := hex.EncodeToString(sct.LogID.KeyID[:])
		if verifiedLogs[encodedKeyID] {
			continue
		}
		key, ok := ctlogs[encodedKeyID]
		if !ok {
			continue
		}
		sctTime := ct.TimestampToTime(sct.Timestamp)
		if !key.ValidityPeriodStart.IsZero() && sctTime.Before(key.ValidityPeriodStart) {
			continue
		}
		if !key.ValidityPeriodEnd.IsZero() && sctTime.After(key.ValidityPeriodEnd) {
			continue
		}
		for _, chain := range chains {
			if len(chain) < 2 {
				continue
			}
			issuer, err := s.issuer(chain[1].Raw)
			if err != nil {
				continue
			}
			fulcioChain := append([]*ctx509.Certificate{leafCT}, issuer...)
			if ctutil.VerifySCT(key.PublicKey, fulcioChain, sct, true) == nil {
				verifiedLogs[encodedKeyID] = true
				break
			}
		}
	}

	if len(verifiedLogs) < threshold {
		return fmt.Errorf("only able to verify %d SCT entries; unable to meet threshold of %d", len(verifiedLogs), threshold)
	}
	return nil
}

// chainRecorder is the trusted material of one verification, whose Fulcio
// CAs remember the chains sigstore-go's Verify builds, for the SCT check
// that follows it (sctVerifier.verify): sigstore-go hands its own SCT check
// the chains of its last leaf verification, which returns the chains of
// the first CA that verifies the leaf, so the last chains a CA returned
// are those. It serves one verification, of a bundle that brings no
// intermediates of its own (sigstore-go adds those only to CAs of its own
// type, which a recording CA is not: such bundles take
// checker.sigstoreChains, which checks SCTs itself).
type chainRecorder struct {
	root.TrustedMaterial
	cas    []root.CertificateAuthority
	chains [][]*x509.Certificate
}

func newChainRecorder(tm root.TrustedMaterial) *chainRecorder {
	r := &chainRecorder{TrustedMaterial: tm}
	for _, ca := range tm.FulcioCertificateAuthorities() {
		r.cas = append(r.cas, recordingCA{ca, r})
	}
	return r
}

func (r *chainRecorder) FulcioCertificateAuthorities() []root.CertificateAuthority {
	return r.cas
}

type recordingCA struct {
	root.CertificateAuthority
	r *chainRecorder
}

func (c recordingCA) Verify(cert *x509.Certificate, at time.Time) ([][]*x509.Certificate, error) {
	chains, err := c.CertificateAuthority.Verify(cert, at)
	if err == nil {
		c.r.chains = chains
	}
	return chains, err
}
