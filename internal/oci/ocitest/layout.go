package ocitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The "kind" annotations cosign writes in the index of an OCI layout it
// saves (cosign save): the image, and its legacy attestation and signature
// images.
const (
	kindImage      = "dev.cosignproject.cosign/image"
	kindImageIndex = "dev.cosignproject.cosign/imageIndex"
	kindAtts       = "dev.cosignproject.cosign/atts"
	kindSigs       = "dev.cosignproject.cosign/sigs"
)

// Layout is what PushLayout put in the registry.
type Layout struct {
	// Image is the saved image, by digest.
	Image name.Digest
	// Pushed are the manifests the registry took; Refused those it refused
	// because blobs they name are not in the layout (image layers left out
	// of a fixture).
	Pushed, Refused []v1.Hash
	// Tags are the legacy tags written: sha256-HEX.att and .sig.
	Tags []string
}

// PushLayout pushes an OCI layout written by cosign save (the image, its
// legacy .att and .sig images) to repo: every blob the layout holds, then
// every manifest, children before the index that lists them, and the
// attestation and signature images under cosign's tags. A manifest whose
// blobs the layout lacks is still offered; the registry may refuse it (the
// distribution registry checks blobs, go-containerregistry's does not),
// and that is recorded in Refused, not fatal.
func (r *Registry) PushLayout(tb testing.TB, dir, repo string) *Layout {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		tb.Fatalf("%s/index.json: %v", dir, err)
	}
	ref, err := name.NewRepository(r.Repo(repo))
	if err != nil {
		tb.Fatal(err)
	}
	blobs, err := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range blobs {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if err := remote.WriteLayer(ref, static.NewLayer(data, types.OCILayer), r.remoteOptions()...); err != nil {
			tb.Fatalf("pushing blob %s: %v", filepath.Base(p), err)
		}
	}
	out := &Layout{}
	var image v1.Hash
	for _, d := range idx.Manifests {
		if k := d.Annotations["kind"]; k == kindImage || k == kindImageIndex {
			image = d.Digest
		}
	}
	if image.Hex == "" {
		tb.Fatalf("%s: no manifest of kind %s or %s", dir, kindImage, kindImageIndex)
	}
	out.Image = ref.Digest(image.String())
	for _, d := range idx.Manifests {
		tag := ""
		switch d.Annotations["kind"] {
		case kindAtts:
			tag = "sha256-" + image.Hex + ".att"
		case kindSigs:
			tag = "sha256-" + image.Hex + ".sig"
		}
		r.pushManifest(tb, dir, ref, d, tag, out)
		if tag != "" {
			out.Tags = append(out.Tags, tag)
		}
	}
	return out
}

// pushManifest pushes the manifest d (its children first, for an index),
// by digest, or under tag when one is given.
func (r *Registry) pushManifest(tb testing.TB, dir string, repo name.Repository, d v1.Descriptor, tag string, out *Layout) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
	if err != nil {
		tb.Fatalf("manifest %s is not in the layout: %v", d.Digest, err)
	}
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("manifest %s: %v", d.Digest, err)
	}
	mt := d.MediaType
	if mt == "" {
		mt = m.MediaType
	}
	if mt.IsIndex() {
		for _, c := range m.Manifests {
			r.pushManifest(tb, dir, repo, c, "", out)
		}
	}
	var target name.Reference = repo.Digest(d.Digest.String())
	if tag != "" {
		target = repo.Tag(tag)
	}
	err = remote.Put(target, rawManifest{raw: raw, mediaType: mt}, r.remoteOptions()...)
	switch {
	case err == nil:
		out.Pushed = append(out.Pushed, d.Digest)
	case strings.Contains(err.Error(), "BLOB_UNKNOWN") || strings.Contains(err.Error(), "MANIFEST_UNKNOWN") || strings.Contains(err.Error(), "not found"):
		if tag != "" {
			tb.Fatalf("pushing %s: %v", tag, err)
		}
		out.Refused = append(out.Refused, d.Digest)
	default:
		tb.Fatalf("pushing manifest %s: %v", d.Digest, err)
	}
}

type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }
