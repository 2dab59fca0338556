// Package cli is the hallmark command tree. Each command is a function of its
// flags, a context and the standard streams, so tests call it in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// ExitError carries a specific exit code out of a command. Commands return it
// when the code means something to the caller (verification failed: 1).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// exitCode reports err on stderr and returns the process exit code for it:
// 0 for none, an ExitError's code, else 2.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "error:", err)
	return 2
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hallmark",
		Short:         "Signed, verifiable SLSA provenance for every build",
		Long:          "Hallmark makes SLSA v1.0 provenance for build outputs, signs it keylessly with Sigstore,\nand verifies it offline against a trusted root and a policy.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newActionCmd(),
		newAttestCmd(),
		newPushCmd(),
		newVerifyArtifactCmd(),
		newVerifyImageCmd(),
		newVerifyNpmPackageCmd(),
		newVerifyVSACmd(),
		newSandboxCmd(),
		newTrustedRootCmd(),
		newVersionCmd(),
	)
	return root
}
