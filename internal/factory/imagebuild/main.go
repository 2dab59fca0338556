// Command imagebuild builds a controller's image with ko
// (internal/factory/image) — the factory's or the admission controller's —
// pushes it to the repository named on the command line and pins its
// digest in the component's Kustomization, so that kubernetes/ installs
// exactly that image.
//
//	go run ./internal/factory/imagebuild --repository registry.example.com/platform/hallmark-factory
//	go run ./internal/factory/imagebuild --component admission --repository registry.example.com/platform/hallmark-admission
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
	component := fs.String("component", "factory", "the controller to build: factory or admission")
	kustomization := fs.String("kustomization", "", "Kustomization whose images: entry for the component is pinned to the new digest (default: the component's own under kubernetes/; \"none\": none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, ok := image.Components[*component]
	if *repo == "" || fs.NArg() > 0 || !ok {
		fmt.Fprintln(stderr, "imagebuild: want --repository REGISTRY/PATH, --component factory or admission, and no arguments")
		return 2
	}
	switch *kustomization {
	case "":
		*kustomization = c.Kustomization
	case "none":
		*kustomization = ""
	}
	d, err := image.Build(ctx, image.Options{Repository: *repo, Main: c.Main, Companions: c.Companions, Platforms: strings.Split(*platforms, ","), Insecure: *insecure, Progress: stderr})
	if err != nil {
		fmt.Fprintln(stderr, "imagebuild:", err)
		return 1
	}
	if *kustomization != "" {
		if err := image.PinImage(*kustomization, c.ImageName, d); err != nil {
			fmt.Fprintln(stderr, "imagebuild:", err)
			return 1
		}
		fmt.Fprintf(stderr, "imagebuild: %s now installs %s\n", *kustomization, d)
	}
	fmt.Fprintln(stdout, d.String())
	return 0
}
