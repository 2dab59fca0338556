// Command testtools builds the Rekor v1 log's servers that
// internal/rekorv1's tests run — rekor-server and Trillian's log server,
// log signer and createtree — into the tool cache, once. MariaDB comes
// from Debian (scripts/install-deps.sh).
//
//	go run ./internal/rekorv1/testtools
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
	for _, t := range sandbox.RekorV1Tools {
		bin, err := t.Ensure(ctx, cache, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testtools:", err)
			os.Exit(1)
		}
		fmt.Println(bin)
	}
}
