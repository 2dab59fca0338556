package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// Ko is the image builder, built into the tool cache once.
var Ko = toolcache.Tool{Name: "ko", Version: "v0.19.1", Package: "github.com/google/ko", Binary: "ko"}

// Component is one of Hallmark's controllers that ships as an image: its
// main package, the name its manifests give the image, and the
// Kustomization that pins it.
type Component struct {
	Main          string
	ImageName     string
	Kustomization string
	// Companions are main packages whose binaries the image carries
	// beside the controller's, in /ko-app: the factory runs hallmark-sbom
	// from beside its own executable.
	Companions []string
}

// The controllers ko builds.
var (
	Factory   = Component{Main: "./cmd/hallmark-factory", ImageName: "hallmark-factory", Kustomization: "kubernetes/base/kustomization.yaml", Companions: []string{"./cmd/hallmark-sbom"}}
	Admission = Component{Main: "./cmd/hallmark-admission", ImageName: "hallmark-admission", Kustomization: "kubernetes/admission/kustomization.yaml"}
	// Components are all of them, by name.
	Components = map[string]Component{"factory": Factory, "admission": Admission}
)

// MainPackage is the factory controller's main package, as ko builds it.
const MainPackage = "./cmd/hallmark-factory"

// Options say where the image goes and what it runs on.
type Options struct {
	// Repository receives the image (and its base, by digest only):
	// REGISTRY/PATH. Required.
	Repository string
	// Platforms are the OS/ARCH the image runs on; linux/amd64 when
	// empty. Several make an image index.
	Platforms []string
	// Insecure allows a registry on plain HTTP.
	Insecure bool
	// ModuleDir is the root of Hallmark's source; the working directory
	// when empty.
	ModuleDir string
	// Ko is the ko binary; the tool cache's (installed on first use) when
	// empty.
	Ko string
	// Progress receives ko's output; discarded when nil.
	Progress io.Writer
	// Main is the main package to build; the factory controller's when
	// empty.
	Main string
	// Companions are main packages built first, each into a layer of the
	// image's base, so that their binaries sit beside Main's in /ko-app.
	// Each is pushed to Repository under a tag of its binary's name.
	Companions []string
}

// Build builds a controller's image (Options.Main) and pushes it; it
// returns the image (or index) by digest.
func Build(ctx context.Context, o Options) (name.Digest, error) {
	if o.Repository == "" {
		return name.Digest{}, errors.New("image: no repository: name one, such as registry.example.com/platform/hallmark-factory")
	}
	if len(o.Platforms) == 0 {
		o.Platforms = []string{"linux/amd64"}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ModuleDir == "" {
		o.ModuleDir = "."
	}
	if o.Main == "" {
		o.Main = MainPackage
	}
	var nameOpts []name.Option
	if o.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	repo, err := name.NewRepository(o.Repository, nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image: repository %q: %w", o.Repository, err)
	}
	if o.Ko == "" {
		cache, err := toolcache.DefaultDir()
		if err != nil {
			return name.Digest{}, err
		}
		if o.Ko, err = Ko.Ensure(ctx, cache, o.Progress); err != nil {
			return name.Digest{}, err
		}
	}
	base, err := Base(o.Platforms)
	if err != nil {
		return name.Digest{}, err
	}
	bd, err := base.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	baseRef := repo.Digest(bd.String())
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if err := remote.WriteIndex(baseRef, base, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("image: pushing the base image to %s: %w", repo, err)
	}
	for _, c := range o.Companions {
		d, err := koBuild(ctx, o, repo, baseRef.String(), c, nameOpts, ropts)
		if err != nil {
			return name.Digest{}, err
		}
		baseRef = d
	}
	return koBuild(ctx, o, repo, baseRef.String(), o.Main, nameOpts, ropts)
}

// koBuild builds main with ko onto base, pushes it to repo and returns it,
// normalized, by digest. A companion (main other than o.Main) is tagged
// with its binary's name rather than latest.
func koBuild(ctx context.Context, o Options, repo name.Repository, base, main string, nameOpts []name.Option, ropts []remote.Option) (name.Digest, error) {
	f, err := os.CreateTemp("", "hallmark-image-refs-*")
	if err != nil {
		return name.Digest{}, err
	}
	refs := f.Name()
	f.Close()
	defer os.Remove(refs)
	args := []string{"build", "--bare", "--sbom=none", "--image-refs=" + refs, "--platform=" + strings.Join(o.Platforms, ",")}
	if main != o.Main {
		args = append(args, "--tags="+filepath.Base(main))
	}
	if o.Insecure {
		args = append(args, "--insecure-registry")
	}
	args = append(args, main)
	cmd := exec.CommandContext(ctx, o.Ko, args...)
	cmd.Dir = o.ModuleDir
	cmd.Env = append(os.Environ(),
		"KO_DOCKER_REPO="+repo.String(),
		"KO_DEFAULTBASEIMAGE="+base,
		"KO_CONFIG_PATH="+filepath.Join(o.ModuleDir, ".ko.yaml"),
		"SOURCE_DATE_EPOCH=0",
		"KO_DATA_DATE_EPOCH=0",
		"CGO_ENABLED=0",
		"GOFLAGS=-buildvcs=false",
	)
	var stderr bytes.Buffer
	cmd.Stdout = o.Progress
	cmd.Stderr = io.MultiWriter(o.Progress, &stderr)
	if err := cmd.Run(); err != nil {
		return name.Digest{}, fmt.Errorf("image: ko build %s: %w\n%s", main, err, tail(stderr.String(), 20))
	}
	raw, err := os.ReadFile(refs)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image: ko wrote no image reference for %s: %w", main, err)
	}
	d, err := name.NewDigest(strings.TrimSpace(string(raw)), nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image: ko's image reference %q: %w", strings.TrimSpace(string(raw)), err)
	}
	return normalize(d, ropts)
}

// normalize writes ko's image (or index) again without the annotation
// org.opencontainers.image.base.name, in which ko records the repository it
// pulled the base from: with it, the digest would depend on the registry the
// image was built for. The base's digest stays recorded. It returns the
// normalized image by digest.
func normalize(d name.Digest, ropts []remote.Option) (name.Digest, error) {
	desc, err := remote.Get(d, ropts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image: reading %s: %w", d, err)
	}
	var out []byte
	switch {
	case desc.MediaType.IsImage():
		var m v1.Manifest
		if err := json.Unmarshal(desc.Manifest, &m); err != nil {
			return name.Digest{}, err
		}
		m.Annotations = withoutBaseName(m.Annotations)
		if out, err = json.Marshal(m); err != nil {
			return name.Digest{}, err
		}
	case desc.MediaType.IsIndex():
		var idx v1.IndexManifest
		if err := json.Unmarshal(desc.Manifest, &idx); err != nil {
			return name.Digest{}, err
		}
		for i, m := range idx.Manifests {
			child, err := normalize(d.Context().Digest(m.Digest.String()), ropts)
			if err != nil {
				return name.Digest{}, err
			}
			cd, err := remote.Head(child, ropts...)
			if err != nil {
				return name.Digest{}, err
			}
			idx.Manifests[i].Digest, idx.Manifests[i].Size = cd.Digest, cd.Size
		}
		idx.Annotations = withoutBaseName(idx.Annotations)
		if out, err = json.Marshal(idx); err != nil {
			return name.Digest{}, err
		}
	default:
		return name.Digest{}, fmt.Errorf("image: %s is a %s, neither an image nor an index", d, desc.MediaType)
	}
	h, _, err := v1.SHA256(bytes.NewReader(out))
	if err != nil {
		return name.Digest{}, err
	}
	nd := d.Context().Digest(h.String())
	if err := remote.Put(nd, rawManifest{raw: out, mediaType: desc.MediaType}, ropts...); err != nil {
		return name.Digest{}, fmt.Errorf("image: pushing %s: %w", nd, err)
	}
	return nd, nil
}

func withoutBaseName(ann map[string]string) map[string]string {
	delete(ann, "org.opencontainers.image.base.name")
	if len(ann) == 0 {
		return nil
	}
	return ann
}

type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }

// Base is the empty base image, one per platform, in an index: no layers
// and a config that names only the platform, so its digest is a constant.
func Base(platforms []string) (v1.ImageIndex, error) {
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for _, p := range platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("image: platform %q: %w", p, err)
		}
		img, err := mutate.ConfigFile(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), &v1.ConfigFile{
			OS: plat.OS, Architecture: plat.Architecture, Variant: plat.Variant,
			RootFS: v1.RootFS{Type: "layers"},
		})
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
