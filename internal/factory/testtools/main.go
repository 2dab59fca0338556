// Command testtools builds the tools factory mode's tests and image build
// run — SPIRE server and agent, kube-apiserver, Tekton Chains' controller,
// ko — into the tool cache, once, and prints where each is. etcd comes from
// Debian (scripts/install-deps.sh) and Tekton's CRDs from the module cache.
//
//	go run ./internal/factory/testtools        # all of them
//	go run ./internal/factory/testtools ko     # one, by name
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"

	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/factory/image"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

type tool interface {
	Ensure(ctx context.Context, cacheDir string, progress io.Writer) (string, error)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testtools:", err)
		os.Exit(1)
	}
	tools := map[string]tool{"ko": image.Ko, factorytest.ChainsController.Name: factorytest.ChainsController}
	order := []string{}
	for _, b := range sandbox.FactoryTools {
		tools[b.Name] = b
		order = append(order, b.Name)
	}
	order = append(order, factorytest.ChainsController.Name, "ko")
	if len(os.Args) > 1 {
		order = os.Args[1:]
	}
	for _, name := range order {
		t, ok := tools[name]
		if !ok {
			names := slices.Sorted(func(yield func(string) bool) {
				for n := range tools {
					if !yield(n) {
						return
					}
				}
			})
			fmt.Fprintf(os.Stderr, "testtools: no tool %q; want one of %v\n", name, names)
			os.Exit(2)
		}
		path, err := t.Ensure(ctx, cache, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testtools:", err)
			os.Exit(1)
		}
		fmt.Println(path)
	}
}
