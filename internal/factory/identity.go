package factory

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hallmark-dev/hallmark/internal/signer"
)

// Signer signs a statement payload into a Sigstore bundle.
type Signer interface {
	Sign(ctx context.Context, payload []byte) (*signer.Result, error)
}

// workloadTimeout bounds one Workload API call.
const workloadTimeout = 10 * time.Second

// SVIDSigner signs with the controller's X.509-SVID. It fetches the SVID
// from the Workload API for every signature, so a rotated SVID is used at
// once and an agent that went away is noticed (and retried) rather than
// hidden behind a cached certificate.
type SVIDSigner struct {
	client *workloadapi.Client
	opts   signer.Options
}

// NewSVIDSigner connects to the Workload API at addr ("unix:///run/spire/
// agent.sock"; empty means $SPIFFE_ENDPOINT_SOCKET). opts carries the
// signing config (Rekor and/or TSA) and, to check each bundle, a trusted
// root that trusts the SPIFFE bundle (verifier.SPIFFETrustedMaterial).
func NewSVIDSigner(ctx context.Context, addr string, opts signer.Options) (*SVIDSigner, error) {
	var copts []workloadapi.ClientOption
	if addr != "" {
		copts = append(copts, workloadapi.WithAddr(addr))
	}
	c, err := workloadapi.New(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the workload API: %w", err)
	}
	return &SVIDSigner{client: c, opts: opts}, nil
}

// Sign signs payload with the current X.509-SVID.
func (s *SVIDSigner) Sign(ctx context.Context, payload []byte) (*signer.Result, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	svid, err := s.client.FetchX509SVID(fctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("fetching X.509-SVID from the SPIRE agent: %w", err)
	}
	return signer.SignWithCertificate(ctx, payload, signer.PayloadTypeInToto, svid.PrivateKey, svid.Certificates[0], s.opts)
}

// ID returns the SPIFFE ID of the current SVID.
func (s *SVIDSigner) ID(ctx context.Context) (string, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svid, err := s.client.FetchX509SVID(fctx)
	if err != nil {
		return "", fmt.Errorf("fetching X.509-SVID from the SPIRE agent: %w", err)
	}
	return svid.ID.String(), nil
}

// Close closes the Workload API connection.
func (s *SVIDSigner) Close() error { return s.client.Close() }

// JWTSVIDSigner signs keylessly: a JWT-SVID for Audience is exchanged at
// Fulcio (configured with a spiffe issuer) for a short-lived certificate
// of an ephemeral key, whose SAN is the SPIFFE ID.
type JWTSVIDSigner struct {
	client *workloadapi.Client
	opts   signer.Options
	// Audience of the JWT-SVID; "sigstore" when empty.
	Audience string
}

// NewJWTSVIDSigner connects to the Workload API at addr; opts names the
// Fulcio, Rekor and TSA (opts.IdentityToken is ignored).
func NewJWTSVIDSigner(ctx context.Context, addr string, opts signer.Options) (*JWTSVIDSigner, error) {
	var copts []workloadapi.ClientOption
	if addr != "" {
		copts = append(copts, workloadapi.WithAddr(addr))
	}
	c, err := workloadapi.New(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the workload API: %w", err)
	}
	return &JWTSVIDSigner{client: c, opts: opts}, nil
}

// Sign signs payload with a Fulcio certificate bought with a fresh JWT-SVID.
func (s *JWTSVIDSigner) Sign(ctx context.Context, payload []byte) (*signer.Result, error) {
	aud := s.Audience
	if aud == "" {
		aud = "sigstore"
	}
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	svid, err := s.client.FetchJWTSVID(fctx, jwtsvid.Params{Audience: aud})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("fetching JWT-SVID from the SPIRE agent: %w", err)
	}
	o := s.opts
	o.IdentityToken = svid.Marshal()
	return signer.Sign(ctx, payload, signer.PayloadTypeInToto, o)
}

// ID returns the SPIFFE ID of the current JWT-SVID.
func (s *JWTSVIDSigner) ID(ctx context.Context) (string, error) {
	aud := s.Audience
	if aud == "" {
		aud = "sigstore"
	}
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svid, err := s.client.FetchJWTSVID(fctx, jwtsvid.Params{Audience: aud})
	if err != nil {
		return "", fmt.Errorf("fetching JWT-SVID from the SPIRE agent: %w", err)
	}
	return svid.ID.String(), nil
}

// Close closes the Workload API connection.
func (s *JWTSVIDSigner) Close() error { return s.client.Close() }
