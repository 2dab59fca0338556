// Command hallmark-factory is Hallmark's factory mode: a Kubernetes
// controller that signs SLSA provenance for completed Tekton runs with the
// X.509-SVID its SPIRE agent issues. See internal/factory and kubernetes/.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// CA roots for an image without system ones (internal/factory/image
	// builds on an empty base): used only when the system has none.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}
