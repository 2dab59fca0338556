package attest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// TestSubjectImagesFlags: --subject-images alone, one item a line or comma,
// one statement a digest: an image named twice, or by two repositories
// (mirrors), is one statement; two digests of one repository are two.
func TestSubjectImagesFlags(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	f, perImage, err := Request{EachImage: []string{"ghcr.io/acme/app@" + d1 + "\n\n docker.io/acme/app@" + d1 + " ,", "ghcr.io/acme/app@" + d2, "ghcr.io/acme/app@" + d1}}.expandImages()
	if err != nil || !perImage {
		t.Fatal(err)
	}
	groups, err := subjectGroups(context.Background(), f, perImage, nil)
	if err != nil {
		t.Fatal(err)
	}
	hex := func(d string) map[string]string { return map[string]string{"sha256": strings.TrimPrefix(d, "sha256:")} }
	want := [][]subject.Subject{
		{{Name: "ghcr.io/acme/app", Digest: hex(d1)}, {Name: "index.docker.io/acme/app", Digest: hex(d1)}},
		{{Name: "ghcr.io/acme/app", Digest: hex(d2)}},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("groups\ngot  %v\nwant %v", groups, want)
	}
	if got, want := bundlePaths("out/p.sigstore.json", groups, false, true), []string{"out/p.app-111111111111.sigstore.json", "out/p.app-222222222222.sigstore.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("bundle paths %v, want %v", got, want)
	}
	if got := bundlePaths("out/p.sigstore.json", groups[:1], false, true); !reflect.DeepEqual(got, []string{"out/p.sigstore.json"}) {
		t.Errorf("one image: bundle paths %v, want the path as given", got)
	}

	for name, f := range map[string]Request{
		"with --subject-path":  {EachImage: []string{"ghcr.io/a/b@" + d1}, SubjectPaths: []string{"dist/*"}},
		"with --subject-image": {EachImage: []string{"ghcr.io/a/b@" + d1}, SubjectImages: []string{"ghcr.io/a/c@" + d1}},
		"empty list":           {EachImage: []string{" , \n"}},
	} {
		if _, _, err := f.expandImages(); err == nil || !strings.Contains(err.Error(), "--subject-images") {
			t.Errorf("%s: err = %v, want one naming --subject-images", name, err)
		}
	}
	// A signing that failed for one image keeps the others' bundles, and
	// the push command covers the images those are about.
	kept := []result.Bundle{{Path: "p.app-2.sigstore.json", Subjects: []result.Subject{{Name: "ghcr.io/acme/app", Digest: hex(d2)}}}}
	if got := imagesOf(f.registry(), f.pushTargets(), kept); !reflect.DeepEqual(got, []string{"ghcr.io/acme/app@" + d2}) {
		t.Errorf("images of the kept bundles: %v", got)
	}

	f, perImage, _ = Request{EachImage: []string{"ghcr.io/acme/app:v1"}}.expandImages()
	if _, err := subjectGroups(context.Background(), f, perImage, nil); !errors.Is(err, subject.ErrNoImageDigest) {
		t.Errorf("image by tag: err = %v, want ErrNoImageDigest", err)
	}
}
