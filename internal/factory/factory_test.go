package factory_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/spire"
	"github.com/hallmark-dev/hallmark/verifier"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const factoryID = "spiffe://example.org/ns/hallmark-system/sa/hallmark-factory"

// world is what every factory test shares: the sandbox's Sigstore, a SPIRE
// server and agent that knows this process as the factory, and an
// apiserver with Tekton's CRDs.
type world struct {
	api         *factorytest.API
	srv         *spire.Server
	agent       *spire.Agent
	sc          *root.SigningConfig
	trusted     *root.TrustedRoot
	spireBundle *x509bundle.Bundle
	trustedPath string
}

func setup(t *testing.T) *world { return setupTB(t) }

func setupTB(t testing.TB) *world {
	t.Helper()
	sb := sandboxtest.Start(t)
	w := &world{api: factorytest.Start(t)}
	w.srv = spire.StartServer(t, spire.ServerOptions{})
	w.srv.RegisterSelf(t, factoryID, 0)
	w.agent = w.srv.StartAgent(t)
	w.agent.WaitForSVID(t, factoryID)
	var err error
	if w.sc, err = root.NewSigningConfigFromPath(sb.SigningConfigPath()); err != nil {
		t.Fatal(err)
	}
	if w.trusted, err = root.NewTrustedRootFromPath(sb.TrustedRootPath()); err != nil {
		t.Fatal(err)
	}
	w.trustedPath = sb.TrustedRootPath()
	w.spireBundle = spireBundle(t, w.srv.BundlePEM(t))
	return w
}

// spireBundle loads a SPIRE server's PEM trust bundle, one trust domain.
func spireBundle(t testing.TB, pem []byte) *x509bundle.Bundle {
	t.Helper()
	bs, err := verifier.LoadSPIFFEBundle("", pem)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 {
		t.Fatalf("%d trust domains in the SPIRE bundle, want 1", len(bs))
	}
	return bs[0]
}

// controller starts the factory on namespace ns with the agent's SVID.
func (w *world) controller(t *testing.T, ns string, agent *spire.Agent, mod func(*factory.Config)) {
	t.Helper()
	w.controllerWith(t, ns, agent, mod)
}

func (w *world) controllerWith(t testing.TB, ns string, agent *spire.Agent, mod func(*factory.Config)) {
	t.Helper()
	s, err := factory.NewSVIDSigner(t.Context(), agent.Addr(), signer.Options{
		SigningConfig: w.sc,
		TrustedRoot:   verifier.SPIFFETrustedMaterial(w.trusted, w.spireBundle),
		Retries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cfg := factory.Config{
		Signer:      s,
		SignerID:    factoryID,
		Namespaces:  []string{ns},
		Workers:     4,
		MaxRetries:  2,
		Backoff:     100 * time.Millisecond,
		MetricsAddr: "0",
		Log:         slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if mod != nil {
		mod(&cfg)
	}
	w.startManager(t, cfg)
}

// startManager runs the factory with cfg until the test ends. Without a
// tenancy policy of its own, cfg gets testPolicy for its namespaces.
func (w *world) startManager(t testing.TB, cfg factory.Config) {
	t.Helper()
	if cfg.TenancyPolicy.Name == "" {
		cfg.TenancyPolicy = w.policy(t, cfg.Namespaces[0], testPolicy(cfg.Namespaces...))
	}
	mgr, err := factory.NewManager(w.api.Config, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// The test catalog: an OCI repository of Tekton bundles the test policies
// trust, with a git-clone Task that fetches source.
const (
	catalogBundle = "registry.example.com/tekton/catalog"
	catalogDigest = "5e1f0a9c3b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f2a4c6e8b0d1f"
	gitCloneTask  = "git-clone"
	sourceCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// testPolicy is the tenancy policy most tests run under: namespaces form
// one tenant that may claim github.com/acme/*, trusting the test catalog.
func testPolicy(namespaces ...string) string {
	return `apiVersion: factory.hallmark.dev/v1alpha1
kind: TenancyPolicy
definitionSources:
  - name: catalog
    bundle: ` + catalogBundle + `
sourceFetchers:
  - definitionSource: catalog
    entryPoint: ` + gitCloneTask + `
  - definitionSource: catalog
    entryPoint: clone-and-build
tenants:
  - name: ci
    namespaces: ["` + strings.Join(namespaces, `", "`) + `"]
    sources: ["github.com/acme/*"]
    maxLevel: 3
    unverifiedSourceLevel: 2
    untrustedDefinitionLevel: 2
    forbiddenSource: sign-unverified
`
}

// policy writes doc as the tenancy policy ConfigMap ns/hallmark-tenancy,
// creating the namespace and the ConfigMap or updating it.
func (w *world) policy(t testing.TB, ns, doc string) types.NamespacedName {
	t.Helper()
	key := types.NamespacedName{Namespace: ns, Name: "hallmark-tenancy"}
	_ = w.api.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	cm := &corev1.ConfigMap{}
	err := w.api.Client.Get(t.Context(), key, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}, Data: map[string]string{factory.PolicyKey: doc}}
		err = w.api.Client.Create(t.Context(), cm)
	case err == nil:
		cm.Data = map[string]string{factory.PolicyKey: doc}
		err = w.api.Client.Update(t.Context(), cm)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitState waits until the controller has finished with obj.
func (w *world) waitState(t *testing.T, obj client.Object) map[string]string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := w.api.Client.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		if obj.GetAnnotations()[factory.AnnotationState] != "" {
			return obj.GetAnnotations()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s was not finished: annotations %v", obj.GetName(), obj.GetAnnotations())
	return nil
}

func (w *world) verifier(t *testing.T, ids ...string) *verifier.Verifier {
	t.Helper()
	v, err := verifier.NewSPIFFE(w.trusted, []*x509bundle.Bundle{w.spireBundle}, &verifier.Policy{
		SPIFFE:     &verifier.SPIFFEPolicy{IDs: ids},
		Builders:   []verifier.TrustedBuilder{{Name: "hallmark-factory", Signer: factoryID, BuildTypes: []string{"https://tekton.dev/chains/v2/slsa"}, MaxLevel: 3}},
		BuildTypes: []string{"https://tekton.dev/chains/v2/slsa"},
	}, verifier.WithoutSourceUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func digestOf(t *testing.T, d name.Digest) verifier.Digest {
	t.Helper()
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	dg, err := verifier.ParseDigest(alg + ":" + hex)
	if err != nil {
		t.Fatal(err)
	}
	return dg
}

const artifactDigest = "sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"

func TestFactory(t *testing.T) {
	w := setup(t)
	reg := ocitest.Referrers(t)
	files := t.TempDir()
	w.api.Namespace(t, "ci")
	w.controller(t, "ci", w.agent, func(c *factory.Config) {
		c.Stores = []factory.Store{factory.FileStore{Dir: files}, factory.OCIStore{Options: []oci.Option{oci.WithInsecureRegistry(true)}}}
	})

	t.Run("taskrun-image-and-artifact", func(t *testing.T) {
		img := reg.Image(t, "acme/app", "v1")
		tr := factorytest.TaskRun("ci", "build-app")
		factorytest.Succeeded(tr,
			factorytest.StringResult("IMAGE_URL", img.Context().String()+":v1"),
			factorytest.StringResult("IMAGE_DIGEST", img.DigestStr()),
			factorytest.ObjectResult("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "https://downloads.example.com/app.tar.gz", "digest": artifactDigest, "isBuildArtifact": "true"}),
		)
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		for k := range ann {
			if strings.HasPrefix(k, "chains.tekton.dev/") {
				t.Errorf("annotation %s: Tekton Chains' annotations are Chains' own", k)
			}
		}
		if len(tr.GetFinalizers()) != 0 {
			t.Errorf("finalizers %v without Config.Finalizer", tr.GetFinalizers())
		}
		if ann[factory.AnnotationSigner] != factoryID || !strings.Contains(ann[factory.AnnotationTransparency], "logIndex=") {
			t.Errorf("signer %q transparency %q", ann[factory.AnnotationSigner], ann[factory.AnnotationTransparency])
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
			t.Fatal(err)
		}
		v := w.verifier(t, factoryID)
		res, err := v.Verify(b, digestOf(t, img))
		if err != nil {
			t.Fatal(err)
		}
		// The run's Task comes from no trusted source: the controller
		// vouches for level 2, and the verifier grants no more.
		if res.Identity.SAN != factoryID || res.Level != 2 || res.BuildType != "https://tekton.dev/chains/v2/slsa" {
			t.Errorf("result: SAN %s level %d buildType %s", res.Identity.SAN, res.Level, res.BuildType)
		}
		artifact, _ := verifier.ParseDigest(artifactDigest)
		if _, err := v.Verify(b, artifact); err != nil {
			t.Errorf("artifact subject: %v", err)
		}

		// The same bundle is in a file and attached to the image.
		file := filepath.Join(files, "ci", "TaskRun-build-app-"+string(tr.UID)+".sigstore.json")
		if raw, err := os.ReadFile(file); err != nil || string(raw) != ann[factory.AnnotationBundle] {
			t.Errorf("file store %s: %v", file, err)
		}
		found, err := oci.Discover(t.Context(), img, provenance.PredicateSLSAProvenanceV1, oci.WithInsecureRegistry(true))
		if err != nil {
			t.Fatal(err)
		}
		ob := &bundle.Bundle{}
		if err := ob.UnmarshalJSON(found.Attestations[0].Bundle); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ob, digestOf(t, img)); err != nil {
			t.Errorf("referrer bundle: %v", err)
		}

		// Negatives: another expected SPIFFE ID, another trust domain.
		_, err = w.verifier(t, "spiffe://example.org/ns/ci/sa/default").Verify(b, digestOf(t, img))
		if !errors.Is(err, verifier.ErrSPIFFEID) {
			t.Errorf("wrong SPIFFE ID: err = %v", err)
		}
		otherSrv := spire.StartServer(t, spire.ServerOptions{TrustDomain: "other.example"})
		other, err := verifier.LoadSPIFFEBundle("", otherSrv.BundlePEM(t))
		if err != nil {
			t.Fatal(err)
		}
		ov, err := verifier.NewSPIFFE(w.trusted, other, &verifier.Policy{SPIFFE: &verifier.SPIFFEPolicy{IDs: []string{factoryID}}, Builders: []verifier.TrustedBuilder{{Signer: factoryID, MaxLevel: 3}}}, verifier.WithoutSourceUnsafe())
		if err != nil {
			t.Fatal(err)
		}
		var ce *verifier.CheckError
		if _, err := ov.Verify(b, digestOf(t, img)); !errors.As(err, &ce) || ce.Check != verifier.CheckSignature {
			t.Errorf("other trust domain: err = %v", err)
		}
	})

	t.Run("hallmark-verify-artifact", func(t *testing.T) { verifyWithCLI(t, w) })
	t.Run("leader-election-and-metrics", func(t *testing.T) { leaderAndMetrics(t, w) })
	t.Run("bundle-too-large-for-annotation", func(t *testing.T) { bundleTooLarge(t, w) })

	t.Run("pipelinerun-deep-inspection", func(t *testing.T) {
		cliImage := reg.Image(t, "acme/cli", "v2")
		child := factorytest.TaskRun("ci", "release-build")
		factorytest.Succeeded(child, factorytest.StringResult("IMAGES", cliImage.String()))
		w.api.Create(t, child)
		pr := &pipelinev1.PipelineRun{}
		pr.Namespace, pr.Name = "ci", "release"
		pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: "release"}
		pr.Status.SetCondition(&child.Status.Conditions[0])
		pr.Status.StartTime, pr.Status.CompletionTime = child.Status.StartTime, child.Status.CompletionTime
		pr.Status.ChildReferences = []pipelinev1.ChildStatusReference{{Name: "release-build", PipelineTaskName: "build"}}
		pr.Status.ChildReferences[0].Kind = "TaskRun"
		pr.Status.ChildReferences[0].APIVersion = "tekton.dev/v1"
		pr.Status.Results = []pipelinev1.PipelineRunResult{{Name: "cli_ARTIFACT_OUTPUTS", Value: *pipelinev1.NewObject(map[string]string{"uri": "pkg:generic/cli@2.0.0", "digest": artifactDigest, "isBuildArtifact": "true"})}}
		w.api.Create(t, pr)
		ann := w.waitState(t, pr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
			t.Fatal(err)
		}
		res, err := w.verifier(t, "spiffe://example.org/ns/hallmark-system/*").Verify(b, digestOf(t, cliImage))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Statement.Subject) != 2 {
			t.Errorf("subjects %v, want the pipeline's artifact and the task's image", res.Statement.Subject)
		}
	})

	t.Run("nothing-to-attest", func(t *testing.T) {
		noHints := factorytest.TaskRun("ci", "lint")
		factorytest.Succeeded(noHints, factorytest.StringResult("REPORT", "ok"))
		failed := factorytest.TaskRun("ci", "broken")
		factorytest.Failed(failed)
		for _, tr := range []*pipelinev1.TaskRun{noHints, failed} {
			w.api.Create(t, tr)
			ann := w.waitState(t, tr)
			if ann[factory.AnnotationState] != factory.StateSkipped || ann[factory.AnnotationRetries] != "" {
				t.Errorf("%s: annotations %v", tr.Name, ann)
			}
		}
	})

	t.Run("deleted-while-pending", func(t *testing.T) {
		tr := factorytest.TaskRun("ci", "gone")
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "x", artifactDigest))
		w.api.Create(t, tr)
		if err := w.api.Client.Delete(t.Context(), tr); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if err := w.api.Client.Get(t.Context(), client.ObjectKeyFromObject(tr), tr); err != nil {
				return // gone at once: nothing held it
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("deleted TaskRun still exists")
	})
}

func TestFactoryFailures(t *testing.T) {
	w := setup(t)

	t.Run("spire-agent-down", func(t *testing.T) {
		w.api.Namespace(t, "agent-down")
		agent := w.srv.StartAgent(t)
		agent.WaitForSVID(t, factoryID)
		w.controller(t, "agent-down", agent, nil)
		agent.Stop()
		tr := factorytest.TaskRun("agent-down", "build")
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/x@1", artifactDigest))
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateFailed || ann[factory.AnnotationRetries] != "3" || !strings.Contains(ann[factory.AnnotationReason], "SPIRE agent") {
			t.Fatalf("annotations %v", ann)
		}
		if _, ok := ann[factory.AnnotationNextAttempt]; ok {
			t.Errorf("a failed run still has a next attempt: %v", ann)
		}
		w.waitEvent(t, "agent-down", "build", "SigningFailed")
	})

	t.Run("registry-down", func(t *testing.T) {
		w.api.Namespace(t, "registry-down")
		w.controller(t, "registry-down", w.agent, func(c *factory.Config) {
			c.Stores = []factory.Store{factory.OCIStore{Options: []oci.Option{oci.WithInsecureRegistry(true), oci.WithRetries(0)}}}
		})
		tr := factorytest.TaskRun("registry-down", "build")
		factorytest.Succeeded(tr,
			factorytest.StringResult("IMAGE_URL", ocitest.DownAddr(t)+"/acme/app"),
			factorytest.StringResult("IMAGE_DIGEST", artifactDigest))
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateFailed || !strings.Contains(ann[factory.AnnotationReason], "attaching to") {
			t.Fatalf("annotations %v", ann)
		}
		w.waitEvent(t, "registry-down", "build", "SigningFailed")
	})
}

func (w *world) waitEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var evs eventsv1.EventList
		if err := w.api.Client.List(t.Context(), &evs, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == name && e.Reason == reason && e.Note != "" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %s event for %s/%s", reason, ns, name)
}
