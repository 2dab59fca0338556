package admission

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/imageverify"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// verdictResult is a verification's outcome, as kept in the cache: whether
// the image passed, and if not, why.
type verdictResult struct {
	Passed  bool
	Failure *imageverify.Failure
	// Level, Builder and Source describe a pass, for the log.
	Level   int
	Builder string
	Source  string
	Summary bool
}

func failed(f *imageverify.Failure) verdictResult { return verdictResult{Failure: f} }

// verdict judges an image under one policy: from the cache, or by
// verifying it (shared with concurrent requests for the same image). Every
// way it can go wrong is a failure, never a pass.
func (s *Server) verdict(ctx context.Context, p *compiledPolicy, image string, ref name.Reference, c credentials) (verdictResult, lookup) {
	if p.err != nil {
		return failed(&imageverify.Failure{Check: CheckPolicy, Message: p.err.Error(),
			Fix: "fix the ImagePolicy: until it builds, the images it governs are denied"}), lookupMiss
	}
	d, ok := ref.(name.Digest)
	if !ok {
		// Only a request the mutating webhook did not see names a tag
		// here: verify-image's own verdict says to pin it.
		return s.verifyNow(ctx, p, image, c), lookupMiss
	}
	key := verdictKey{policy: p.key(), repository: d.Context().Name(), digest: d.DigestStr()}
	res, how, err := s.verdicts.do(ctx, key, c.id(), func(vctx context.Context) (outcome, error) {
		return s.verify(vctx, p, image, c)
	}, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.VerifyDeadline)
	})
	s.metrics.lookup(how)
	if err != nil {
		return failed(registryFailure(image, err)), how
	}
	return res, how
}

// verifyNow verifies without the cache (a tag cannot key it).
func (s *Server) verifyNow(ctx context.Context, p *compiledPolicy, image string, c credentials) verdictResult {
	out, err := s.verify(ctx, p, image, c)
	if err != nil {
		return failed(registryFailure(image, err))
	}
	return out.verdict
}

// verify runs imageverify's flow for one image under one policy, and says
// how long its verdict may be kept: a pass for the cache TTL (or until its
// evidence expires, if sooner), a failure for the shorter deny TTL (an
// attestation may be pushed just after the image). An error (the registry
// could not be asked) is not kept at all.
func (s *Server) verify(ctx context.Context, p *compiledPolicy, image string, c credentials) (outcome, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return outcome{}, fmt.Errorf("%w: %d images were being verified until the deadline: %w", errBusy, cap(s.slots), ctx.Err())
	}
	start := time.Now()
	defer func() { s.metrics.verification(time.Since(start)) }()
	kc, err := c.keychain(ctx, s.api)
	if err != nil {
		return outcome{}, err
	}
	opts := []imageverify.Option{imageverify.WithRegistry(s.registryOptions(kc)...), imageverify.WithClock(s.cfg.Clock),
		imageverify.WithMaxAttestationBundleSize(s.cfg.MaxAttestationBundleSize)}
	if len(p.summaries) > 0 {
		opts = append(opts, imageverify.WithVSA(s.cfg.Trust.Root, p.summaries...))
	}
	vd, err := imageverify.Verify(ctx, p.verifier, image, opts...)
	if err != nil {
		return outcome{}, err
	}
	now := s.cfg.Clock()
	if !vd.Passed() {
		return outcome{verdict: failed(vd.Failure), expires: now.Add(s.cfg.DenyCacheTTL)}, nil
	}
	res := verdictResult{Passed: true}
	switch {
	case vd.Result != nil:
		res.Level, res.Builder, res.Source = vd.Result.Level, vd.Result.BuilderID, vd.Result.Identity.Extensions.SourceRepositoryURI
	case vd.VSA != nil:
		res.Summary, res.Builder = true, vd.VSA.Verifier
	}
	expires := now.Add(s.cfg.CacheTTL)
	if !vd.ExpiresAt.IsZero() && vd.ExpiresAt.Before(expires) {
		expires = vd.ExpiresAt
	}
	return outcome{verdict: res, expires: expires}, nil
}

// errBusy: every verification slot stayed taken until the deadline.
var errBusy = errors.New("no verification slot free")

// registryFailure is a denial because the image could not be verified at
// all: the registry did not answer, refused, or time ran out.
func registryFailure(image string, err error) *imageverify.Failure {
	f := &imageverify.Failure{Check: CheckRegistry, Message: "the image could not be verified, so it is denied: " + err.Error()}
	switch {
	case errors.Is(err, errBusy):
		f.Fix = "retry; if it recurs, raise --max-verifications (and the pod's memory limit with it) or --verify-deadline"
	case errors.Is(err, oci.ErrUnreachable), errors.Is(err, oci.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		f.Fix = "check that the registry of " + image + " is up and reachable from hallmark-admission"
	case errors.Is(err, oci.ErrUnauthorized):
		f.Fix = "give the pod (or its service account) an image pull secret for the registry of " + image
	}
	return f
}

// registryOptions are the oci options of one verification: the
// credentials, the per-call timeout and retries, the transport.
func (s *Server) registryOptions(kc authn.Keychain) []oci.Option {
	opts := []oci.Option{
		oci.WithKeychain(kc), oci.WithTimeout(s.cfg.RegistryTimeout), oci.WithRetries(s.cfg.RegistryRetries),
		oci.WithInsecureRegistry(s.cfg.InsecureRegistry), oci.WithLogger(s.log), oci.WithUserAgent("hallmark-admission"),
	}
	if s.cfg.RegistryTransport != nil {
		opts = append(opts, oci.WithTransport(s.cfg.RegistryTransport))
	}
	return opts
}
