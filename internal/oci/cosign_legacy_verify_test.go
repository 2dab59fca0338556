package oci

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/verifier"
)

// attLayer is one layer of a cosign legacy .att image in a fixture: the
// DSSE envelope and its annotations.
type attLayer struct {
	envelope    []byte
	annotations map[string]string
}

// readLegacyLayer finds the signed DSSE layer of the .att image in an OCI
// layout of the real-world corpus.
func readLegacyLayer(t *testing.T, layout string) attLayer {
	t.Helper()
	blobs := filepath.Join(layout, "blobs", "sha256")
	entries, err := os.ReadDir(blobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(blobs, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Layers []struct {
				Digest      string            `json:"digest"`
				Annotations map[string]string `json:"annotations"`
			} `json:"layers"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		for _, l := range m.Layers {
			if !cosignSigned(l.Annotations) {
				continue
			}
			env, err := os.ReadFile(filepath.Join(blobs, strings.TrimPrefix(l.Digest, "sha256:")))
			if err != nil {
				t.Fatal(err)
			}
			return attLayer{envelope: env, annotations: l.Annotations}
		}
	}
	t.Fatalf("%s: no signed cosign attestation layer", layout)
	return attLayer{}
}

// slsa-github-generator v1.4.0's container provenance was logged by cosign
// as a Rekor intoto v0.0.1 entry, which the verifier checks itself. The
// real attestation passes; each way of making the entry stand for other
// evidence fails, at the check that sees it.
func TestVerifyCosignLegacyIntotoEntry(t *testing.T) {
	m, err := realworld.Load("../../testdata/realworld")
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := m.TrustedRoot("public-good")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	dir := m.Path("slsa-verifier/gha_generic_container/v1.4.0/container_workflow_dispatch")
	layer := readLegacyLayer(t, dir)
	other := readLegacyLayer(t, m.Path("slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch"))
	digestHex, err := os.ReadFile(dir + ".digest")
	if err != nil {
		t.Fatal(err)
	}
	digest := verifier.Digest{Algorithm: "sha256", Hex: strings.TrimPrefix(strings.TrimSpace(string(digestHex)), "sha256:")}

	policy, err := verifier.DefaultPolicyWith(verifier.Flags{
		Source:    "github.com/slsa-framework/example-package",
		BuilderID: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@v1.4.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(tr, policy)
	if err != nil {
		t.Fatal(err)
	}

	// mutate edits the bundle cosignBundle makes of the layer.
	type mutate func(t *testing.T, b *protobundle.Bundle)
	legacyBundle := func(t *testing.T, l attLayer, f mutate) []byte {
		t.Helper()
		data, err := cosignBundle(l.envelope, l.annotations)
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			return data
		}
		var pb protobundle.Bundle
		if err := protojson.Unmarshal(data, &pb); err != nil {
			t.Fatal(err)
		}
		f(t, &pb)
		out, err := protojson.Marshal(&pb)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	entry := func(b *protobundle.Bundle) *protorekor.TransparencyLogEntry {
		return b.VerificationMaterial.TlogEntries[0]
	}

	t.Run("accepted", func(t *testing.T) {
		b, err := verifier.ParseBundle(legacyBundle(t, layer, nil))
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(b, digest)
		if err != nil {
			t.Fatal(err)
		}
		if res.Level != 3 || len(res.Timestamps) != 1 || res.Timestamps[0].Kind != "Tlog" {
			t.Fatalf("level %d, timestamps %+v: want level 3 on one log entry", res.Level, res.Timestamps)
		}
		if !slices.Contains(res.Unverified, "invocation.configSource.entryPoint") {
			t.Fatalf("unverified %v: the certificate predates the build config extension, the entry point is unverified", res.Unverified)
		}
	})

	cases := []struct {
		name   string
		layer  attLayer
		mutate mutate
		clock  time.Time
		check  verifier.Check
		err    error
	}{{
		name:  "another statement under the logged certificate",
		layer: layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			env.Payload = bytes.Replace(env.Payload, []byte("example-package"), []byte("example-packagf"), 1)
		},
		check: verifier.CheckTlog, err: verifier.ErrLegacyEntry,
	}, {
		name:  "another statement, and a body logging it",
		layer: layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) {
			env := b.GetDsseEnvelope()
			old := sha256.Sum256(env.Payload)
			env.Payload = bytes.Replace(env.Payload, []byte("example-package"), []byte("example-packagf"), 1)
			sum := sha256.Sum256(env.Payload)
			e := entry(b)
			body := bytes.Replace(e.CanonicalizedBody, []byte(hex.EncodeToString(old[:])), []byte(hex.EncodeToString(sum[:])), 1)
			if bytes.Equal(body, e.CanonicalizedBody) {
				t.Fatal("the entry body does not log the payload hash")
			}
			e.CanonicalizedBody = body
		},
		check: verifier.CheckTlog,
	}, {
		name:  "another certificate than the logged one",
		layer: layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) {
			o, err := cosignBundle(other.envelope, other.annotations)
			if err != nil {
				t.Fatal(err)
			}
			var pb protobundle.Bundle
			if err := protojson.Unmarshal(o, &pb); err != nil {
				t.Fatal(err)
			}
			b.VerificationMaterial.Content = pb.VerificationMaterial.Content
		},
		check: verifier.CheckTlog, err: verifier.ErrLegacyEntry,
	}, {
		name:   "inclusion promise altered",
		layer:  layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) { entry(b).InclusionPromise.SignedEntryTimestamp[10] ^= 1 },
		check:  verifier.CheckTlog,
	}, {
		name:   "integrated time moved",
		layer:  layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) { entry(b).IntegratedTime -= 3600 },
		check:  verifier.CheckTlog,
	}, {
		name:   "log index changed",
		layer:  layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) { entry(b).LogIndex++ },
		check:  verifier.CheckTlog,
	}, {
		name:   "entry of a log the trusted root does not list",
		layer:  layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) { entry(b).LogId.KeyId[0] ^= 1 },
		check:  verifier.CheckTlog,
	}, {
		name:   "envelope signature altered",
		layer:  layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) { b.GetDsseEnvelope().Signatures[0].Sig[8] ^= 1 },
		check:  verifier.CheckSignature,
	}, {
		name:  "a signed timestamp beside the entry",
		layer: layer,
		mutate: func(t *testing.T, b *protobundle.Bundle) {
			b.VerificationMaterial.TimestampVerificationData = &protobundle.TimestampVerificationData{
				Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: []byte{0x30, 0}}},
			}
		},
		check: verifier.CheckTimestamp, err: verifier.ErrLegacyEntry,
	}, {
		name:  "verified before it was logged",
		layer: layer,
		clock: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC),
		check: verifier.CheckTimestamp, err: verifier.ErrFutureTimestamp,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := verifier.ParseBundle(legacyBundle(t, c.layer, c.mutate))
			if err != nil {
				// A mutation sigstore-go's parser refuses never reaches
				// verification; every case here is meant to.
				t.Fatalf("parse: %v", err)
			}
			vv := v
			if !c.clock.IsZero() {
				if vv, err = verifier.New(tr, policy, verifier.WithClock(func() time.Time { return c.clock })); err != nil {
					t.Fatal(err)
				}
			}
			_, err = vv.Verify(b, digest)
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != c.check {
				t.Fatalf("want a failure at %s, got %v", c.check, err)
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Fatalf("want %v, got %v", c.err, err)
			}
		})
	}
}
