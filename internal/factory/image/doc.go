// Package image builds the factory controller's container image with ko,
// reproducibly, and pushes it to a registry: no Docker daemon, no base
// image from elsewhere.
//
// The base is an empty image made here (no layers, a fixed config): the
// controller is a static Go binary that carries its own CA roots
// (golang.org/x/crypto/x509roots/fallback) and runs as the non-root user
// its Deployment names. ko adds the binary, built with -trimpath, without
// VCS stamp or build ID, and dates everything at SOURCE_DATE_EPOCH 0, so
// the same source and Go give the same image digest on any machine. ko
// records the repository it took the base from in an annotation; the
// build writes the manifest again without it, so the digest does not
// depend on the registry either.
//
// A component's companions (the factory's hallmark-sbom, which makes the
// SBOMs tenants ask for) are built the same way first, each onto the base
// before it, so their binaries sit beside the controller's in /ko-app;
// each is pushed to the same repository under a tag of its name.
//
//	d, err := image.Build(ctx, image.Options{Repository: "registry.example.com/platform/hallmark-factory"})
package image
