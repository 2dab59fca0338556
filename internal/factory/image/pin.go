package image

import (
	"fmt"
	"os"
	"regexp"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

// ImageName is the name the manifests give the factory controller's image; a
// Kustomization's images: entry of that name says which image it is.
const ImageName = "hallmark-factory"

// pinned matches the images: entry for an image name, as kubernetes/
// writes it: name, then newName, then digest.
func pinned(imageName string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(\s*-\s*name:\s*` + regexp.QuoteMeta(imageName) + `\s*\n\s*newName:\s*)\S+(\s*\n\s*digest:\s*)\S+`)
}

// Pin rewrites the Kustomization at path so that its images: entry for
// hallmark-factory names d: newName its repository, digest its digest.
func Pin(path string, d name.Digest) error { return PinImage(path, ImageName, d) }

// PinImage is Pin for the images: entry of another image name.
func PinImage(path, imageName string, d name.Digest) error {
	re := pinned(imageName)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pinning the image: %w", err)
	}
	if !re.Match(raw) {
		return fmt.Errorf("pinning the image: %s has no images entry %q with newName and digest lines after it", path, "- name: "+imageName)
	}
	out := re.ReplaceAll(raw, []byte("${1}"+d.Context().Name()+"${2}"+d.DigestStr()))
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, out, st.Mode().Perm())
}
