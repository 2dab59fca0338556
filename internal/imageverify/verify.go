package imageverify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/formats"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/verifier"
)

// PredicateSLSAv1 is SLSA provenance v1's predicate type.
const PredicateSLSAv1 = formats.PredicateSLSAProvenanceV1

// ProvenanceTypes are the predicate types looked for in registries: SLSA
// provenance v1, and v0.2 as slsa-github-generator's container workflow
// attaches it (cosign's legacy .att tag).
var ProvenanceTypes = []string{PredicateSLSAv1, verifier.PredicateSLSAv02}

// Check names of the failures this flow finds before the verifier runs.
const (
	// CheckInput: the image is not named by digest.
	CheckInput = string(verifier.CheckInput)
	// CheckAttestation: nothing readable with a wanted predicate type is
	// attached to the image.
	CheckAttestation = "attestation"
)

// ErrSummaryTooOld: a verification summary is older than the policy's
// MaxAge allows.
var ErrSummaryTooOld = errors.New("the summary is too old")

// Failure is why an image failed: the check, what was wanted and what was
// found, and what to change where the verifying user can (the verify
// result's failure).
type Failure = result.Failure

// FailureOf reads a verification error as a Failure: a *verifier.CheckError
// gives its check, want, got and fix; any other error is an input failure.
func FailureOf(err error) *Failure { return result.FailureOf(err) }

// Verdict is one image's outcome.
type Verdict struct {
	// Ref is the image as given.
	Ref string
	// Digest is the image's digest ("sha256:HEX"); for a tag, the digest
	// the tag pointed to when it was resolved.
	Digest string
	// Result is the verified provenance, when the image passed through it.
	Result *verifier.Result
	// VSA is the verified verification summary, when the image passed
	// through one (WithVSA) rather than through its provenance.
	VSA *verifier.VSA
	// Attestations are the attestations the policy requires beside the
	// provenance (verifier.AttestationPolicy.Require), verified, in the
	// policy's order.
	Attestations []*verifier.AttestationResult
	// Failure is set when the image failed.
	Failure *Failure
	// ExpiresAt, when set, is when the evidence the verdict rests on stops
	// counting (a summary's MaxAge after its timeVerified): a verdict kept
	// for later must be dropped then.
	ExpiresAt time.Time
}

// Passed reports whether the image passed.
func (v Verdict) Passed() bool { return v.Failure == nil && (v.Result != nil || v.VSA != nil) }

// Option configures Verify.
type Option func(*options)

type options struct {
	registry []oci.Option
	vsaRoot  root.TrustedMaterial
	vsa      []SummaryPolicy
	now      func() time.Time
	// maxAttestation bounds each required attestation's bundle.
	maxAttestation int
}

// SummaryPolicy is a verifier whose summaries count (verifier.VSAPolicy)
// and, when MaxAge is set, how long after its timeVerified a summary
// counts.
type SummaryPolicy struct {
	verifier.VSAPolicy
	MaxAge time.Duration
	// Verifier, if set, verifies the summaries for VSAPolicy: one made
	// once with verifier.NewVSAVerifier(trusted, VSAPolicy), for the
	// trusted material WithVSA is given, so that a long-running caller
	// (the admission controller) does not prepare one per image. Without
	// it, each summary is checked with verifier.VerifyVSA.
	Verifier *verifier.VSAVerifier
}

// WithRegistry sets how the registry is reached (credentials, transport,
// timeouts): see the oci package's options.
func WithRegistry(opts ...oci.Option) Option {
	return func(o *options) { o.registry = append(o.registry, opts...) }
}

// WithVSA lets a verification summary pass the image when its provenance
// does not: one attached to the image, for its digest, verified against
// trusted with one of the policies (which name the verifier that signed
// it and the level it must vouch for). Without it summaries are not looked
// for.
func WithVSA(trusted root.TrustedMaterial, policies ...SummaryPolicy) Option {
	return func(o *options) {
		o.vsaRoot = trusted
		o.vsa = append(o.vsa, policies...)
	}
}

// WithMaxAttestationBundleSize bounds, in bytes, each bundle of an
// attestation the policy requires beside the provenance (an SBOM):
// verifier.DefaultMaxAttestationBundleSize when not set.
func WithMaxAttestationBundleSize(n int) Option {
	return func(o *options) { o.maxAttestation = n }
}

// WithClock sets the clock a summary's age is read against. Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// Verify finds ref's provenance in its registry and verifies it with v
// (see the package documentation for the order). An error is returned only
// when the registry could not be asked; a verdict that the image failed (or
// has no provenance) is not an error.
func Verify(ctx context.Context, v *verifier.Verifier, ref string, opts ...Option) (Verdict, error) {
	o := options{now: time.Now, maxAttestation: verifier.DefaultMaxAttestationBundleSize}
	for _, opt := range opts {
		opt(&o)
	}
	if len(o.vsa) > 0 && o.vsaRoot == nil {
		return Verdict{}, errors.New("imageverify: verification summaries need trusted material")
	}
	r, err := oci.ParseReference(ref, o.registry...)
	if err != nil {
		return Verdict{}, err
	}
	img, ok := r.(name.Digest)
	if !ok {
		now, _, err := oci.Resolve(ctx, ref, o.registry...)
		if err != nil {
			return Verdict{}, err
		}
		return Verdict{Ref: ref, Digest: now.DigestStr(), Failure: &Failure{
			Check: CheckInput, Want: "an image named by digest (IMAGE@sha256:HEX)", Got: "a tag, now pointing to " + now.DigestStr(),
			Message: "a tag can move between verification and use", Fix: "pin the digest: verify-image " + now.String(),
		}}, nil
	}
	d, err := verifier.ParseDigest(img.DigestStr())
	if err != nil {
		return Verdict{}, fmt.Errorf("image %s: %w", ref, err)
	}
	vd, err := verifyProvenance(ctx, v, ref, img, d, o.registry)
	if err == nil && vd.Passed() {
		return verifyRequired(ctx, v, vd, img, d, o)
	}
	if err != nil || len(o.vsa) == 0 {
		return vd, err
	}
	if req := v.RequiredAttestations(); len(req) > 0 {
		// A summary says a verifier passed the image; it cannot show that
		// the attestations the policy requires were signed by the
		// provenance's own signer, so it does not stand in for them.
		vd.Failure.Message += "; a verification summary cannot stand in: the policy requires " + strings.Join(req, ", ") +
			" signed by the provenance's own builder (attestations.require), which only the provenance shows"
		return vd, nil
	}
	return verifySummaries(ctx, vd, img, d, o)
}

// verifyRequired checks, once the provenance passed, each attestation the
// policy requires beside it: attached to the image, for its digest, signed
// by the provenance's signer. The first missing or failing one fails the
// image.
func verifyRequired(ctx context.Context, v *verifier.Verifier, prov Verdict, img name.Digest, d verifier.Digest, o options) (Verdict, error) {
	for _, pt := range v.RequiredAttestations() {
		found, err := oci.Discover(ctx, img, pt, append(slices.Clip(o.registry), oci.WithMaxBundleSize(int64(o.maxAttestation)))...)
		var nf *oci.NotFoundError
		if errors.As(err, &nf) {
			prov.Failure = &Failure{
				Check: CheckAttestation, Want: pt + " attestation attached to " + img.String() + ", as the policy requires (attestations.require)",
				Got: sources(nf), Message: err.Error(),
				Fix: "attest it beside the provenance in the build (hallmark attest --sbom --push-to-registry)",
			}
			return prov, nil
		}
		if err != nil {
			return Verdict{}, err
		}
		bundles, perr := parseLimit(found, o.maxAttestation)
		if len(bundles) == 0 {
			prov.Failure = FailureOf(perr)
			return prov, nil
		}
		res, err := v.VerifyAttestationOf(prov.Result, bundles, pt, d)
		if err != nil {
			prov.Failure = FailureOf(err)
			prov.Failure.Message = pt + " attestation, which the policy requires: " + prov.Failure.Message
			return prov, nil
		}
		prov.Attestations = append(prov.Attestations, res)
	}
	return prov, nil
}

// verifyProvenance is steps 2 and 3: discover, parse, verify.
func verifyProvenance(ctx context.Context, v *verifier.Verifier, ref string, img name.Digest, d verifier.Digest, registry []oci.Option) (Verdict, error) {
	found, err := oci.DiscoverAny(ctx, img, ProvenanceTypes, append(slices.Clip(registry), oci.WithMaxBundleSize(verifier.MaxBundleSize))...)
	var nf *oci.NotFoundError
	if errors.As(err, &nf) {
		return Verdict{Ref: ref, Digest: d.String(), Failure: &Failure{
			Check: CheckAttestation, Want: "SLSA provenance (" + strings.Join(ProvenanceTypes, " or ") + ") attached to " + img.String(),
			Got: sources(nf), Message: err.Error(),
		}}, nil
	}
	if err != nil {
		return Verdict{}, err
	}
	bundles, perr := parse(found)
	if len(bundles) == 0 {
		return Verdict{Ref: ref, Digest: d.String(), Failure: FailureOf(perr)}, nil
	}
	res, err := v.VerifyAny(bundles, d)
	if err != nil {
		return Verdict{Ref: ref, Digest: d.String(), Failure: FailureOf(err)}, nil
	}
	return Verdict{Ref: ref, Digest: d.String(), Result: res}, nil
}

// verifySummaries is step 4: the image's verification summaries, when its
// provenance did not pass. The provenance's failure stays the verdict's
// unless there was no provenance at all.
func verifySummaries(ctx context.Context, prov Verdict, img name.Digest, d verifier.Digest, o options) (Verdict, error) {
	found, err := oci.Discover(ctx, img, verifier.PredicateVSA, append(slices.Clip(o.registry), oci.WithMaxBundleSize(verifier.MaxBundleSize))...)
	var nf *oci.NotFoundError
	if errors.As(err, &nf) {
		if prov.Failure.Check == CheckAttestation {
			prov.Failure.Want = "SLSA provenance (" + strings.Join(ProvenanceTypes, " or ") + ") or a verification summary (" + verifier.PredicateVSA + ") attached to " + img.String()
			prov.Failure.Got += "; summaries: " + sources(nf)
		}
		return prov, nil
	}
	if err != nil {
		return Verdict{}, err
	}
	bundles, verr := parse(found)
	now := o.now()
	for _, b := range bundles {
		for _, p := range o.vsa {
			var vsa *verifier.VSA
			if p.Verifier != nil {
				vsa, err = p.Verifier.Verify(b, d)
			} else {
				vsa, err = verifier.VerifyVSA(b, o.vsaRoot, p.VSAPolicy, d)
			}
			if err == nil && p.MaxAge > 0 {
				if expires := vsa.TimeVerified.Add(p.MaxAge); !now.Before(expires) {
					err = &verifier.CheckError{Check: verifier.CheckVSA, Want: "a summary verified within " + p.MaxAge.String(),
						Got: "one verified at " + vsa.TimeVerified.UTC().Format(time.RFC3339), Err: ErrSummaryTooOld, Fix: "verify the image again to sign a fresh summary"}
				} else {
					return Verdict{Ref: prov.Ref, Digest: prov.Digest, VSA: vsa, ExpiresAt: expires}, nil
				}
			}
			if err == nil {
				return Verdict{Ref: prov.Ref, Digest: prov.Digest, VSA: vsa}, nil
			}
			verr = errors.Join(verr, err)
		}
	}
	if prov.Failure.Check == CheckAttestation {
		return Verdict{Ref: prov.Ref, Digest: prov.Digest, Failure: FailureOf(verr)}, nil
	}
	prov.Failure.Message += "; no verification summary passed either: " + verr.Error()
	return prov, nil
}

// parse reads each attestation found as a bundle. Parse errors are
// verdicts too: the registry holds something claiming to be an
// attestation that is not a bundle.
func parse(found *oci.Discovery) ([]*bundle.Bundle, error) {
	return parseLimit(found, verifier.MaxBundleSize)
}

// parseLimit is parse with limit bytes as the largest bundle read. Each
// bundle's JSON is let go once parsed (found is the caller's alone): an
// SBOM's weighs megabytes, and the parsed bundles hold what verification
// reads.
func parseLimit(found *oci.Discovery, limit int) ([]*bundle.Bundle, error) {
	var bundles []*bundle.Bundle
	var perr error
	for i, a := range found.Attestations {
		b, err := verifier.ParseBundleLimit(a.Bundle, limit)
		found.Attestations[i].Bundle = nil
		if err != nil {
			perr = errors.Join(perr, fmt.Errorf("%s %s: %w", a.Source, a.Manifest.DigestStr(), err))
			continue
		}
		bundles = append(bundles, b)
	}
	return bundles, perr
}

// sources says what each place consulted held.
func sources(nf *oci.NotFoundError) string {
	parts := make([]string, len(nf.Discovery.Sources))
	for i, s := range nf.Discovery.Sources {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}
