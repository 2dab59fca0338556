// Command imagebuild builds the factory controller's image with ko
// (internal/factory/image), pushes it to the repository named on the
// command line and pins its digest in the Kustomize base, so that
// kubernetes/ installs exactly that image.
//
//	go run ./internal/factory/imagebuild --repository registry.example.com/platform/hallmark-factory
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/factory/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repo := fs.String("repository", "", "REGISTRY/PATH the image is pushed to, such as registry.example.com/platform/hallmark-factory (required)")
	platforms := fs.String("platform", "linux/amd64", "comma-separated OS/ARCH the image runs on; several make an image index")
	insecure := fs.Bool("insecure", false, "the registry serves plain HTTP (a local registry)")
	kustomization := fs.String("kustomization", "kubernetes/base/kustomization.yaml", "Kustomization whose images: entry for hallmark-factory is pinned to the new digest (empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *repo == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "imagebuild: want --repository REGISTRY/PATH and no arguments")
		return 2
	}
	d, err := image.Build(ctx, image.Options{Repository: *repo, Platforms: strings.Split(*platforms, ","), Insecure: *insecure, Progress: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "imagebuild:", err)
		return 1
	}
	if *kustomization != "" {
		if err := image.Pin(*kustomization, d); err != nil {
			fmt.Fprintln(stderr, "imagebuild:", err)
			return 1
		}
		fmt.Fprintf(stderr, "imagebuild: %s now installs %s\n", *kustomization, d)
	}
	fmt.Fprintln(stdout, d.String())
	return 0
}
