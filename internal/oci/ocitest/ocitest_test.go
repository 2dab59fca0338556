package ocitest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// TestReferrersConformance holds the referrers registry to the distribution
// spec where go-containerregistry's in-memory registry departs from it: a
// referrer is listed with its manifest's artifactType (not its config's
// media type), and ?artifactType= filters the list. A registry that did
// neither would let an artifactType bug in Hallmark's pushes pass.
func TestReferrersConformance(t *testing.T) {
	reg := ocitest.Referrers(t)
	img := reg.Image(t, "acme/app", "v1")
	const artifactType = "application/vnd.example.test+json"

	config := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	layer := static.NewLayer([]byte("payload"), "application/vnd.example.layer")
	for _, l := range []v1.Layer{config, layer} {
		if err := remote.WriteLayer(img.Repository, l); err != nil {
			t.Fatal(err)
		}
	}
	desc, err := remote.Head(img)
	if err != nil {
		t.Fatal(err)
	}
	manifest := v1.Manifest{
		SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: artifactType,
		Config:  descriptor(t, config),
		Layers:  []v1.Descriptor{descriptor(t, layer)},
		Subject: &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(img.Context().Digest(d.String()), rawManifest(raw)); err != nil {
		t.Fatal(err)
	}

	list := func(query string) (*v1.IndexManifest, http.Header) {
		t.Helper()
		resp, err := http.Get("http://" + reg.Host + "/v2/acme/app/referrers/" + img.DigestStr() + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("referrers%s: %s", query, resp.Status)
		}
		var idx v1.IndexManifest
		if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
			t.Fatal(err)
		}
		return &idx, resp.Header
	}
	idx, _ := list("")
	if len(idx.Manifests) != 1 || idx.Manifests[0].ArtifactType != artifactType || idx.Manifests[0].Digest != d {
		t.Fatalf("referrers: want %s with artifactType %s, got %+v", d, artifactType, idx.Manifests)
	}
	idx, h := list("?artifactType=" + url.QueryEscape(artifactType))
	if len(idx.Manifests) != 1 || h.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered by its type: want it listed and the filter applied, got %+v, OCI-Filters-Applied %q", idx.Manifests, h.Get("OCI-Filters-Applied"))
	}
	idx, _ = list("?artifactType=application/vnd.example.other")
	if len(idx.Manifests) != 0 {
		t.Fatalf("filtered by another type: want none, got %+v", idx.Manifests)
	}
}

func descriptor(t *testing.T, l v1.Layer) v1.Descriptor {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	size, _ := l.Size()
	mt, _ := l.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
