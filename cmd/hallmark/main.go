// Command hallmark makes and checks signed SLSA provenance.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hallmark-dev/hallmark/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
