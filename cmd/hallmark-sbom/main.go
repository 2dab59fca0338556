// Command hallmark-sbom makes SBOMs for hallmark attest --sbom. It is a
// binary of its own so that hallmark does not pay for syft's packages at
// every start.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hallmark-dev/hallmark/internal/sbom/scanner"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := scanner.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
