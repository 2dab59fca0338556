// Command hallmark-admission is Hallmark's admission controller: a
// mutating and validating webhook that pins every image to a digest and
// admits it only if its provenance passes the ImagePolicy that governs it.
// See internal/admission and kubernetes/admission/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// The image is empty but for this binary: it carries the CA roots
	// it reaches registries with.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}
