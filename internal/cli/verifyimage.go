package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/imageverify"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/verifier"
)

// predicateSLSAv1 is the predicate type verify-image looks for in registries.
const predicateSLSAv1 = imageverify.PredicateSLSAv1

func newVerifyImageCmd() *cobra.Command {
	var f verifyFlags
	var insecure bool
	var file imageFileFlags
	cmd := &cobra.Command{
		Use:   "verify-image IMAGE@sha256:HEX --source-uri URI --trusted-root FILE",
		Short: "Find a container image's SLSA provenance in its registry and verify it",
		Long: `verify-image finds the SLSA v1 provenance attached to an image in its
registry and verifies it as verify-artifact does, against the image's digest.

Attestations are looked up, in order, through the registry's OCI 1.1
referrers API, the referrers tag schema (tag sha256-HEX) on registries without
the API, and cosign's legacy tag sha256-HEX.att; referrers are filtered by
artifactType (a Sigstore bundle) and predicate type before any is fetched.
Under the legacy tag, cosign's layers (a DSSE envelope with the signing
certificate and its Rekor entry as annotations, as slsa-github-generator's
container workflow attaches them) are verified offline like any bundle; a
layer without a certificate and log entry is never trusted. SLSA provenance
v1 and v0.2 are looked for; with --predicate-type spdx|cyclonedx|URI, an
attestation of that type (an SBOM), verified as verify-artifact does. A
policy's attestations.require (an SBOM's predicate type) also asks, once the
provenance passed, for that attestation attached to the image, for its
digest, signed by the provenance's signer; without it the image fails.
Credentials come from the docker config and its credential helpers.

Name the image by digest: a tag can move between verification and use, so
what runs later may not be what was verified. A tag fails verification; the
failure names the digest the tag points to now, for you to pin.

With --provenance-path, nothing is read from the registry: the provenance
comes from the file, verified offline against the digest in IMAGE@sha256:HEX.
With --gcb-keys DIR the file is Google Cloud Build's, as gcloud artifacts
docker images describe IMAGE --show-provenance --format json prints it,
verified with Cloud Build's attestor keys in DIR as slsa-verifier verifies it
(no --trusted-root). The built-in policy trusts Cloud Build's hosted workers
for level 3; --builder-id https://cloudbuild.googleapis.com/GoogleHostedWorker
accepts every version of them, @v0.3 one version.

Exit status: 0 when the image passed; 1 when it failed or carries no
provenance (the line names the failed check with what was wanted and what was
found); 2 on usage and registry errors.`,
		Example: `  hallmark verify-image ghcr.io/acme/app@sha256:... --source-uri github.com/acme/app \
    --source-versioned-tag v1 --trusted-root trusted_root.json
  hallmark verify-image us-docker.pkg.dev/acme/app/img@sha256:... --provenance-path build.json \
    --gcb-keys gcb-keys/ --source-uri github.com/acme/app --builder-id https://cloudbuild.googleapis.com/GoogleHostedWorker`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file.given() && f.pred.on() {
				return errors.New("--predicate-type reads attestations from the registry: leave out --provenance-path and --gcb-keys")
			}
			if file.given() {
				return runVerifyImageFile(f, file, args[0], cmd.OutOrStdout())
			}
			return runVerifyImage(cmd.Context(), f, args[0], cmd.OutOrStdout(), cmd.ErrOrStderr(), oci.WithInsecureRegistry(insecure))
		},
	}
	f.register(cmd.Flags())
	f.pred.register(cmd.Flags())
	cmd.Flags().BoolVar(&insecure, "allow-insecure-registry", false, "allow plain HTTP to the registry (local registries)")
	file.register(cmd.Flags())
	return cmd
}

// runVerifyImage is verify-image: load trust and policy, then verify.
func runVerifyImage(ctx context.Context, f verifyFlags, ref string, stdout, stderr io.Writer, opts ...oci.Option) error {
	f.stderr = stderr
	v, _, _, err := f.newVerifier()
	if err != nil {
		return err
	}
	vd, err := func() (verdict, error) {
		if f.pred.on() {
			return verifyImageAttestation(ctx, v, f.pred, ref, stderr, opts...)
		}
		return verifyImage(ctx, v, ref, stderr, opts...)
	}()
	if err != nil {
		return err
	}
	return reportTo(stdout, stderr, f.format, f.printProvenance || f.pred.printPredicate, []verdict{vd})
}

// verifyImage finds ref's provenance and verifies it with v, through the
// flow the admission controller shares (internal/imageverify). An error is
// returned only when the registry could not be asked; a verdict that the
// image failed (or has no provenance) is not an error.
func verifyImage(ctx context.Context, v *verifier.Verifier, ref string, stderr io.Writer, opts ...oci.Option) (verdict, error) {
	vd, err := imageverify.Verify(ctx, v, ref, imageverify.WithRegistry(opts...))
	if err != nil {
		return verdict{}, err
	}
	if vd.Failure != nil {
		return verdict{Artifact: vd.Ref, Digest: vd.Digest, Failure: vd.Failure}, nil
	}
	d, err := verifier.ParseDigest(vd.Digest)
	if err != nil {
		return verdict{}, fmt.Errorf("image %s: %w", ref, err)
	}
	out := newVerdict(ref, d, vd.Result, nil)
	for _, a := range vd.Attestations {
		out.Attestations = append(out.Attestations, a.PredicateType)
	}
	return out, nil
}
