package image_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/factory/image"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

func ko(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the controller's image with ko; runs without -short")
	}
	cache, err := toolcache.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := image.Ko.Path(cache)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("ko %s is not in %s: run scripts/install-deps.sh", image.Ko.Version, cache)
	}
	return bin
}

// moduleRoot is the repository root, two folders up.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestBuildReproducible builds the controller's image twice, from the
// repository and from a copy of it in another folder, into a real registry:
// both give the same digest. The image runs the controller.
func TestBuildReproducible(t *testing.T) {
	bin := ko(t)
	reg := ocitest.Distribution(t)
	root := moduleRoot(t)
	copyDir := filepath.Join(t.TempDir(), "elsewhere")
	copyTree(t, root, copyDir)

	var digests []name.Digest
	for i, dir := range []string{root, copyDir} {
		var log bytes.Buffer
		d, err := image.Build(t.Context(), image.Options{
			Repository: reg.Repo([]string{"first/hallmark-factory", "second/hallmark-factory"}[i]),
			Insecure:   true, ModuleDir: dir, Ko: bin, Progress: &log,
			Companions: image.Factory.Companions,
		})
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i+1, err, log.String())
		}
		digests = append(digests, d)
	}
	if digests[0].DigestStr() != digests[1].DigestStr() {
		t.Fatalf("two builds of one source gave %s and %s:\n%s\n%s", digests[0], digests[1], describe(t, digests[0]), describe(t, digests[1]))
	}

	// One platform: an image (several make an index).
	desc, err := remote.Get(digests[0])
	if err != nil {
		t.Fatal(err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatalf("%s is not an image: %v", digests[0], err)
	}
	if m, err := img.Manifest(); err != nil || m.Annotations["org.opencontainers.image.base.name"] != "" {
		t.Errorf("manifest annotations %v (%v): the base's repository ties the digest to the registry", m.Annotations, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Created.Unix() != 0 || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("entrypoint %q, created %s, platform %s/%s", cfg.Config.Entrypoint, cfg.Created, cfg.OS, cfg.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %v", err)
	}
	// The binary, taken out of the image, is the controller.
	exe := extract(t, layers[len(layers)-1], strings.TrimPrefix(cfg.Config.Entrypoint[0], "/"))
	out, _ := exec.Command(exe, "--help").CombinedOutput()
	if !strings.Contains(string(out), "-tenancy-policy") {
		t.Errorf("the image's binary is not the controller: %s", out)
	}
	// hallmark-sbom sits beside it, in a layer below, where the
	// controller looks for the SBOM generator tenants may ask for.
	beside := filepath.Join(filepath.Dir(strings.TrimPrefix(cfg.Config.Entrypoint[0], "/")), "hallmark-sbom")
	gen := ""
	for _, l := range layers[:len(layers)-1] {
		if gen = find(t, l, beside); gen != "" {
			break
		}
	}
	if gen == "" {
		t.Fatalf("%s is in none of the image's layers", beside)
	}
	if out, _ := exec.Command(gen, "--help").CombinedOutput(); !strings.Contains(string(out), "spdx") {
		t.Errorf("the binary beside the controller is not hallmark-sbom: %s", out)
	}
}

// TestPin rewrites a Kustomization's images: entry.
func TestPin(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "kubernetes", "base", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kustomization.yaml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := name.NewDigest("registry.example.com/platform/hallmark-factory@sha256:" + strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := image.Pin(path, d); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	for _, want := range []string{"newName: registry.example.com/platform/hallmark-factory\n", "digest: sha256:" + strings.Repeat("ab", 32) + "\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("pinned kustomization lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(string(got), "\n") != strings.Count(string(src), "\n") {
		t.Errorf("Pin changed more than the entry:\n%s", got)
	}
	if err := image.Pin(filepath.Join(moduleRoot(t), "go.mod"), d); err == nil {
		t.Error("Pin accepted a file with no images: entry")
	}
}

// describe says what an image index holds, to tell two builds apart.
func describe(t *testing.T, d name.Digest) string {
	t.Helper()
	desc, err := remote.Get(d)
	if err != nil {
		return err.Error()
	}
	img, err := desc.Image()
	if err != nil {
		return err.Error()
	}
	raw, _ := img.RawConfigFile()
	man, _ := img.RawManifest()
	return fmt.Sprintf("manifest %s\nconfig %s\n", man, raw)
}

// copyTree copies the module's source (not .git) to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() && (e.Name() == ".git" || e.Name() == "node_modules") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// extract writes the file named path in layer to a temporary executable.
func extract(t *testing.T, layer interface{ Uncompressed() (io.ReadCloser, error) }, path string) string {
	t.Helper()
	out := find(t, layer, path)
	if out == "" {
		t.Fatalf("%s is not in the image's layer", path)
	}
	return out
}

// find writes the file at path in layer to a temporary file and returns
// its name, or "" when the layer has no such file.
func find(t *testing.T, layer interface{ Uncompressed() (io.ReadCloser, error) }, path string) string {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") != path {
			continue
		}
		out := filepath.Join(t.TempDir(), filepath.Base(path))
		f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return out
	}
	return ""
}
