package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// newActionCmd is the hidden entry point of the GitHub actions in action.yml
// and verifier/action.yml: inputs come from INPUT_* variables, results go to
// the runner's output and summary files.
func newActionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "action",
		Short:  "Run as the Hallmark GitHub actions (used by action.yml and verifier/action.yml)",
		Hidden: true,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "attest",
		Short: "The attest action: make and sign SLSA provenance for the inputs' subjects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return actionError(cmd.OutOrStdout(), ghaction.Attest(cmd.Context(), ghaction.AttestConfig{
				Attest:    AttestForAction,
				Push:      pushForAction,
				CheckPush: checkPushForAction,
				Upload:    ghaction.StoreUploader(os.Getenv, os.ReadFile),
				Getenv:    os.Getenv,
				ReadFile:  os.ReadFile,
				Stdout:    cmd.OutOrStdout(),
				Stderr:    cmd.ErrOrStderr(),
			}))
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "The slsa-verify action: verify artifacts against their provenance with the inputs as flags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return actionError(cmd.OutOrStdout(), ghaction.Verify(cmd.Context(), ghaction.VerifyConfig{
				Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
					return Run(ctx, args, strings.NewReader(""), stdout, stderr)
				},
				Getenv: os.Getenv,
				Stdout: cmd.OutOrStdout(),
				Stderr: cmd.ErrOrStderr(),
			}))
		},
	})
	return cmd
}

// actionError turns a failure into an error annotation on the step, written
// to stdout where the runner reads workflow commands, and exit status 1, so
// the job fails with the reason in its summary.
func actionError(stdout io.Writer, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(err.Error())
	fmt.Fprintf(stdout, "::error title=hallmark::%s\n", msg)
	return &ExitError{Code: 1, Err: err}
}

// AttestForAction signs provenance for req along the very code path of
// `hallmark attest`, and returns the summary it prints with --format json.
func AttestForAction(ctx context.Context, req ghaction.AttestRequest, stderr io.Writer) (*ghaction.AttestResult, error) {
	f := attestFlags{
		subjectPaths:      req.SubjectPaths,
		subjectChecksums:  req.SubjectChecksums,
		subjectNames:      req.SubjectNames,
		subjectDigests:    req.SubjectDigests,
		bundlePath:        req.BundlePath,
		signingConfig:     req.SigningConfig,
		trustedRoot:       req.TrustedRoot,
		identityToken:     req.IdentityToken,
		private:           req.Private,
		privateRepository: req.PrivateRepository,
		deadline:          signer.DefaultDeadline,
		timeout:           signer.DefaultTimeout,
		retries:           signer.DefaultRetries,
		pushDeadline:      defaultPushDeadline,
		sbom: sbomFlags{generate: len(req.SBOMFormats) > 0 && req.SBOMSource == "", formats: req.SBOMFormats,
			source: req.SBOMSource, path: req.SBOMPath},
	}
	sum, err := attest(ctx, f, strings.NewReader(""), stderr, os.Getenv)
	if err != nil {
		return nil, err
	}
	return &sum.AttestResult, nil
}

// pushForAction attaches a bundle to the image ref as an OCI 1.1 referrer
// (the referrers tag schema on registries without the referrers API), with
// the credentials of the Docker config, within attest's push deadline.
func pushForAction(ctx context.Context, ref, bundlePath string) (string, error) {
	subject, err := name.NewDigest(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: want REGISTRY/REPO@sha256:HEX: %w", ref, err)
	}
	data, err := os.ReadFile(bundlePath)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, defaultPushDeadline)
	defer cancel()
	p, err := oci.Push(ctx, subject, oci.Attestation{Bundle: data, PredicateType: "https://slsa.dev/provenance/v1"}, oci.WithTimeout(signer.DefaultTimeout))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (%s)", p.Manifest, p.Source), nil
}

// checkPushForAction is the action's registry check before signing: the
// image exists and the registry takes pushes.
func checkPushForAction(ctx context.Context, ref string) error {
	subject, err := name.NewDigest(ref)
	if err != nil {
		return fmt.Errorf("image %q: want REGISTRY/REPO@sha256:HEX: %w", ref, err)
	}
	ctx, cancel := context.WithTimeout(ctx, defaultPushDeadline)
	defer cancel()
	_, err = oci.CheckPush(ctx, subject, oci.WithTimeout(signer.DefaultTimeout))
	return err
}
