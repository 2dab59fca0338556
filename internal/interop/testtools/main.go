// Command testtools installs the clients and registry the interop suite
// (internal/interop) runs into the tool cache, once: cosign, oras,
// sigstore-go's verifier with `go
// install`, gh in a throwaway module, sigstore-js with npm.
//
//	go run ./internal/interop/testtools
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "testtools:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cache, err := toolcache.DefaultDir()
	if err != nil {
		return err
	}
	for _, t := range toolcache.InteropTools {
		bin, err := t.Ensure(ctx, cache, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Println(bin)
	}
	for _, b := range toolcache.InteropModuleBuilds {
		dir, err := b.Ensure(ctx, cache, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Println(dir)
	}
	script, err := toolcache.SigstoreJS.Ensure(ctx, cache, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(script)
	return nil
}
