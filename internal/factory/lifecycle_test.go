package factory_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// gatedSigner holds the signatures whose statement payload contains match
// until open is closed; the others go through at once.
type gatedSigner struct {
	inner   factory.Signer
	match   string
	open    chan struct{}
	waiting atomic.Int32
}

func (g *gatedSigner) Sign(ctx context.Context, id string, payload []byte) (*signer.Result, error) {
	if bytes.Contains(payload, []byte(g.match)) {
		g.waiting.Add(1)
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.inner.Sign(ctx, id, payload)
}

// failingSigner never signs.
type failingSigner struct{}

var errNoSigner = errors.New("the test's signer is down")

func (failingSigner) Sign(context.Context, string, []byte) (*signer.Result, error) {
	return nil, errNoSigner
}

// gate wraps the controller's signer in a gatedSigner.
func gate(g *gatedSigner) func(*factory.Config) {
	return func(c *factory.Config) {
		g.inner = c.Signer
		c.Signer = g
	}
}

func (w *world) get(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := w.api.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj)
	if client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return err == nil
}

// eventually polls cond every 100 ms for at most 60 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustDigest(t *testing.T, s string) verifier.Digest {
	t.Helper()
	d, err := verifier.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func held(obj client.Object) bool { return slices.Contains(obj.GetFinalizers(), factory.Finalizer) }

// TestFactoryLifecycle: with Config.Finalizer a run is held from the moment
// the controller sees it until it is attested, a run deleted first is
// attested before it goes, and nothing is held forever.
func TestFactoryLifecycle(t *testing.T) {
	w := setup(t)
	withFinalizer := func(c *factory.Config) { c.Finalizer = true }

	t.Run("held-from-creation-until-signed", func(t *testing.T) {
		w.api.Namespace(t, "lc-held")
		w.controller(t, "lc-held", w.agent, withFinalizer)
		tr := factorytest.TaskRun("lc-held", "build")
		if err := w.api.Client.Create(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the running TaskRun holds the finalizer", func() bool { return w.get(t, tr) && held(tr) })
		done := tr.DeepCopy()
		factorytest.Succeeded(done, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
		w.api.SetStatus(t, done)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		eventually(t, "the signed TaskRun is released", func() bool { return w.get(t, tr) && !held(tr) })
	})

	t.Run("deleted-before-signed-is-attested-first", func(t *testing.T) {
		w.api.Namespace(t, "lc-pruned")
		files := t.TempDir()
		g := &gatedSigner{match: `"runName":"pruned"`, open: make(chan struct{})}
		w.controller(t, "lc-pruned", w.agent, func(c *factory.Config) {
			withFinalizer(c)
			gate(g)(c)
			c.Stores = []factory.Store{factory.FileStore{Dir: files}}
		})
		tr := factorytest.TaskRun("lc-pruned", "pruned")
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
		w.api.Create(t, tr)
		eventually(t, "the run is being signed", func() bool { return g.waiting.Load() > 0 })
		if err := w.api.Client.Delete(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if !w.get(t, tr) || tr.DeletionTimestamp == nil || !held(tr) {
			t.Fatalf("the pruned run is gone before it was attested: %+v", tr.ObjectMeta)
		}
		close(g.open)
		eventually(t, "the attested run is deleted", func() bool { return !w.get(t, tr) })
		raw, err := os.ReadFile(filepath.Join(files, "lc-pruned", "TaskRun-pruned-"+string(tr.UID)+".sigstore.json"))
		if err != nil {
			t.Fatalf("no bundle for the pruned run: %v", err)
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		d := mustDigest(t, artifactDigest)
		if _, err := w.verifier(t, factoryID).Verify(b, d); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("deleted-and-never-signed-is-released-on-timeout", func(t *testing.T) {
		w.api.Namespace(t, "lc-timeout")
		w.controller(t, "lc-timeout", w.agent, func(c *factory.Config) {
			withFinalizer(c)
			c.Signer = failingSigner{}
			c.Backoff = time.Hour
			c.FinalizerTimeout = 2 * time.Second
		})
		tr := factorytest.TaskRun("lc-timeout", "stuck")
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
		w.api.Create(t, tr)
		eventually(t, "a first attempt failed", func() bool { return w.get(t, tr) && tr.Annotations[factory.AnnotationRetries] == "1" })
		if !held(tr) {
			t.Fatalf("finalizers %v", tr.Finalizers)
		}
		if err := w.api.Client.Delete(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the run is released and deleted", func() bool { return !w.get(t, tr) })
		w.waitEvent(t, "lc-timeout", "stuck", "SigningFailed")
	})

	t.Run("deleted-while-running-is-released", func(t *testing.T) {
		w.api.Namespace(t, "lc-running")
		w.controller(t, "lc-running", w.agent, withFinalizer)
		tr := factorytest.TaskRun("lc-running", "cancelled")
		if err := w.api.Client.Create(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the running TaskRun holds the finalizer", func() bool { return w.get(t, tr) && held(tr) })
		if err := w.api.Client.Delete(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the unfinished run is deleted", func() bool { return !w.get(t, tr) })
	})

	t.Run("taskrun-held-for-its-pipelinerun", func(t *testing.T) {
		w.api.Namespace(t, "lc-pipeline")
		g := &gatedSigner{match: `"runKind":"PipelineRun"`, open: make(chan struct{})}
		w.controller(t, "lc-pipeline", w.agent, func(c *factory.Config) { withFinalizer(c); gate(g)(c) })
		pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: "lc-pipeline", Name: "release"}}
		pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "release"}
		if err := w.api.Client.Create(t.Context(), pr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the PipelineRun holds the finalizer", func() bool { return w.get(t, pr) && held(pr) })
		child := factorytest.TaskRun("lc-pipeline", "release-build")
		child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: pr.Name, UID: pr.UID, Controller: ptr.To(true)}}
		child.Labels = map[string]string{"tekton.dev/pipelineTask": "build"}
		factorytest.Succeeded(child, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/cli@2", artifactDigest))
		w.api.Create(t, child)
		if ann := w.waitState(t, child); ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("child annotations %v", ann)
		}
		finished := factorytest.PipelineRun("lc-pipeline", "release", "", "", child)
		pr.Status = finished.Status
		w.api.SetStatus(t, pr)
		eventually(t, "the PipelineRun is being signed", func() bool { return g.waiting.Load() > 0 })
		if !w.get(t, child) || !held(child) {
			t.Fatalf("the TaskRun was released before its PipelineRun was attested: %+v", child.ObjectMeta)
		}
		close(g.open)
		if ann := w.waitState(t, pr); ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("PipelineRun annotations %v", ann)
		}
		eventually(t, "the PipelineRun and its TaskRun are released", func() bool {
			return w.get(t, pr) && !held(pr) && w.get(t, child) && !held(child)
		})
	})

	t.Run("finalizer-off-removes-it", func(t *testing.T) {
		w.api.Namespace(t, "lc-off")
		w.controller(t, "lc-off", w.agent, nil)
		tr := factorytest.TaskRun("lc-off", "left-over")
		tr.Finalizers = []string{factory.Finalizer, "example.com/other"}
		if err := w.api.Client.Create(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the controller removes its own finalizer", func() bool {
			return w.get(t, tr) && slices.Equal(tr.Finalizers, []string{"example.com/other"})
		})
	})

	t.Run("skip-chains-signed", func(t *testing.T) {
		w.api.Namespace(t, "lc-chains")
		w.controller(t, "lc-chains", w.agent, func(c *factory.Config) { c.SkipChainsSigned = true })
		byChains := factorytest.TaskRun("lc-chains", "by-chains")
		byChains.Annotations = map[string]string{factory.ChainsSigned: "true"}
		factorytest.Succeeded(byChains, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
		notYet := factorytest.TaskRun("lc-chains", "not-by-chains")
		notYet.Annotations = map[string]string{factory.ChainsSigned: "failed"}
		factorytest.Succeeded(notYet, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
		w.api.Create(t, byChains)
		w.api.Create(t, notYet)
		if ann := w.waitState(t, byChains); ann[factory.AnnotationState] != factory.StateSkipped || !strings.Contains(ann[factory.AnnotationReason], "Tekton Chains") {
			t.Errorf("run Chains signed: %v", ann)
		}
		if ann := w.waitState(t, notYet); ann[factory.AnnotationState] != factory.StateSigned {
			t.Errorf("run Chains failed to sign: %v", ann)
		}
	})

	t.Run("chains-compatible-att-tag", func(t *testing.T) {
		reg := ocitest.Distribution(t)
		w.api.Namespace(t, "lc-att")
		w.controller(t, "lc-att", w.agent, func(c *factory.Config) {
			c.Stores = []factory.Store{factory.OCIStore{Options: []oci.Option{oci.WithInsecureRegistry(true)}, Legacy: true}}
		})
		img := reg.Image(t, "acme/app", "v1")
		tr := factorytest.TaskRun("lc-att", "build")
		factorytest.Succeeded(tr, factorytest.StringResult("IMAGE_URL", img.Context().String()), factorytest.StringResult("IMAGE_DIGEST", img.DigestStr()))
		w.api.Create(t, tr)
		if ann := w.waitState(t, tr); ann[factory.AnnotationState] != factory.StateSigned || !strings.Contains(ann[factory.AnnotationStored], ".att") {
			t.Fatalf("annotations %v", ann)
		}
		// Where cosign (and Chains' OCI storage) put attestations: the
		// tag sha256-HEX.att, a layer per attestation.
		tag := img.Context().Tag(strings.Replace(img.DigestStr(), ":", "-", 1) + ".att")
		desc, err := remote.Get(tag)
		if err != nil {
			t.Fatalf("reading %s: %v", tag, err)
		}
		m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
		if err != nil || len(m.Layers) != 1 {
			t.Fatalf("%s: manifest %v, %v", tag, m, err)
		}
		if pt := m.Layers[0].Annotations["predicateType"]; pt != provenance.PredicateSLSAProvenanceV1 {
			t.Errorf("predicateType annotation %q", pt)
		}
		legacy := []byte(m.Layers[0].Annotations[oci.AnnotationLegacyBundle])
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON(legacy); err != nil {
			t.Fatal(err)
		}
		if _, err := w.verifier(t, factoryID).Verify(b, digestOf(t, img)); err != nil {
			t.Fatal(err)
		}
	})
}
