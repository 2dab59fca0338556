package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/verifier"
)

// predicateFlags select an attestation other than provenance (an SBOM) for
// verify-artifact and verify-image.
type predicateFlags struct {
	predicateType  string
	printPredicate bool
	maxBundleSize  int
	expressions    []string
}

func (p *predicateFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&p.predicateType, "predicate-type", "", "verify an attestation of this predicate type instead of provenance: spdx, cyclonedx or a URI; held to the policy's identity, signer and source rules")
	fl.BoolVar(&p.printPredicate, "print-predicate", false, "with --predicate-type, print the verified predicate (the SBOM document) on stdout, one JSON document a line (the PASSED/FAILED lines then go to stderr)")
	fl.IntVar(&p.maxBundleSize, "max-bundle-size", 0, fmt.Sprintf("largest bundle read, in bytes (default %d for provenance, %d with --predicate-type: SBOMs are large)", verifier.MaxBundleSize, verifier.DefaultMaxAttestationBundleSize))
	fl.StringArrayVar(&p.expressions, "attestation-expression", nil, "with --predicate-type, a CEL expression over the attestation's statement that must be true, e.g. '!statement.predicate.packages.exists(p, p.name == \"log4j-core\")' (repeatable; adds to the policy's attestations.expressions)")
}

// on reports whether an attestation other than provenance is verified.
func (p predicateFlags) on() bool { return p.predicateType != "" }

// resolve checks the flags and expands spdx and cyclonedx to their URIs.
func (p *predicateFlags) resolve() error {
	if p.maxBundleSize < 0 {
		return errors.New("--max-bundle-size must not be negative")
	}
	if !p.on() {
		if p.printPredicate || len(p.expressions) > 0 {
			return errors.New("--print-predicate and --attestation-expression apply to --predicate-type")
		}
		return nil
	}
	if f, err := sbom.ParseFormat(p.predicateType); err == nil {
		p.predicateType = f.PredicateType()
		return nil
	}
	switch p.predicateType {
	case verifier.PredicateSLSAv1, verifier.PredicateSLSAv02, "slsaprovenance", "slsaprovenance1", "provenance":
		return errors.New("--predicate-type names an attestation other than provenance: leave it out to verify provenance")
	}
	if !strings.Contains(p.predicateType, "://") {
		return fmt.Errorf("--predicate-type %q: want spdx, cyclonedx or a URI such as https://spdx.dev/Document", p.predicateType)
	}
	return nil
}

// bundleLimit is the largest bundle read.
func (p predicateFlags) bundleLimit() int {
	switch {
	case p.maxBundleSize > 0:
		return p.maxBundleSize
	case p.on():
		return verifier.DefaultMaxAttestationBundleSize
	}
	return verifier.MaxBundleSize
}

// attestationLimit is the largest bundle of an attestation read beside
// provenance (--attestation-path): --max-bundle-size, else the default for
// attestations.
func (p predicateFlags) attestationLimit() int {
	if p.maxBundleSize > 0 {
		return p.maxBundleSize
	}
	return verifier.DefaultMaxAttestationBundleSize
}

// parseBundles reads a bundle file within the limit.
func (p predicateFlags) parseBundles(data []byte) ([]*bundle.Bundle, error) {
	return verifier.ParseBundlesLimit(data, p.bundleLimit())
}

// narrow adds the expressions to the policy's.
func (p predicateFlags) narrow(pol *verifier.Policy) {
	pol.Attestations.Expressions = append(append([]string(nil), pol.Attestations.Expressions...), p.expressions...)
}

// attestationVerdict is one artifact's outcome for an attestation.
func attestationVerdict(artifact string, d verifier.Digest, res *verifier.AttestationResult, err error) verdict {
	if err != nil {
		return newVerdict(artifact, d, nil, err)
	}
	ext := res.Identity.Extensions
	return verdict{
		Artifact: artifact, Digest: d.String(), Passed: true,
		Level: res.Level, TrustedBuilder: res.TrustedBuilder,
		Identity: res.Identity.SAN, Issuer: res.Identity.Issuer, PredicateType: res.PredicateType, Timestamps: res.Timestamps,
		Source: ext.SourceRepositoryURI, Ref: ext.SourceRepositoryRef, Commit: ext.SourceRepositoryDigest,
		Attestation: res,
	}
}

// verifyImageAttestation finds ref's attestations of the predicate type in
// its registry and verifies them, as verifyImage does provenance.
func verifyImageAttestation(ctx context.Context, v *verifier.Verifier, p predicateFlags, ref string, stderr io.Writer, opts ...oci.Option) (verdict, error) {
	r, err := oci.ParseReference(ref, opts...)
	if err != nil {
		return verdict{}, err
	}
	img, ok := r.(name.Digest)
	if !ok {
		// A tag: verifyImage says what it points to now.
		return verifyImage(ctx, v, ref, stderr, opts...)
	}
	d, err := verifier.ParseDigest(img.DigestStr())
	if err != nil {
		return verdict{}, fmt.Errorf("image %s: %w", ref, err)
	}
	found, err := oci.DiscoverAny(ctx, img, []string{p.predicateType}, append(slices.Clip(opts), oci.WithMaxBundleSize(int64(p.bundleLimit())))...)
	var nf *oci.NotFoundError
	if errors.As(err, &nf) {
		var got []string
		for _, s := range nf.Discovery.Sources {
			got = append(got, s.String())
		}
		return verdict{Artifact: ref, Digest: d.String(), Failure: &failure{
			Check: "attestation", Want: p.predicateType + " attestation attached to " + img.String(), Got: strings.Join(got, "; "), Message: err.Error(),
		}}, nil
	}
	if err != nil {
		return verdict{}, err
	}
	var bundles []*bundle.Bundle
	var perr error
	for _, a := range found.Attestations {
		b, err := verifier.ParseBundleLimit(a.Bundle, p.bundleLimit())
		if err != nil {
			perr = errors.Join(perr, fmt.Errorf("%s %s: %w", a.Source, a.Manifest.DigestStr(), err))
			continue
		}
		bundles = append(bundles, b)
	}
	if len(bundles) == 0 {
		return newVerdict(ref, d, nil, perr), nil
	}
	res, err := v.VerifyAttestationAny(bundles, p.predicateType, d)
	return attestationVerdict(ref, d, res, err), nil
}

// readAttestations reads the --attestation-path files' bundles, each
// within limit bytes.
func readAttestations(paths []string, limit int) ([]*bundle.Bundle, error) {
	var out []*bundle.Bundle
	for _, p := range paths {
		data, err := readLimited(p, int64(max(limit, verifier.MaxBundlesSize)))
		if err != nil {
			return nil, fmt.Errorf("--attestation-path: %w", err)
		}
		bs, err := verifier.ParseBundlesLimit(data, limit)
		if err != nil {
			return nil, fmt.Errorf("--attestation-path %s: %w", p, err)
		}
		out = append(out, bs...)
	}
	return out, nil
}
