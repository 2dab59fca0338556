// Command testtools builds the servers factory mode's tests run — SPIRE
// server and agent, kube-apiserver — into the tool cache, once. etcd comes
// from Debian (scripts/install-deps.sh) and Tekton's CRDs from the module
// cache.
//
//	go run ./internal/factory/testtools
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtools:", err)
		os.Exit(1)
	}
	for _, b := range sandbox.FactoryTools {
		dir, err := b.Ensure(ctx, cache, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testtools:", err)
			os.Exit(1)
		}
		fmt.Println(dir)
	}
}
