package factory_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
)

// chainsConfig is Chains' chains-config: slsa/v2alpha4 for TaskRuns and
// PipelineRuns, stored on the run, no OCI storage and no log.
var chainsConfig = map[string]string{
	"artifacts.taskrun.format":                     "slsa/v2alpha4",
	"artifacts.taskrun.storage":                    "tekton",
	"artifacts.pipelinerun.format":                 "slsa/v2alpha4",
	"artifacts.pipelinerun.storage":                "tekton",
	"artifacts.pipelinerun.enable-deep-inspection": "true",
	"artifacts.oci.storage":                        "",
	"transparency.enabled":                         "false",
}

// TestCoexistenceWithChains runs Tekton Chains v0.26.3's own controller and
// the factory on one apiserver: whichever reaches a run first, the other
// still handles it, each under its own annotations and finalizer, and a
// run both hold is deleted once both are done with it.
//
// Chains signs with keys from the fixed folder /etc/signing-secrets, which
// a test cannot provide; without them it signs nothing but marks every run
// it handled chains.tekton.dev/signed: "true", the mark another controller
// would misread. That mark, not Chains' signature, is what coexistence is
// about.
func TestCoexistenceWithChains(t *testing.T) {
	w := setup(t)
	const first, second = "coexist", "coexist-chains-first"
	w.api.Namespace(t, first)
	w.api.Namespace(t, second)
	withFinalizer := func(c *factory.Config) { c.Finalizer = true }

	// 1. The factory alone signs a run.
	w.controller(t, first, w.agent, withFinalizer)
	early := factorytest.TaskRun(first, "early")
	factorytest.Succeeded(early, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1", artifactDigest))
	w.api.Create(t, early)
	if ann := w.waitState(t, early); ann[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("annotations %v", ann)
	}

	// 2. Chains starts and handles it anyway; meanwhile it alone handles
	// a run in a namespace the factory does not watch yet.
	w.api.StartChains(t, chainsConfig, first, second)
	chainsFirst := factorytest.TaskRun(second, "chains-first")
	factorytest.Succeeded(chainsFirst, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@2", artifactDigest))
	w.api.Create(t, chainsFirst)
	for _, tr := range []*pipelinev1.TaskRun{early, chainsFirst} {
		eventually(t, tr.Name+" is marked by Chains", func() bool {
			return w.get(t, tr) && tr.Annotations[factory.ChainsSigned] == "true"
		})
	}
	if ann := chainsFirst.Annotations; ann[factory.AnnotationState] != "" {
		t.Fatalf("the factory marked a run in a namespace it does not watch: %v", ann)
	}

	// 3. The factory starts there and signs the run Chains already did.
	w.controller(t, second, w.agent, withFinalizer)
	if ann := w.waitState(t, chainsFirst); ann[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("the factory did not sign a run Chains had signed: %v", ann)
	}

	// 4. With both running, both handle a TaskRun and a PipelineRun.
	both := factorytest.TaskRun(first, "both")
	factorytest.Succeeded(both, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@3", artifactDigest))
	w.api.Create(t, both)
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: first, Name: "release"}}
	pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "release"}
	if err := w.api.Client.Create(t.Context(), pr); err != nil {
		t.Fatal(err)
	}
	child := factorytest.TaskRun(first, "release-build")
	child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: pr.Name, UID: pr.UID, Controller: ptr.To(true)}}
	child.Labels = map[string]string{"tekton.dev/pipelineTask": "build"}
	factorytest.Succeeded(child, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/cli@2", artifactDigest))
	w.api.Create(t, child)
	finished := factorytest.PipelineRun(first, "release", "", "", child)
	pr.Status = finished.Status
	w.api.SetStatus(t, pr)

	v := w.verifier(t, factoryID)
	for _, obj := range []client.Object{early, chainsFirst, both, child, pr} {
		eventually(t, obj.GetName()+" is marked by both", func() bool {
			return w.get(t, obj) && obj.GetAnnotations()[factory.ChainsSigned] == "true" && obj.GetAnnotations()[factory.AnnotationState] == factory.StateSigned
		})
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON(signedBundle(t, obj.GetAnnotations())); err != nil {
			t.Fatalf("%s: %v", obj.GetName(), err)
		}
		if _, err := v.Verify(b, mustDigest(t, artifactDigest)); err != nil {
			t.Errorf("%s: %v", obj.GetName(), err)
		}
	}

	// 5. The factory releases its finalizer once it signed (in the patch
	// that marks the run, or, when Chains' own finalizer patch came
	// between, in the next reconcile); Chains holds its own until the run
	// is deleted. Deleting a run waits for neither.
	for _, obj := range []client.Object{both, pr} {
		eventually(t, obj.GetName()+" is released by the factory", func() bool { return w.get(t, obj) && !held(obj) })
		if !slices.ContainsFunc(obj.GetFinalizers(), func(f string) bool { return strings.HasPrefix(f, "chains.tekton.dev/") }) {
			t.Errorf("%s: no finalizer of Chains' (finalizers %v)", obj.GetName(), obj.GetFinalizers())
		}
		if err := w.api.Client.Delete(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	for _, obj := range []client.Object{both, pr} {
		eventually(t, obj.GetName()+" is deleted", func() bool { return !w.get(t, obj) })
	}
}
