package scanner

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/sbom"
)

const usage = `hallmark-sbom makes the SBOM of a file, a directory or an image, for
hallmark attest --sbom, with syft.

Usage:
  hallmark-sbom scan --format spdx|cyclonedx --path FILE-OR-DIRECTORY
  hallmark-sbom scan --format spdx|cyclonedx --image REGISTRY/REPO@sha256:HEX [--allow-insecure-registry]
  hallmark-sbom version

The SBOM (SPDX 2.3 JSON or CycloneDX 1.6 JSON) is written to stdout. A file
that is an archive (tar, zip, jar, ...) is looked into. An image is read from
its registry by digest, with the docker config's credentials; no container
daemon is asked.
`

// Run is hallmark-sbom's command line: it returns the exit code (0 done,
// 1 failed, 2 usage).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version":
		fmt.Fprintln(stdout, version())
		return 0
	case "scan":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hallmark-sbom: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("hallmark-sbom scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "spdx", "SBOM format: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON)")
	path := fs.String("path", "", "file or directory to make the SBOM of")
	img := fs.String("image", "", "image to make the SBOM of, by digest: REGISTRY/REPO@sha256:HEX")
	insecure := fs.Bool("allow-insecure-registry", false, "allow plain HTTP to the registry (local registries)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	f, err := sbom.ParseFormat(*format)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err == nil && (*path == "") == (*img == "") {
		err = errors.New("give one of --path and --image")
	}
	if err != nil {
		fmt.Fprintf(stderr, "hallmark-sbom: %v\n", err)
		return 2
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	o := Options{Version: version(), Registry: []oci.Option{oci.WithInsecureRegistry(*insecure)}}
	err = Scan(ctx, w, sbom.Target{Path: *path, Image: *img}, f, o)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "hallmark-sbom: %v\n", err)
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
