package oci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// Media types, artifact types and annotations of Sigstore bundles stored in
// OCI registries, as cosign 2.6+ and GitHub's attest action write them.
const (
	// ArtifactTypeBundle is the artifactType of a referrer manifest holding
	// a Sigstore bundle v0.3, and the media type of its one layer.
	ArtifactTypeBundle = formats.BundleMediaTypeV03
	// AnnotationContent says what the bundle carries: ContentDSSE.
	AnnotationContent = "dev.sigstore.bundle.content"
	// AnnotationPredicateType is the in-toto predicate type of the bundle's
	// statement, so a verifier can filter referrers without fetching them.
	AnnotationPredicateType = "dev.sigstore.bundle.predicateType"
	// ContentDSSE is AnnotationContent's value for a DSSE envelope.
	ContentDSSE = "dsse-envelope"
	// MediaTypeEmpty is the OCI 1.1 empty descriptor's media type: the
	// config of an artifact manifest, whose content is "{}".
	MediaTypeEmpty = "application/vnd.oci.empty.v1+json"
	// MediaTypeDSSE is the layer media type of cosign's legacy ".att"
	// attestations: one DSSE envelope per layer.
	MediaTypeDSSE = "application/vnd.dsse.envelope.v1+json"
	// AnnotationLegacyBundle carries, on a legacy ".att" layer written by
	// Hallmark, the complete Sigstore bundle the layer's envelope comes from:
	// cosign's legacy annotations cannot express a Rekor v2 entry.
	AnnotationLegacyBundle = "dev.hallmark.sigstore.bundle"
	// LegacySuffix ends cosign's legacy attestation tag, sha256-HEX.att.
	LegacySuffix = ".att"
)

// Limits on what is read from a registry: a registry is untrusted input.
const (
	// MaxManifestSize is the largest manifest or referrers index read.
	MaxManifestSize = 4 << 20
	// MaxBundleSize is the largest bundle blob read.
	MaxBundleSize = 64 << 20
	// MaxReferrers is the most referrers of one subject considered.
	MaxReferrers = 1000
	// minFound is the least a discovery keeps of matching bundles.
	minFound = 16 << 20
)

// Errors that classify registry failures; match them with errors.Is.
var (
	// ErrUnreachable: the registry did not answer (connection refused,
	// DNS, TLS, timeout).
	ErrUnreachable = errors.New("registry unreachable")
	// ErrUnauthorized: the registry refused access (401/403), to the
	// credentials sent or to none; an *AuthError says which and what to
	// configure.
	ErrUnauthorized = errors.New("registry refused access")
	// ErrNotFound: the image, manifest or blob does not exist (404).
	ErrNotFound = errors.New("not found in registry")
	// ErrRegistry: the registry answered with a server error (5xx) or
	// something that is not the protocol.
	ErrRegistry = errors.New("registry error")
	// ErrNoAttestation: no attestation with the wanted predicate type is
	// attached to the image; the *NotFoundError says what was found where.
	ErrNoAttestation = errors.New("no attestation found")
	// ErrInvalidArtifact: an attached artifact is malformed (wrong layers,
	// media types, or oversized).
	ErrInvalidArtifact = errors.New("invalid attestation artifact")
	// ErrTimeout: the registry did not answer before the deadline (or
	// within the per-try timeout, every try).
	ErrTimeout = errors.New("registry did not answer in time")
)

// Option configures registry access. Defaults: credentials from the docker
// config and its credential helpers (authn.DefaultKeychain), and inside
// GitHub Actions the job's GITHUB_TOKEN for GitHub's container registry when
// the config has none for it (see WithGitHubToken), TLS unless the
// registry is on loopback or a private address, remote.DefaultTransport,
// three retries of transient failures (honouring Retry-After), 30 s for
// each try to be answered, a silent logger. The context's deadline bounds
// every operation, retries included.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	custom    bool // keychain is WithKeychain's
	github    *githubToken
	githubSet bool
	// auth resolves credentials: keychain, then github; it remembers
	// where each registry's came from, for the errors of a refusal.
	auth      *keychain
	transport http.RoundTripper
	insecure  bool
	retries   int
	perTry    time.Duration
	log       *slog.Logger
	userAgent string
	// maxBundle bounds each bundle read, maxFound the bundles one
	// discovery keeps (WithMaxBundleSize).
	maxBundle, maxFound int64
}

// WithMaxBundleSize bounds, in bytes, each attestation bundle discovery
// reads (MaxBundleSize when not set): a referrer whose manifest declares a
// larger bundle is not fetched, and one that turns out larger is cut off.
// A discovery keeps at most four times that, and at least 16 MiB, of
// bundles with the wanted predicate type; the ones beyond are reported as
// not read. A registry is untrusted input: without the bound, the
// referrers of one image could hold a verifier's memory to ransom.
func WithMaxBundleSize(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("oci: bundle size limit %d: want a positive number of bytes", n)
		}
		o.maxBundle = n
		return nil
	}
}

// WithKeychain sets where credentials come from.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) error {
		if k == nil {
			return errors.New("oci: nil keychain")
		}
		o.keychain, o.custom = k, true
		return nil
	}
}

// WithTransport sets the HTTP transport (for counting round trips, say).
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		if t == nil {
			return errors.New("oci: nil transport")
		}
		o.transport = t
		return nil
	}
}

// WithInsecureRegistry allows plain HTTP (and unverified TLS) to the
// registry. It does not weaken the verification of what is fetched: a
// bundle is trusted for its signature, never for where it came from.
func WithInsecureRegistry(insecure bool) Option {
	return func(o *options) error {
		o.insecure = insecure
		return nil
	}
}

// WithRetries sets how often a transient failure (connection reset, 5xx,
// 429) is retried, with backoff doubling from 200ms. Zero: never.
func WithRetries(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("oci: negative retries %d", n)
		}
		o.retries = n
		return nil
	}
}

// WithTimeout sets how long each try of a request may wait for the
// registry's answer before it is abandoned (and retried). Zero: no limit
// but the context's.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("oci: negative timeout %s", d)
		}
		o.perTry = d
		return nil
	}
}

// WithLogger sets where progress is logged. Default: discarded.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("oci: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Option {
	return func(o *options) error {
		o.userAgent = ua
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		retries:   3,
		perTry:    30 * time.Second,
		log:       slog.New(slog.DiscardHandler),
		userAgent: "hallmark",
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.maxBundle == 0 {
		o.maxBundle = MaxBundleSize
	}
	o.maxFound = max(4*o.maxBundle, minFound)
	if !o.githubSet {
		o.github = gitHubTokenFromEnv(os.Getenv)
	}
	o.auth = &keychain{base: o.keychain, github: o.github, custom: o.custom}
	return o, nil
}

func (o *options) nameOptions() []name.Option {
	if o.insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

func (o *options) baseTransport() http.RoundTripper {
	t := o.transport
	if o.insecure {
		if ht, ok := t.(*http.Transport); ok {
			ht = ht.Clone()
			if ht.TLSClientConfig != nil {
				ht.TLSClientConfig.InsecureSkipVerify = true
			}
			t = ht
		}
	}
	return t
}

// roundTripper is the base transport with the retry and timeout rules and the
// user agent; go-containerregistry's own retries are off, so a request is
// retried in one place.
func (o *options) roundTripper() http.RoundTripper {
	return transport.NewUserAgent(&retryTransport{base: o.baseTransport(), tries: o.retries + 1, perTry: o.perTry, backoff: 200 * time.Millisecond}, o.userAgent)
}

func (o *options) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.auth),
		remote.WithTransport(o.roundTripper()),
		remote.WithRetryPredicate(func(error) bool { return false }),
	}
}

// ParseReference parses an image reference, by tag or digest, honouring
// the insecure option.
func ParseReference(ref string, opts ...Option) (name.Reference, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}

// classify wraps a registry error with the sentinel that names its kind.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var tt *tryTimeout
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &tt) {
		return fmt.Errorf("%s: %w (%v): check that the registry is up, or allow more time", what, ErrTimeout, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%s: %w (HTTP %d): %v", what, ErrUnauthorized, te.StatusCode, err)
		case te.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w: %v", what, ErrNotFound, err)
		default:
			return fmt.Errorf("%s: %w (HTTP %d): %v", what, ErrRegistry, te.StatusCode, err)
		}
	}
	var ne net.Error
	var ue *url.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: %v", what, ErrUnreachable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
