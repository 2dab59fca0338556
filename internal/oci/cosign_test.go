package oci

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// The legacy attestation slsa-github-generator v2.1.0's container workflow
// attached with cosign (slsa-verifier's published test image).
const realLayout = "../../testdata/realworld/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch/blobs/sha256/"

func realLegacyLayer(tb testing.TB) ([]byte, map[string]string) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(realLayout, "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe"))
	if err != nil {
		tb.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(realLayout, m.Layers[0].Digest.Hex))
	if err != nil {
		tb.Fatal(err)
	}
	return env, m.Layers[0].Annotations
}

func TestCosignBundle(t *testing.T) {
	env, ann := realLegacyLayer(t)
	data, err := cosignBundle(env, ann)
	if err != nil {
		t.Fatal(err)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatalf("not a Sigstore bundle: %v", err)
	}
	entries, err := b.TlogEntries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("tlog entries %v, %v", entries, err)
	}
	tle := b.GetVerificationMaterial().GetTlogEntries()[0]
	if kv := tle.GetKindVersion(); kv.GetKind() != "dsse" || kv.GetVersion() != "0.0.1" || len(tle.GetInclusionPromise().GetSignedEntryTimestamp()) == 0 || tle.GetIntegratedTime() == 0 {
		t.Errorf("entry %v: want a dsse 0.0.1 entry with its promise and time", tle)
	}
	if v, _ := b.Version(); v != "v0.1" {
		t.Errorf("bundle version %s, want v0.1", v)
	}
	if got := envelopePredicateType(env); got != "https://slsa.dev/provenance/v0.2" {
		t.Errorf("predicate type %q", got)
	}
}

func TestCosignBundleRefuses(t *testing.T) {
	env, ann := realLegacyLayer(t)
	with := func(k, v string) map[string]string {
		out := map[string]string{}
		for kk, vv := range ann {
			out[kk] = vv
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	var rb map[string]any
	json.Unmarshal([]byte(ann[AnnotationCosignBundle]), &rb)
	rekor := func(edit func(p map[string]any)) string {
		c := map[string]any{"SignedEntryTimestamp": rb["SignedEntryTimestamp"], "Payload": map[string]any{}}
		for k, v := range rb["Payload"].(map[string]any) {
			c["Payload"].(map[string]any)[k] = v
		}
		edit(c)
		b, _ := json.Marshal(c)
		return string(b)
	}
	tests := []struct {
		name     string
		envelope string
		ann      map[string]string
		unsigned bool
	}{
		{name: "no certificate", ann: with(AnnotationCosignCertificate, ""), unsigned: true},
		{name: "no Rekor entry", ann: with(AnnotationCosignBundle, ""), unsigned: true},
		{name: "timestamp only", ann: func() map[string]string {
			a := with(AnnotationCosignBundle, "")
			a[AnnotationCosignTimestamp] = `{"SignedRFC3161Timestamp":"AA=="}`
			return a
		}(), unsigned: true},
		{name: "certificate not PEM", ann: with(AnnotationCosignCertificate, "MIIB")},
		{name: "two certificates", ann: with(AnnotationCosignCertificate, ann[AnnotationCosignCertificate]+ann[AnnotationCosignChain])},
		{name: "Rekor entry not JSON", ann: with(AnnotationCosignBundle, "{")},
		{name: "no signed entry timestamp", ann: with(AnnotationCosignBundle, rekor(func(c map[string]any) { delete(c, "SignedEntryTimestamp") }))},
		{name: "log ID not hex", ann: with(AnnotationCosignBundle, rekor(func(c map[string]any) { c["Payload"].(map[string]any)["logID"] = "zz" }))},
		{name: "no integrated time", ann: with(AnnotationCosignBundle, rekor(func(c map[string]any) { delete(c["Payload"].(map[string]any), "integratedTime") }))},
		{name: "body without kind", ann: with(AnnotationCosignBundle, rekor(func(c map[string]any) { c["Payload"].(map[string]any)["body"] = "e30=" }))},
		{name: "envelope not JSON", ann: ann, envelope: "not json"},
		{name: "envelope without signatures", ann: ann, envelope: `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`},
		{name: "signature not base64", ann: ann, envelope: `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"%%"}]}`},
		{name: "payload not base64", ann: ann, envelope: `{"payloadType":"application/vnd.in-toto+json","payload":"%%","signatures":[{"sig":"AA=="}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.envelope != "" {
				e = []byte(tt.envelope)
			}
			_, err := cosignBundle(e, tt.ann)
			if !errors.Is(err, ErrInvalidArtifact) {
				t.Fatalf("error %v, want ErrInvalidArtifact", err)
			}
			if errors.Is(err, errUnsigned) != tt.unsigned {
				t.Errorf("error %v: unsigned = %v, want %v", err, errors.Is(err, errUnsigned), tt.unsigned)
			}
		})
	}
}

// FuzzCosignBundle: a legacy layer and its annotations are registry input.
func FuzzCosignBundle(f *testing.F) {
	env, ann := realLegacyLayer(f)
	f.Add(env, ann[AnnotationCosignCertificate], ann[AnnotationCosignBundle])
	f.Add([]byte(`{"payloadType":"x","payload":"e30=","signatures":[{"sig":"AA=="}]}`), "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", `{"SignedEntryTimestamp":"AA==","Payload":{"body":"eyJraW5kIjoiZHNzZSIsImFwaVZlcnNpb24iOiIwLjAuMSJ9","integratedTime":1,"logIndex":0,"logID":"00"}}`)
	f.Fuzz(func(t *testing.T, envelope []byte, cert, rekor string) {
		data, err := cosignBundle(envelope, map[string]string{AnnotationCosignCertificate: cert, AnnotationCosignBundle: rekor})
		if err != nil {
			if !errors.Is(err, ErrInvalidArtifact) {
				t.Fatalf("error %v is not ErrInvalidArtifact", err)
			}
			return
		}
		if !strings.Contains(string(data), mediaTypeBundleV01) {
			t.Fatalf("bundle without its media type: %s", data)
		}
		envelopePredicateType(envelope)
	})
}
