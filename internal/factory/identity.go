package factory

import (
	"context"
	"errors"
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
	c, err := workloadClient(ctx, addr)
	if err != nil {
		return nil, err
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
// Fulcio (configured with a spiffe issuer for the SPIRE server's
// jwt_issuer and trust domain) for a short-lived certificate of an
// ephemeral key, whose URI SAN is the SPIFFE ID. The key is made and used
// in this process for one signature; nothing else ever holds it.
type JWTSVIDSigner struct {
	client *workloadapi.Client
	opts   signer.Options
	// Audience of the JWT-SVID: the client ID of Fulcio's spiffe issuer;
	// DefaultJWTAudience when empty.
	Audience string
}

// DefaultJWTAudience is the audience Fulcio's issuers expect by default.
const DefaultJWTAudience = "sigstore"

// NewJWTSVIDSigner connects to the Workload API at addr; opts names the
// Fulcio, Rekor and TSA (opts.IdentityToken is ignored) and, to check each
// bundle, a trusted root with that Fulcio.
func NewJWTSVIDSigner(ctx context.Context, addr string, opts signer.Options) (*JWTSVIDSigner, error) {
	c, err := workloadClient(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &JWTSVIDSigner{client: c, opts: opts}, nil
}

func (s *JWTSVIDSigner) audience() string {
	if s.Audience == "" {
		return DefaultJWTAudience
	}
	return s.Audience
}

func (s *JWTSVIDSigner) fetch(ctx context.Context) (*jwtsvid.SVID, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svid, err := s.client.FetchJWTSVID(fctx, jwtsvid.Params{Audience: s.audience()})
	if err != nil {
		return nil, fmt.Errorf("fetching JWT-SVID from the SPIRE agent: %w", err)
	}
	return svid, nil
}

// Sign signs payload with a Fulcio certificate bought with a fresh JWT-SVID.
// A certificate for another identity than the JWT-SVID's SPIFFE ID (a
// Fulcio that maps the issuer otherwise) is an error: the provenance
// names that SPIFFE ID as its builder.
func (s *JWTSVIDSigner) Sign(ctx context.Context, payload []byte) (*signer.Result, error) {
	svid, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	o := s.opts
	o.IdentityToken = svid.Marshal()
	o.Audience = s.audience()
	res, err := signer.Sign(ctx, payload, signer.PayloadTypeInToto, o)
	if errors.Is(err, signer.ErrCertificate) {
		// Fulcio says only that it could not process the token: name
		// what it had to match.
		iss, _ := svid.Claims["iss"].(string)
		return nil, fmt.Errorf("fulcio refused the JWT-SVID of %s (iss %q, aud %q); it needs a spiffe issuer for that iss and trust domain whose client ID is the audience: %w", svid.ID, iss, s.audience(), err)
	}
	if err != nil {
		return nil, err
	}
	if res.Identity != svid.ID.String() {
		return nil, fmt.Errorf("fulcio certified %q for the JWT-SVID of %s: is its issuer of type spiffe?", res.Identity, svid.ID)
	}
	return res, nil
}

// ID returns the SPIFFE ID of the current JWT-SVID.
func (s *JWTSVIDSigner) ID(ctx context.Context) (string, error) {
	svid, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	return svid.ID.String(), nil
}

// Close closes the Workload API connection.
func (s *JWTSVIDSigner) Close() error { return s.client.Close() }

// workloadClient connects to the SPIRE agent's Workload API at addr (empty
// means $SPIFFE_ENDPOINT_SOCKET).
func workloadClient(ctx context.Context, addr string) (*workloadapi.Client, error) {
	var copts []workloadapi.ClientOption
	if addr != "" {
		copts = append(copts, workloadapi.WithAddr(addr))
	}
	c, err := workloadapi.New(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the workload API: %w", err)
	}
	return c, nil
}
