package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/githubapi"
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
				Attest:   AttestForAction,
				Upload:   ghaction.StoreUploader(os.Getenv, os.ReadFile),
				Getenv:   os.Getenv,
				ReadFile: os.ReadFile,
				Stdout:   cmd.OutOrStdout(),
				Stderr:   cmd.ErrOrStderr(),
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
// `hallmark attest`, pushes it with push-to-registry, and returns the
// summary it prints with --format json. A failure after bundles were signed
// is a *ghaction.PartialError saying what was done.
func AttestForAction(ctx context.Context, req ghaction.AttestRequest, stderr io.Writer) (*ghaction.AttestResult, error) {
	f := attestFlags{
		subjectPaths:      req.SubjectPaths,
		subjectChecksums:  req.SubjectChecksums,
		subjectNames:      req.SubjectNames,
		subjectDigests:    req.SubjectDigests,
		subjectImagesEach: req.SubjectImages,
		pushToRegistry:    req.PushToRegistry,
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
	if req.PushToRegistry {
		// subject-name is the image (REGISTRY/REPO), subject-digest its
		// digest: the bundle goes to NAME@DIGEST.
		for i := range req.SubjectNames {
			f.pushImages = append(f.pushImages, req.SubjectNames[i]+"@"+req.SubjectDigests[i])
		}
	}
	if req.RegistryToken != "" {
		if in, err := githubapi.InstanceFor(os.Getenv("GITHUB_SERVER_URL"), ""); err == nil {
			f.registryToken = githubRegistryToken{registry: in.Registry, user: os.Getenv("GITHUB_ACTOR"), token: req.RegistryToken}
		}
	}
	sum, err := attest(ctx, f, strings.NewReader(""), stderr, os.Getenv)
	var ke *keptError
	if errors.As(err, &ke) && ke.result != nil {
		return nil, &ghaction.PartialError{Result: ke.result, Err: err}
	}
	if err != nil {
		return nil, err
	}
	return sum, nil
}
