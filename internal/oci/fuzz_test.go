package oci

import (
	"bytes"
	"testing"
)

// FuzzDecodeIndex: a referrers index is registry-controlled input.
func FuzzDecodeIndex(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","annotations":{"dev.sigstore.bundle.predicateType":"https://slsa.dev/provenance/v1"}}]}`))
	f.Add([]byte(`{"manifests":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := decodeIndex(bytes.NewReader(data))
		if err == nil && len(idx.Manifests) > MaxReferrers {
			t.Fatalf("%d manifests accepted", len(idx.Manifests))
		}
	})
}

// FuzzBundlePredicateType: bundles are read before they are verified.
func FuzzBundlePredicateType(f *testing.F) {
	f.Add([]byte(`{"dsseEnvelope":{"payload":"eyJwcmVkaWNhdGVUeXBlIjoiaHR0cHM6Ly9zbHNhLmRldi9wcm92ZW5hbmNlL3YxIn0="}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		bundlePredicateType(data)
	})
}

func TestBundlePredicateType(t *testing.T) {
	got := bundlePredicateType([]byte(`{"dsseEnvelope":{"payload":"eyJwcmVkaWNhdGVUeXBlIjoiaHR0cHM6Ly9zbHNhLmRldi9wcm92ZW5hbmNlL3YxIn0="}}`))
	if got != "https://slsa.dev/provenance/v1" {
		t.Fatalf("got %q", got)
	}
}
