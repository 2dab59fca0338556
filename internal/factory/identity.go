package factory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// Signer signs a statement payload into a Sigstore bundle.
type Signer interface {
	// Sign signs payload with the identity whose SPIFFE ID is exactly id,
	// or fails: it never falls back to another identity.
	Sign(ctx context.Context, id string, payload []byte) (*signer.Result, error)
}

// TenantSegment joins the controller's SPIFFE ID and a namespace into the
// per-tenant signing identity: BASE/tenant/NAMESPACE.
const TenantSegment = "/tenant/"

// TenantSPIFFEID is the SPIFFE ID the controller signs a namespace's runs
// with when it signs per tenant: its own ID with /tenant/NAMESPACE
// appended, such as
// spiffe://example.org/ns/hallmark-system/sa/hallmark-factory/tenant/team-a.
// Being below the controller's own ID, it is never an ID a Kubernetes
// workload registration (.../ns/NS/sa/SA) gives a tenant's pod.
func TenantSPIFFEID(base, namespace string) (string, error) {
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", fmt.Errorf("namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	id, err := spiffeid.FromString(base + TenantSegment + namespace)
	if err != nil {
		return "", fmt.Errorf("tenant SPIFFE ID of %s for %s: %w", base, namespace, err)
	}
	return id.String(), nil
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
	return &SVIDSigner{client: c, opts: sharedChecks(opts)}, nil
}

// sharedChecks has every signature a signer makes check its new bundle
// with one verifier (signer.SharedChecks), over the trusted root's chains
// checked once (verifier.LinkedTrustedMaterial): the options are the
// signer's for its whole life.
func sharedChecks(o signer.Options) signer.Options {
	if o.TrustedRoot != nil {
		o.TrustedRoot = signer.SharedChecks(verifier.LinkedTrustedMaterial(o.TrustedRoot))
	}
	return o
}

// Sign signs payload with the current X.509-SVID whose SPIFFE ID is id.
// The agent hands the controller every SVID registered for it (its own
// and, when it signs per tenant, one per namespace); an agent without one
// for id is an error, retried by the controller, never a reason to sign
// with another.
func (s *SVIDSigner) Sign(ctx context.Context, id string, payload []byte) (*signer.Result, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	svids, err := s.client.FetchX509SVIDs(fctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("fetching X.509-SVIDs from the SPIRE agent: %w", err)
	}
	for _, svid := range svids {
		if svid.ID.String() == id {
			return signer.SignWithCertificate(ctx, payload, signer.PayloadTypeInToto, svid.PrivateKey, svid.Certificates[0], s.opts)
		}
	}
	// The other IDs are not named: with per-tenant identities they would
	// tell one tenant's runs the names of the others.
	return nil, fmt.Errorf("%w: the SPIRE agent holds no X.509-SVID for %s (it holds %d others); register an entry for it", ErrNoIdentity, id, len(svids))
}

// ErrNoIdentity: the SPIRE agent has no SVID for the identity a run must
// be signed with.
var ErrNoIdentity = errors.New("no SVID for the signing identity")

// ID returns the SPIFFE ID of the agent's only X.509-SVID for the
// controller. When the agent holds several (per-tenant identities), which
// one is the default is the agent's choice, so ID refuses to guess.
func (s *SVIDSigner) ID(ctx context.Context) (string, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svids, err := s.client.FetchX509SVIDs(fctx)
	if err != nil {
		return "", fmt.Errorf("fetching X.509-SVIDs from the SPIRE agent: %w", err)
	}
	if len(svids) != 1 {
		return "", fmt.Errorf("the SPIRE agent holds %d X.509-SVIDs for the controller: name its own with --spiffe-id", len(svids))
	}
	return svids[0].ID.String(), nil
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
	return &JWTSVIDSigner{client: c, opts: sharedChecks(opts)}, nil
}

func (s *JWTSVIDSigner) audience() string {
	if s.Audience == "" {
		return DefaultJWTAudience
	}
	return s.Audience
}

// fetch fetches a JWT-SVID for id (the agent's default when id is empty).
func (s *JWTSVIDSigner) fetch(ctx context.Context, id string) (*jwtsvid.SVID, error) {
	params := jwtsvid.Params{Audience: s.audience()}
	if id != "" {
		sid, err := spiffeid.FromString(id)
		if err != nil {
			return nil, fmt.Errorf("signing identity: %w", err)
		}
		params.Subject = sid
	}
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svid, err := s.client.FetchJWTSVID(fctx, params)
	if err != nil {
		if id != "" {
			return nil, fmt.Errorf("%w: fetching a JWT-SVID for %s from the SPIRE agent: %w", ErrNoIdentity, id, err)
		}
		return nil, fmt.Errorf("fetching JWT-SVID from the SPIRE agent: %w", err)
	}
	if id != "" && svid.ID.String() != id {
		return nil, fmt.Errorf("%w: the SPIRE agent answered a JWT-SVID for %s with one for %s", ErrNoIdentity, id, svid.ID)
	}
	return svid, nil
}

// Sign signs payload with a Fulcio certificate bought with a fresh JWT-SVID
// for id. A certificate for another identity than the JWT-SVID's SPIFFE ID
// (a Fulcio that maps the issuer otherwise) is an error: the provenance
// names that SPIFFE ID as its builder.
func (s *JWTSVIDSigner) Sign(ctx context.Context, id string, payload []byte) (*signer.Result, error) {
	svid, err := s.fetch(ctx, id)
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

// ID returns the SPIFFE ID of the agent's only JWT-SVID identity for the
// controller; like SVIDSigner.ID it refuses to guess among several.
func (s *JWTSVIDSigner) ID(ctx context.Context) (string, error) {
	fctx, cancel := context.WithTimeout(ctx, workloadTimeout)
	defer cancel()
	svids, err := s.client.FetchJWTSVIDs(fctx, jwtsvid.Params{Audience: s.audience()})
	if err != nil {
		return "", fmt.Errorf("fetching JWT-SVIDs from the SPIRE agent: %w", err)
	}
	if len(svids) != 1 {
		return "", fmt.Errorf("the SPIRE agent holds %d JWT-SVID identities for the controller: name its own with --spiffe-id", len(svids))
	}
	return svids[0].ID.String(), nil
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
