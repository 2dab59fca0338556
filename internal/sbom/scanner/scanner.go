// Package scanner is hallmark-sbom's library: it makes the SBOM of a file,
// a directory or an image with syft. Only cmd/hallmark-sbom imports it (see
// package sbom for why).
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	stereofile "github.com/anchore/stereoscope/pkg/file"
	"github.com/anchore/stereoscope/pkg/image"
	"github.com/anchore/syft/syft"
	"github.com/anchore/syft/syft/format/cyclonedxjson"
	"github.com/anchore/syft/syft/format/spdxjson"
	syftsbom "github.com/anchore/syft/syft/sbom"
	"github.com/anchore/syft/syft/source"
	"github.com/anchore/syft/syft/source/directorysource"
	"github.com/anchore/syft/syft/source/filesource"
	"github.com/anchore/syft/syft/source/stereoscopesource"
	"github.com/google/go-containerregistry/pkg/name"
	// The sqlite driver syft's RPM cataloger reads newer rpmdb files with,
	// as syft's own command registers it.
	_ "modernc.org/sqlite"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/sbom"
)

// Tool names the generator in the SBOMs it writes.
const Tool = "hallmark-sbom"

// Options configure Scan.
type Options struct {
	// Registry configures image access (credentials from the docker
	// config by default).
	Registry []oci.Option
	// Version is the generator's version, recorded in the SBOM.
	Version string
}

// Scan writes the SBOM of t, in format f, to w: the packages syft finds
// in a file (an archive is looked into), a directory, or an image read
// from its registry by digest (no container daemon is asked).
func Scan(ctx context.Context, w io.Writer, t sbom.Target, f sbom.Format, o Options) error {
	enc, err := encoder(f)
	if err != nil {
		return err
	}
	src, cleanup, err := openSource(ctx, t, o)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg := syft.DefaultCreateSBOMConfig().WithTool(Tool, o.Version)
	s, err := syft.CreateSBOM(ctx, src, cfg)
	if err != nil {
		return fmt.Errorf("cataloging %s: %w", t, err)
	}
	if err := enc.Encode(w, *s); err != nil {
		return fmt.Errorf("writing the SBOM of %s: %w", t, err)
	}
	return nil
}

func encoder(f sbom.Format) (syftsbom.FormatEncoder, error) {
	switch f {
	case sbom.SPDX:
		return spdxjson.NewFormatEncoderWithConfig(spdxjson.DefaultEncoderConfig())
	case sbom.CycloneDX:
		return cyclonedxjson.NewFormatEncoderWithConfig(cyclonedxjson.DefaultEncoderConfig())
	}
	return nil, fmt.Errorf("SBOM format %q: want spdx or cyclonedx", f)
}

// openSource opens what t names as a syft source.
func openSource(ctx context.Context, t sbom.Target, o Options) (source.Source, func(), error) {
	switch {
	case t.Image != "" && t.Path == "":
		return imageSource(ctx, t.Image, o)
	case t.Path != "" && t.Image == "":
		fi, err := os.Stat(t.Path)
		if err != nil {
			return nil, nil, err
		}
		var src source.Source
		switch {
		case fi.IsDir():
			src, err = directorysource.New(directorysource.Config{Path: t.Path, Base: t.Path})
		case fi.Mode().IsRegular():
			src, err = filesource.New(filesource.Config{Path: t.Path})
		default:
			return nil, nil, fmt.Errorf("%s is neither a file nor a directory", t.Path)
		}
		if err != nil {
			return nil, nil, err
		}
		return src, func() { _ = src.Close() }, nil
	}
	return nil, nil, errors.New("give a path or an image")
}

// imageSource reads an image by digest through go-containerregistry, with
// Hallmark's registry options, into a syft source.
func imageSource(ctx context.Context, ref string, o Options) (source.Source, func(), error) {
	opts := append([]oci.Option{oci.WithUserAgent(Tool)}, o.Registry...)
	parsed, err := oci.ParseReference(ref, opts...)
	if err != nil {
		return nil, nil, err
	}
	d, ok := parsed.(name.Digest)
	if !ok {
		return nil, nil, fmt.Errorf("image %s: name it by digest (REGISTRY/REPO@sha256:HEX): a tag can move", ref)
	}
	img, err := oci.Image(ctx, d, opts...)
	if err != nil {
		return nil, nil, err
	}
	tmp := stereofile.NewTempDirGenerator("hallmark-sbom")
	cleanup := func() { _ = tmp.Cleanup() }
	dir, err := tmp.NewDirectory("image")
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	meta := []image.AdditionalMetadata{image.WithRepoDigests(d.Context().Name() + "@" + d.DigestStr())}
	if raw, err := img.RawManifest(); err == nil {
		meta = append(meta, image.WithManifest(raw), image.WithManifestDigest(d.DigestStr()))
	}
	simg := image.New(img, tmp, dir, meta...)
	if err := simg.Read(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("reading image %s: %w", d, err)
	}
	src := stereoscopesource.New(simg, stereoscopesource.ImageConfig{Reference: d.String()})
	return src, func() { _ = simg.Cleanup(); cleanup() }, nil
}
