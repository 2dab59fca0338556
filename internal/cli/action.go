package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
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
				Upload:   ghaction.StoreUploader(os.Getenv),
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
