package image

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// TestNormalizeIndex: an index (several platforms) is written again with
// no base repository in it, its images too, and the result is the same
// whatever repository ko recorded.
func TestNormalizeIndex(t *testing.T) {
	reg := ocitest.Referrers(t)
	var digests []string
	for _, repo := range []string{"one/app", "two/app"} {
		base, err := Base([]string{"linux/amd64", "linux/arm64"})
		if err != nil {
			t.Fatal(err)
		}
		ann := map[string]string{"org.opencontainers.image.base.name": reg.Repo(repo) + "@sha256:x", "org.opencontainers.image.base.digest": "sha256:x"}
		im, _ := base.IndexManifest()
		var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, im.MediaType)
		for _, m := range im.Manifests {
			img, err := base.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: mutate.Annotations(img, ann).(v1.Image), Descriptor: v1.Descriptor{Platform: m.Platform}})
		}
		idx = mutate.Annotations(idx, ann).(v1.ImageIndex)
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.NewDigest(reg.Repo(repo)+"@"+d.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.WriteIndex(ref, idx); err != nil {
			t.Fatal(err)
		}
		nd, err := normalize(ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := remote.Index(nd)
		if err != nil {
			t.Fatal(err)
		}
		gm, _ := got.IndexManifest()
		if _, ok := gm.Annotations["org.opencontainers.image.base.name"]; ok || len(gm.Manifests) != 2 {
			t.Fatalf("normalized index %+v", gm)
		}
		for _, m := range gm.Manifests {
			img, err := got.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			mm, err := img.Manifest()
			if err != nil || mm.Annotations["org.opencontainers.image.base.name"] != "" || mm.Annotations["org.opencontainers.image.base.digest"] != "sha256:x" {
				t.Fatalf("normalized image %+v %v", mm, err)
			}
		}
		digests = append(digests, nd.DigestStr())
	}
	if digests[0] != digests[1] {
		t.Errorf("normalized indexes differ by repository: %v", digests)
	}
}
