package oci_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

const (
	slsaV1 = "https://slsa.dev/provenance/v1"
	vsaV1  = "https://slsa.dev/verification_summary/v1"
)

// fakeBundle is shaped like a Sigstore bundle v0.3 with a DSSE envelope;
// this package moves bundles, it does not verify them.
func fakeBundle(t testing.TB, predicateType, marker string) []byte {
	t.Helper()
	st, _ := json.Marshal(map[string]any{"_type": "https://in-toto.io/Statement/v1", "predicateType": predicateType, "predicate": map[string]string{"marker": marker}})
	b, _ := json.Marshal(map[string]any{
		"mediaType":            oci.ArtifactTypeBundle,
		"verificationMaterial": map[string]any{"certificate": map[string]string{"rawBytes": base64.StdEncoding.EncodeToString([]byte("cert-" + marker))}},
		"dsseEnvelope": map[string]any{
			"payload": base64.StdEncoding.EncodeToString(st), "payloadType": "application/vnd.in-toto+json",
			"signatures": []map[string]string{{"sig": base64.StdEncoding.EncodeToString([]byte("sig-" + marker))}},
		},
	})
	return b
}

type registryCase struct {
	name   string
	start  func(testing.TB) *ocitest.Registry
	source oci.Source
}

var registries = []registryCase{
	{"distribution without referrers API", func(t testing.TB) *ocitest.Registry { return ocitest.Distribution(t) }, oci.SourceReferrersTag},
	{"distribution with htpasswd", func(t testing.TB) *ocitest.Registry {
		return ocitest.Distribution(t, ocitest.WithHtpasswd("builder", "s3cret-pass"))
	}, oci.SourceReferrersTag},
	{"referrers API", func(t testing.TB) *ocitest.Registry { return ocitest.Referrers(t) }, oci.SourceReferrersAPI},
}

func TestPushDiscover(t *testing.T) {
	ctx := context.Background()
	for _, rc := range registries {
		t.Run(rc.name, func(t *testing.T) {
			reg := rc.start(t)
			ocitest.DockerConfig(t, reg)
			img := reg.Image(t, "acme/app", "v1")
			slsa := fakeBundle(t, slsaV1, "slsa")
			p, err := oci.Push(ctx, img, oci.Attestation{Bundle: slsa, PredicateType: slsaV1})
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if p.Source != rc.source {
				t.Errorf("pushed to %s, want %s", p.Source, rc.source)
			}
			if _, err := oci.Push(ctx, img, oci.Attestation{Bundle: fakeBundle(t, vsaV1, "vsa"), PredicateType: vsaV1}); err != nil {
				t.Fatalf("Push VSA: %v", err)
			}

			d, err := oci.Discover(ctx, img, slsaV1)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if len(d.Attestations) != 1 || !bytes.Equal(d.Attestations[0].Bundle, slsa) || d.Attestations[0].Source != rc.source {
				t.Fatalf("found %+v", d.Attestations)
			}
			if d.Attestations[0].Manifest != p.Manifest {
				t.Errorf("manifest %s, pushed %s", d.Attestations[0].Manifest, p.Manifest)
			}

			t.Run("referrer manifest is what cosign writes", func(t *testing.T) {
				desc, err := remote.Get(p.Manifest, remote.WithAuthFromKeychain(authnDefault()))
				if err != nil {
					t.Fatal(err)
				}
				var m v1.Manifest
				if err := json.Unmarshal(desc.Manifest, &m); err != nil {
					t.Fatal(err)
				}
				if m.ArtifactType != oci.ArtifactTypeBundle || m.Config.MediaType != oci.MediaTypeEmpty ||
					len(m.Layers) != 1 || m.Layers[0].MediaType != oci.ArtifactTypeBundle ||
					m.Annotations[oci.AnnotationContent] != oci.ContentDSSE || m.Annotations[oci.AnnotationPredicateType] != slsaV1 ||
					m.Subject == nil || m.Subject.Digest.String() != img.DigestStr() {
					t.Errorf("manifest = %s", desc.Manifest)
				}
			})

			t.Run("other predicate", func(t *testing.T) {
				_, err := oci.Discover(ctx, img, "https://example.com/other/v1")
				var nf *oci.NotFoundError
				if !errors.Is(err, oci.ErrNoAttestation) || !errors.As(err, &nf) {
					t.Fatalf("err = %v", err)
				}
				var rep oci.SourceReport
				for _, s := range nf.Discovery.Sources {
					if s.Source == rc.source {
						rep = s
					}
				}
				if rep.Listed != 2 || rep.Bundles != 2 || rep.Matching != 0 {
					t.Errorf("report %+v; error %v", rep, err)
				}
				if !strings.Contains(err.Error(), "2 referrers") {
					t.Errorf("error does not say what was found: %v", err)
				}
			})

			t.Run("nothing attached", func(t *testing.T) {
				other := reg.Image(t, "acme/app", "v2")
				_, err := oci.Discover(ctx, other, slsaV1)
				if !errors.Is(err, oci.ErrNoAttestation) {
					t.Fatalf("err = %v", err)
				}
			})
		})
	}
}

func TestPushLegacy(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Distribution(t)
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")
	first := fakeBundle(t, slsaV1, "first")
	p, err := oci.PushLegacy(ctx, img, oci.Attestation{Bundle: first, PredicateType: slsaV1})
	if err != nil {
		t.Fatalf("PushLegacy: %v", err)
	}
	if p.Tag != strings.Replace(img.DigestStr(), ":", "-", 1)+".att" {
		t.Errorf("tag %q", p.Tag)
	}
	second := fakeBundle(t, slsaV1, "second")
	if _, err := oci.PushLegacy(ctx, img, oci.Attestation{Bundle: second, PredicateType: slsaV1}); err != nil {
		t.Fatalf("PushLegacy again: %v", err)
	}
	d, err := oci.Discover(ctx, img, slsaV1)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if len(d.Attestations) != 2 || d.Attestations[0].Source != oci.SourceLegacyTag ||
		!bytes.Equal(d.Attestations[0].Bundle, first) || !bytes.Equal(d.Attestations[1].Bundle, second) {
		t.Fatalf("found %+v", d.Attestations)
	}
	// cosign's legacy readers see a DSSE layer with the certificate.
	desc, err := remote.Get(img.Context().Tag(p.Tag))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	l := m.Layers[0]
	if l.MediaType != oci.MediaTypeDSSE || !strings.HasPrefix(l.Annotations["dev.sigstore.cosign/certificate"], "-----BEGIN CERTIFICATE-----") || l.Annotations["predicateType"] != slsaV1 {
		t.Errorf("legacy layer %+v", l)
	}
	// cosign refuses a layer without the signature annotation; an
	// attestation's is empty, its signature is in the envelope.
	if sig, ok := l.Annotations[oci.AnnotationCosignSignature]; !ok || sig != "" {
		t.Errorf("signature annotation %q (present %v), want present and empty", sig, ok)
	}
	// Without a timestamper, no timestamp: the bundle's covers the
	// signature, not the envelope cosign checks one against.
	if ts, ok := l.Annotations[oci.AnnotationCosignTimestamp]; ok {
		t.Errorf("timestamp annotation %q without a timestamper", ts)
	}
}

// TestPushLegacyTimestamp: the legacy layer's timestamp is asked for over
// the exact bytes of the envelope the layer holds, as cosign checks it.
func TestPushLegacyTimestamp(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Distribution(t)
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")
	var stamped []byte
	att := oci.Attestation{Bundle: fakeBundle(t, slsaV1, "stamped"), PredicateType: slsaV1,
		Timestamp: func(_ context.Context, data []byte) ([]byte, error) {
			stamped = append([]byte(nil), data...)
			return []byte("rfc3161-answer"), nil
		}}
	p, err := oci.PushLegacy(ctx, img, att)
	if err != nil {
		t.Fatalf("PushLegacy: %v", err)
	}
	desc, err := remote.Get(img.Context().Tag(p.Tag))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	l := m.Layers[0]
	layer, err := remote.Layer(img.Context().Digest(l.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	envelope, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stamped, envelope) {
		t.Fatalf("timestamped %q, the layer holds %q", stamped, envelope)
	}
	var ts struct{ SignedRFC3161Timestamp []byte }
	if err := json.Unmarshal([]byte(l.Annotations[oci.AnnotationCosignTimestamp]), &ts); err != nil || string(ts.SignedRFC3161Timestamp) != "rfc3161-answer" {
		t.Fatalf("timestamp annotation %q: %v", l.Annotations[oci.AnnotationCosignTimestamp], err)
	}

	t.Run("a failed timestamp pushes nothing", func(t *testing.T) {
		other := reg.Image(t, "acme/app", "v2")
		boom := errors.New("tsa down")
		att.Timestamp = func(context.Context, []byte) ([]byte, error) { return nil, boom }
		if _, err := oci.PushLegacy(ctx, other, att); !errors.Is(err, boom) {
			t.Fatalf("PushLegacy: %v, want %v", err, boom)
		}
		if _, err := oci.Discover(ctx, other, slsaV1); !errors.Is(err, oci.ErrNoAttestation) {
			t.Fatalf("Discover after a failed push: %v", err)
		}
	})
}

// TestDiscoverMislabelled: cosign 2.6 labels attestations it makes with
// --signing-config with the predicate type of its message signatures; the
// statement in the bundle says what it is, and Discover reads it. A
// bundle labelled a message signature is not read.
func TestDiscoverMislabelled(t *testing.T) {
	ctx := context.Background()
	for _, rc := range registries {
		t.Run(rc.name, func(t *testing.T) {
			reg := rc.start(t)
			ocitest.DockerConfig(t, reg)
			img := reg.Image(t, "acme/app", "v1")
			slsa := fakeBundle(t, slsaV1, "mislabelled")
			if _, err := oci.Push(ctx, img, oci.Attestation{Bundle: slsa, PredicateType: "https://sigstore.dev/cosign/sign/v1"}); err != nil {
				t.Fatal(err)
			}
			d, err := oci.Discover(ctx, img, slsaV1)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if len(d.Attestations) != 1 || !bytes.Equal(d.Attestations[0].Bundle, slsa) || d.Attestations[0].PredicateType != slsaV1 {
				t.Fatalf("found %+v", d.Attestations)
			}
		})
	}
}

func TestPlatforms(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Referrers(t)
	ocitest.DockerConfig(t, reg)
	idx, want := reg.Index(t, "acme/multi", "v1")
	got, err := oci.Platforms(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Digest != want[0] || got[1].Digest != want[1] || got[1].String() != "linux/arm64" {
		t.Fatalf("platforms %+v, want %v", got, want)
	}
	single := reg.Image(t, "acme/single", "v1")
	if got, err := oci.Platforms(ctx, single); err != nil || got != nil {
		t.Fatalf("single image: %v, %v", got, err)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Referrers(t)
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")
	d, _, err := oci.Resolve(ctx, reg.Repo("acme/app")+":v1")
	if err != nil || d != img {
		t.Fatalf("Resolve = %v, %v; want %v", d, err, img)
	}
	if _, _, err := oci.Resolve(ctx, reg.Repo("acme/app")+":nope"); !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("missing tag: %v", err)
	}
}

// TestFaults: each registry failure is a clear, classified error, and a
// failed push leaves nothing Discover could take for an attestation.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	att := oci.Attestation{Bundle: fakeBundle(t, slsaV1, "x"), PredicateType: slsaV1}
	noRetry := oci.WithRetries(0)

	t.Run("registry down", func(t *testing.T) {
		ocitest.DockerConfig(t, &ocitest.Registry{})
		img, _ := name.NewDigest(ocitest.DownAddr(t) + "/acme/app@sha256:" + strings.Repeat("a", 64))
		if _, err := oci.Push(ctx, img, att, noRetry); !errors.Is(err, oci.ErrUnreachable) {
			t.Errorf("Push: %v", err)
		}
		if _, err := oci.Discover(ctx, img, slsaV1, noRetry); !errors.Is(err, oci.ErrUnreachable) {
			t.Errorf("Discover: %v", err)
		}
	})

	t.Run("401 without credentials", func(t *testing.T) {
		reg := ocitest.Distribution(t, ocitest.WithHtpasswd("builder", "s3cret-pass"))
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		ocitest.DockerConfig(t, &ocitest.Registry{Host: reg.Host, User: "builder", Password: "wrong"})
		if _, err := oci.Push(ctx, img, att, noRetry); !errors.Is(err, oci.ErrUnauthorized) {
			t.Errorf("Push: %v", err)
		}
		if _, err := oci.Discover(ctx, img, slsaV1, noRetry); !errors.Is(err, oci.ErrUnauthorized) {
			t.Errorf("Discover: %v", err)
		}
	})

	t.Run("404 image", func(t *testing.T) {
		reg := ocitest.Distribution(t)
		ocitest.DockerConfig(t, reg)
		reg.Image(t, "acme/app", "v1")
		img, _ := name.NewDigest(reg.Repo("acme/app") + "@sha256:" + strings.Repeat("b", 64))
		if _, err := oci.Push(ctx, img, att, noRetry); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("Push: %v", err)
		}
	})

	t.Run("5xx on the manifest push", func(t *testing.T) {
		fail := false
		reg := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if fail && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					http.Error(w, "backend down", http.StatusServiceUnavailable)
					return
				}
				h.ServeHTTP(w, r)
			})
		}))
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		fail = true
		if _, err := oci.Push(ctx, img, att, noRetry); !errors.Is(err, oci.ErrRegistry) {
			t.Errorf("Push: %v", err)
		}
		_, err := oci.Discover(ctx, img, slsaV1, noRetry)
		if !errors.Is(err, oci.ErrNoAttestation) {
			t.Errorf("after a failed push, Discover: %v", err)
		}
	})

	t.Run("5xx on discovery", func(t *testing.T) {
		reg := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/referrers/") {
					http.Error(w, "internal", http.StatusInternalServerError)
					return
				}
				h.ServeHTTP(w, r)
			})
		}))
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		if _, err := oci.Discover(ctx, img, slsaV1, noRetry); !errors.Is(err, oci.ErrRegistry) {
			t.Errorf("Discover: %v", err)
		}
	})

	t.Run("referrer whose blob is missing", func(t *testing.T) {
		reg := ocitest.Distribution(t)
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		if _, err := oci.Push(ctx, img, att, noRetry); err != nil {
			t.Fatal(err)
		}
		h, _, _ := v1.SHA256(bytes.NewReader(att.Bundle))
		reg.RemoveBlob(t, h)
		_, err := oci.Discover(ctx, img, slsaV1, noRetry)
		var nf *oci.NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("Discover: %v", err)
		}
		var broken error
		for _, s := range nf.Discovery.Sources {
			if len(s.Broken) > 0 {
				broken = s.Broken[0]
			}
		}
		if !errors.Is(broken, oci.ErrNotFound) && !errors.Is(broken, oci.ErrRegistry) {
			t.Errorf("broken referrer: %v (error %v)", broken, err)
		}
		t.Log(err)
	})
}

// TestDiscoverBounds: a registry is untrusted input. A bundle over the
// limit is not fetched (its manifest declares its size), and one discovery
// keeps no more than its budget of matching bundles, each time saying what
// it left unread.
func TestDiscoverBounds(t *testing.T) {
	ctx := context.Background()
	const limit = 4 << 20
	for _, rc := range registries[1:] {
		t.Run(rc.name, func(t *testing.T) {
			reg := rc.start(t)
			ocitest.DockerConfig(t, reg)
			img := reg.Image(t, "acme/app", "v1")
			push := func(b []byte) {
				t.Helper()
				if _, err := oci.Push(ctx, img, oci.Attestation{Bundle: b, PredicateType: slsaV1}); err != nil {
					t.Fatalf("Push: %v", err)
				}
			}
			// A fake bundle carries its marker three times, in base64: it
			// weighs about four times the marker.
			push(fakeBundle(t, slsaV1, strings.Repeat("o", limit/3)))
			for i := range 5 {
				push(fakeBundle(t, slsaV1, fmt.Sprint(i)+strings.Repeat("b", limit*2/9)))
			}
			d, err := oci.Discover(ctx, img, slsaV1, oci.WithMaxBundleSize(limit))
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			var rep oci.SourceReport
			for _, s := range d.Sources {
				if s.Source == rc.source {
					rep = s
				}
			}
			kept := 0
			for _, a := range d.Attestations {
				if len(a.Bundle) > limit {
					t.Fatalf("kept a bundle of %d bytes over the %d-byte limit", len(a.Bundle), limit)
				}
				kept += len(a.Bundle)
			}
			// The budget, four times the limit, holds four of the five
			// bundles of nine tenths of the limit.
			if kept > 4*limit || len(d.Attestations) != 4 {
				t.Errorf("kept %d bundles, %d bytes", len(d.Attestations), kept)
			}
			var over, unread int
			for _, e := range rep.Broken {
				switch {
				case strings.Contains(e.Error(), "over the 4194304-byte limit of a bundle"):
					over++
				case strings.Contains(e.Error(), "fill what one discovery keeps"):
					unread++
				}
				if !errors.Is(e, oci.ErrInvalidArtifact) {
					t.Errorf("%v is not ErrInvalidArtifact", e)
				}
			}
			if over != 1 || unread != 1 {
				t.Errorf("report %+v", rep)
			}
		})
	}
}
