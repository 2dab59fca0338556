package signer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/oauthflow"
)

// certificate asks Fulcio for a certificate of kp's public key, proving
// possession by signing the token's subject, as Fulcio's v2 API wants. The
// certificate must be for kp's key; whether it names the token's identity
// is the caller's check.
func (s *session) certificate(ctx context.Context, kp sign.Keypair, token string, claims map[string]any) (*x509.Certificate, error) {
	url := s.svc.fulcio.URL
	fail := func(err error) error { return &ServerError{Kind: ErrCertificate, URL: url, Err: err} }
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload is not base64url", ErrToken)
	}
	subject, err := oauthflow.SubjectFromUnverifiedToken(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	pop, _, err := kp.SignData(ctx, []byte(subject))
	if err != nil {
		return nil, fmt.Errorf("%w: proof of possession: %v", ErrSigning, err)
	}
	pubPEM, err := kp.GetPublicKeyPem()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigning, err)
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct {
				Algorithm string `json:"algorithm"`
				Content   string `json:"content"`
			} `json:"publicKey"`
			ProofOfPossession string `json:"proofOfPossession"`
		} `json:"publicKeyRequest"`
	}
	req.PublicKeyRequest.PublicKey.Algorithm = kp.GetKeyAlgorithm()
	req.PublicKeyRequest.PublicKey.Content = pubPEM
	req.PublicKeyRequest.ProofOfPossession = base64.StdEncoding.EncodeToString(pop)
	body, err := json.Marshal(&req)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	r, err := s.caller(1<<20).do(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/api/v2/signingCert", h, body)
	if err != nil {
		return nil, fail(err)
	}
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden || r.status == http.StatusBadRequest:
		iss, _ := claims["iss"].(string)
		return nil, fail(fmt.Errorf("it refused the identity token (%s%s): does this Fulcio trust the issuer %s with the client ID (audience) %s?",
			statusText(r.status), bodySnippet(r.body), iss, s.audience))
	case r.status != http.StatusOK && r.status != http.StatusCreated:
		return nil, fail(fmt.Errorf("%s%s", statusText(r.status), bodySnippet(r.body)))
	}
	cert, err := parseFulcioAnswer(r.body)
	if err != nil {
		return nil, fail(err)
	}
	want, _ := x509.MarshalPKIXPublicKey(kp.GetPublicKey())
	got, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if !bytes.Equal(want, got) {
		return nil, fail(fmt.Errorf("%w: it certified another public key than the one it was sent", ErrIdentity))
	}
	return cert, nil
}

// parseFulcioAnswer reads the leaf certificate of a signingCert answer.
func parseFulcioAnswer(body []byte) (*x509.Certificate, error) {
	var ans struct {
		Embedded struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateEmbeddedSct"`
		Detached struct {
			Chain struct {
				Certificates []string `json:"certificates"`
			} `json:"chain"`
		} `json:"signedCertificateDetachedSct"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("the answer is not a signingCert response: %v", err)
	}
	chain := ans.Embedded.Chain.Certificates
	if len(chain) == 0 {
		chain = ans.Detached.Chain.Certificates
	}
	if len(chain) == 0 {
		return nil, errors.New("the answer holds no certificate")
	}
	block, _ := pem.Decode([]byte(chain[0]))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("the answer's certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the answer's certificate does not parse: %v", err)
	}
	return cert, nil
}
