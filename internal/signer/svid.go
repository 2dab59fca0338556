package signer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// ErrKey is returned for a key SignWithCertificate cannot use.
var ErrKey = errors.New("signing key")

// SignWithCertificate signs payload (of DSSE payloadType) into a Sigstore
// bundle v0.3 with key, whose certificate is cert, instead of an ephemeral
// key certified by Fulcio: factory mode signs with the controller's
// X.509-SVID. The bundle carries cert as its leaf. As with Sign, the
// signature is logged in Rekor and/or timestamped by a TSA from
// o.SigningConfig (its Fulcio is not used), so it verifies after the
// short-lived certificate expires; o.IdentityToken is ignored. When
// o.TrustedRoot is set it must also trust cert's issuer (see
// verifier.SPIFFETrustedMaterial), and the bundle is checked against it.
//
// The key stays in the process: only signatures over the payload and the
// certificate leave it.
func SignWithCertificate(ctx context.Context, payload []byte, payloadType string, key crypto.Signer, cert *x509.Certificate, o Options) (*Result, error) {
	if key == nil || cert == nil {
		return nil, fmt.Errorf("%w: no key or no certificate", ErrKey)
	}
	kp, err := newCertKeypair(key, cert)
	if err != nil {
		return nil, err
	}
	st, err := o.settings()
	if err != nil {
		return nil, err
	}
	if t := st.now(); t.After(cert.NotAfter) || t.Before(cert.NotBefore) {
		return nil, fmt.Errorf("%w: certificate valid %s to %s, now is %s", ErrKey,
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	summary, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the certificate: %v", ErrKey, err)
	}
	svc, err := chooseServices(o.SigningConfig, st.now(), o.Private, false)
	if err != nil {
		return nil, err
	}
	s := newSession(st, svc, o.TrustedRoot)
	st.log.Info("signing with certificate", "logs", len(svc.rekor), "timestamp_authorities", len(svc.tsa))
	// The certificate is our own: the bundle must verify with exactly
	// its identity.
	want := expectation{issuer: summary.Extensions.Issuer, sans: []string{summary.SubjectAlternativeName}, describe: "certificate"}
	return s.sign(ctx, payload, payloadType, kp, func(context.Context) (*x509.Certificate, error) { return cert, nil }, want)
}

// certKeypair is a sign.Keypair over a key held elsewhere (an SVID's).
type certKeypair struct {
	key     crypto.Signer
	details signature.AlgorithmDetails
	hint    []byte
}

func newCertKeypair(key crypto.Signer, cert *x509.Certificate) (*certKeypair, error) {
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	certPub, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil || string(pub) != string(certPub) {
		return nil, fmt.Errorf("%w: the key is not the certificate's", ErrKey)
	}
	details, err := signature.GetDefaultAlgorithmDetails(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	sum := sha256.Sum256(pub)
	return &certKeypair{key: key, details: details, hint: []byte(base64.StdEncoding.EncodeToString(sum[:]))}, nil
}

func (k *certKeypair) GetHashAlgorithm() protocommon.HashAlgorithm {
	return k.details.GetProtoHashType()
}
func (k *certKeypair) GetSigningAlgorithm() protocommon.PublicKeyDetails {
	return k.details.GetSignatureAlgorithm()
}
func (k *certKeypair) GetHint() []byte { return k.hint }
func (k *certKeypair) GetKeyAlgorithm() string {
	switch k.details.GetKeyType() {
	case signature.ECDSA:
		return "ECDSA"
	case signature.RSA:
		return "RSA"
	case signature.ED25519:
		return "ED25519"
	}
	return ""
}
func (k *certKeypair) GetPublicKey() crypto.PublicKey { return k.key.Public() }
func (k *certKeypair) GetPublicKeyPem() (string, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(k.key.Public())
	return string(b), err
}

// SignData hashes data (except for pure Ed25519) and signs it, as
// sigstore-go's ephemeral keypair does.
func (k *certKeypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	hf := k.details.GetHashType()
	toSign := data
	if hf != crypto.Hash(0) {
		h := hf.New()
		h.Write(data)
		toSign = h.Sum(nil)
	}
	sig, err := k.key.Sign(rand.Reader, toSign, hf)
	if err != nil {
		return nil, nil, err
	}
	return sig, toSign, nil
}
