package factory_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/tekton"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
	"github.com/hallmark-dev/hallmark/verifier"
)

const (
	teamASource = "https://github.com/team-a/app"
	teamAClaim  = "github.com/team-a/app"
)

// tenancyPolicy is the platform's policy in the Tenant tests: team-a and
// team-b may each claim their own organisation's repositories; the test
// catalog is trusted and its git-clone fetches source. forbidden is team-b's
// forbiddenSource.
func tenancyPolicy(forbidden string) string {
	return `apiVersion: factory.hallmark.dev/v1alpha1
kind: TenancyPolicy
definitionSources:
  - name: catalog
    bundle: ` + catalogBundle + `
sourceFetchers:
  - definitionSource: catalog
    entryPoint: ` + gitCloneTask + `
tenants:
  - name: team-a
    namespaces: [team-a]
    sources: ["github.com/team-a/*"]
    maxLevel: 3
    unverifiedSourceLevel: 1
    untrustedDefinitionLevel: 2
  - name: team-b
    namespaces: [team-b]
    sources: ["github.com/team-b/*"]
    maxLevel: 3
    unverifiedSourceLevel: 1
    forbiddenSource: ` + forbidden + `
  - name: team-c
    namespaceSelector: {matchLabels: {hallmark.dev/tenant: team-c}}
    sources: ["github.com/team-c/*"]
    maxLevel: 2
`
}

// built is a build's output file and the ARTIFACT_OUTPUTS result naming it.
type built struct {
	path   string
	digest verifier.Digest
	result pipelinev1.TaskRunResult
}

func buildOutput(t *testing.T, content string) built {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.tar.gz")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	d, _ := verifier.ParseDigest("sha256:" + hex.EncodeToString(sum[:]))
	return built{path: p, digest: d, result: factorytest.ObjectResult("bin_ARTIFACT_OUTPUTS", map[string]string{
		"uri": "app.tar.gz", "digest": d.String(), "isBuildArtifact": "true"})}
}

// clonePipeline is a PipelineRun from the catalog whose git-clone fetched
// url, and whose build Task (from the catalog too, unless buildFrom says
// otherwise) built out. Its children are created first.
func (w *world) clonePipeline(t *testing.T, ns, name, url string, out built, buildFrom func(*pipelinev1.TaskRun)) *pipelinev1.PipelineRun {
	t.Helper()
	clone := factorytest.TaskRun(ns, name+"-clone")
	clone.Spec.Params = nil
	factorytest.Succeeded(clone, factorytest.StringResult("url", url), factorytest.StringResult("commit", sourceCommit))
	factorytest.FromBundle(clone, catalogBundle, catalogDigest, gitCloneTask)
	build := factorytest.TaskRun(ns, name+"-build")
	build.Spec.Params = nil
	factorytest.Succeeded(build, out.result)
	if buildFrom == nil {
		factorytest.FromBundle(build, catalogBundle, catalogDigest, "go-build")
	} else {
		buildFrom(build)
	}
	w.api.Create(t, clone)
	w.api.Create(t, build)
	return factorytest.PipelineRun(ns, name, catalogBundle, catalogDigest, clone, build)
}

// factoryRecord verifies the run's bundle as the factory's and returns the
// statement's factory record and resolved dependencies.
func (w *world) factoryRecord(t *testing.T, ann map[string]string, d verifier.Digest) (tekton.Factory, []statementDep) {
	t.Helper()
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
		t.Fatalf("bundle annotation: %v", err)
	}
	res, err := w.verifier(t, factoryID).Verify(b, d)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				InternalParameters   map[string]json.RawMessage `json:"internalParameters"`
				ResolvedDependencies []statementDep             `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(res.Payload, &st); err != nil {
		t.Fatal(err)
	}
	var f tekton.Factory
	if err := json.Unmarshal(st.Predicate.BuildDefinition.InternalParameters[tekton.FactoryKey], &f); err != nil {
		t.Fatalf("internalParameters[%s]: %v", tekton.FactoryKey, err)
	}
	return f, st.Predicate.BuildDefinition.ResolvedDependencies
}

type statementDep struct {
	Name        string            `json:"name"`
	URI         string            `json:"uri"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations"`
}

// verifyCLI runs hallmark verify-artifact on the file with the bundle, the
// SPIRE trust bundle and a policy trusting the factory's SPIFFE ID.
func (w *world) verifyCLI(t *testing.T, file, bundleJSON string, extra ...string) (string, int) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := append([]string{"verify-artifact", file,
		"--provenance-path", write("provenance.sigstore.json", bundleJSON),
		"--trusted-root", w.trustedPath,
		"--spiffe-trust-bundle", write("spire-bundle.pem", string(w.srv.BundlePEM(t))),
		"--policy", write("policy.yaml", "builders:\n  - name: hallmark-factory\n    signer: \""+factoryID+"\"\n    buildTypes: [\""+tekton.BuildType+"\"]\n    maxLevel: 3\nspiffe:\n  ids: [\""+factoryID+"\"]\n"),
	}, extra...)
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String() + errOut.String(), code
}

// TestTenantPolicy runs the factory over three namespaces under a tenancy
// policy and tries what a tenant would: (a) team-b claiming team-a's
// source, refused and then, once the policy says so, signed unverified;
// (b) team-a's honest run through the trusted git-clone; (c) team-a's run
// with a build Task from a source the policy does not trust; and a
// namespace in no tenant.
func TestTenantPolicy(t *testing.T) {
	w := setup(t)
	for _, ns := range []string{"team-a", "team-b", "stray"} {
		w.api.Namespace(t, ns)
	}
	if err := w.api.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments", Labels: map[string]string{"hallmark.dev/tenant": "team-c"}}}); err != nil {
		t.Fatal(err)
	}
	policyKey := w.policy(t, "hallmark-system", tenancyPolicy(tenancy.ForbiddenRefuse))
	w.controller(t, "team-a", w.agent, func(c *factory.Config) {
		c.Namespaces = []string{"team-a", "team-b", "payments", "stray"}
		c.TenancyPolicy = policyKey
	})

	t.Run("forgery-refused", func(t *testing.T) {
		out := buildOutput(t, "team-b's build\n")
		claim := factorytest.TaskRun("team-b", "forge")
		claim.Spec.Params = nil
		factorytest.Succeeded(claim, out.result,
			factorytest.StringResult("CHAINS-GIT_URL", teamASource), factorytest.StringResult("CHAINS-GIT_COMMIT", sourceCommit))
		factorytest.FromBundle(claim, catalogBundle, catalogDigest, "go-build")
		w.api.Create(t, claim)
		// The trusted git-clone really fetching team-a's repository in
		// team-b is no better: team-b may not build it as its source.
		fetch := w.clonePipeline(t, "team-b", "forge-by-fetch", teamASource, out, nil)
		w.api.Create(t, fetch)

		for _, run := range []client.Object{claim, fetch} {
			before := run.DeepCopyObject().(client.Object)
			ann := w.waitState(t, run)
			if ann[factory.AnnotationState] != factory.StateRefused {
				t.Fatalf("%s: annotations %v", run.GetName(), ann)
			}
			reason := ann[factory.AnnotationReason]
			for _, want := range []string{"namespace team-b", "may not claim source " + teamAClaim, "hallmark-system/hallmark-tenancy"} {
				if !strings.Contains(reason, want) {
					t.Errorf("%s: reason %q lacks %q", run.GetName(), reason, want)
				}
			}
			if _, ok := ann[factory.AnnotationBundle]; ok {
				t.Errorf("%s: a refused run carries a bundle or a signed mark: %v", run.GetName(), ann)
			}
			if !equality.Semantic.DeepEqual(specStatus(before), specStatus(run)) {
				t.Errorf("%s: the controller changed the run's spec or status", run.GetName())
			}
			w.waitEvent(t, "team-b", run.GetName(), "SigningRefused")
		}
	})

	t.Run("forgery-signed-unverified", func(t *testing.T) {
		doc := tenancyPolicy(tenancy.ForbiddenSignUnverified)
		w.policy(t, "hallmark-system", doc)
		sum := sha256.Sum256([]byte(doc))
		out := buildOutput(t, "team-b's second build\n")
		tr := factorytest.TaskRun("team-b", "forge-unverified")
		tr.Spec.Params = nil
		factorytest.Succeeded(tr, out.result,
			factorytest.StringResult("CHAINS-GIT_URL", teamASource), factorytest.StringResult("CHAINS-GIT_COMMIT", sourceCommit))
		factorytest.FromBundle(tr, catalogBundle, catalogDigest, "go-build")
		// The controller reads the policy when it signs; wait for the
		// update to reach its cache by retrying on a refusal under the old.
		ann := w.signedUnderPolicy(t, tr, hex.EncodeToString(sum[:]), out.digest)
		f, deps := w.factoryRecord(t, ann, out.digest)
		if f.Namespace != "team-b" || f.RunKind != "TaskRun" || f.RunName != tr.Name || f.RunUID != string(tr.UID) {
			t.Errorf("recorded run %+v", f)
		}
		if f.Source == nil || f.Source.Verified || f.Source.URI != "git+https://github.com/team-a/app.git" || !strings.Contains(f.Source.Reason, "namespace team-b (tenant team-b) may not claim source "+teamAClaim) {
			t.Fatalf("source %+v", f.Source)
		}
		if f.MaxLevel != 1 {
			t.Errorf("maxLevel %d, want team-b's unverifiedSourceLevel 1", f.MaxLevel)
		}
		for _, d := range deps {
			if d.Name == "inputs/result" && strings.HasPrefix(d.URI, "git+") {
				t.Errorf("an unverified claim is Chains' inputs/result: %+v", d)
			}
		}
		// The verifier must not let the claim pass as team-a's source, and
		// says which namespace claimed it.
		if msg, code := w.verifyCLI(t, out.path, ann[factory.AnnotationBundle], "--source-uri", teamAClaim); code != 1 || !strings.Contains(msg, "FAILED: source") || !strings.Contains(msg, "namespace team-b") || !strings.Contains(msg, "not verified by the factory") {
			t.Errorf("verify-artifact --source-uri %s: exit %d, want 1 with FAILED: source naming namespace team-b\n%s", teamAClaim, code, msg)
		}
	})

	t.Run("honest-run-verified", func(t *testing.T) {
		out := buildOutput(t, "team-a's build\n")
		pr := w.clonePipeline(t, "team-a", "release", teamASource, out, nil)
		w.api.Create(t, pr)
		ann := w.waitState(t, pr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		f, deps := w.factoryRecord(t, ann, out.digest)
		if f.Namespace != "team-a" || f.ServiceAccount != "builder" || f.RunKind != "PipelineRun" || f.RunUID != string(pr.UID) {
			t.Errorf("recorded run %+v", f)
		}
		if f.Source == nil || !f.Source.Verified || f.Source.URI != "git+https://github.com/team-a/app.git" || f.Source.Digest["sha1"] != sourceCommit ||
			!strings.Contains(f.Source.Reason, "TaskRun release-clone from trusted Task git-clone") {
			t.Fatalf("source %+v", f.Source)
		}
		if f.MaxLevel != 3 {
			t.Errorf("maxLevel %d, want team-a's 3", f.MaxLevel)
		}
		defs := 0
		for _, d := range deps {
			if d.Name != "pipeline" && d.Name != "pipelineTask" {
				continue
			}
			defs++
			if d.Annotations["hallmark.dev/trusted"] != true || d.URI != "oci://"+catalogBundle || d.Digest["sha256"] != catalogDigest {
				t.Errorf("definition %+v, want the trusted catalog at its digest", d)
			}
		}
		if defs != 3 { // the Pipeline, git-clone and go-build, all in one bundle
			t.Errorf("%d definitions recorded: %+v", defs, deps)
		}
		msg, code := w.verifyCLI(t, out.path, ann[factory.AnnotationBundle], "--source-uri", teamAClaim, "--format", "json")
		var res struct {
			Passed   bool
			Verdicts []struct {
				Level int `json:"slsaBuildLevel"`
			}
		}
		if err := json.Unmarshal([]byte(msg), &res); code != 0 || err != nil || !res.Passed || res.Verdicts[0].Level != 3 {
			t.Errorf("verify-artifact --source-uri %s: exit %d, %v\n%s", teamAClaim, code, err, msg)
		}
	})

	t.Run("untrusted-task-capped", func(t *testing.T) {
		out := buildOutput(t, "team-a's build with its own Task\n")
		const taskCommit = "fedcba9876543210fedcba9876543210fedcba98"
		pr := w.clonePipeline(t, "team-a", "release-own-task", teamASource, out, func(tr *pipelinev1.TaskRun) {
			factorytest.FromGit(tr, "https://github.com/team-a/tasks.git", taskCommit, "build.yaml")
		})
		w.api.Create(t, pr)
		ann := w.waitState(t, pr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		f, deps := w.factoryRecord(t, ann, out.digest)
		if f.MaxLevel != 2 {
			t.Errorf("maxLevel %d, want team-a's untrustedDefinitionLevel 2", f.MaxLevel)
		}
		if f.Source == nil || !f.Source.Verified {
			t.Errorf("source %+v: the clone was still trusted", f.Source)
		}
		found := false
		for _, d := range deps {
			if d.Name == "pipelineTask" && d.URI == "git+https://github.com/team-a/tasks.git" {
				found = true
				if d.Annotations["hallmark.dev/trusted"] != false || d.Digest["sha1"] != taskCommit {
					t.Errorf("untrusted Task %+v", d)
				}
			}
		}
		if !found {
			t.Errorf("the untrusted Task is not among the dependencies: %+v", deps)
		}
	})

	t.Run("tenant-by-namespace-label", func(t *testing.T) {
		out := buildOutput(t, "payments build\n")
		tr := factorytest.TaskRun("payments", "build")
		tr.Spec.Params = nil
		factorytest.Succeeded(tr, out.result)
		factorytest.FromBundle(tr, catalogBundle, catalogDigest, "go-build")
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		if f, _ := w.factoryRecord(t, ann, out.digest); f.Namespace != "payments" || f.MaxLevel != 2 || f.Source != nil {
			t.Errorf("factory record %+v, want namespace payments at team-c's level 2 with no source", f)
		}
	})

	t.Run("namespace-in-no-tenant", func(t *testing.T) {
		out := buildOutput(t, "stray build\n")
		tr := factorytest.TaskRun("stray", "build")
		factorytest.Succeeded(tr, out.result)
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateRefused || !strings.Contains(ann[factory.AnnotationReason], "namespace stray is in no tenant") {
			t.Fatalf("annotations %v", ann)
		}
		w.waitEvent(t, "stray", "build", "SigningRefused")
	})
}

// signedUnderPolicy creates tr and waits until it is signed under the
// policy of the given digest. A run the controller finished under an older
// policy (its cache had not caught up) is tried again under a new name.
func (w *world) signedUnderPolicy(t *testing.T, tr *pipelinev1.TaskRun, policyDigest string, d verifier.Digest) map[string]string {
	t.Helper()
	name := tr.Name
	for attempt := 0; attempt < 10; attempt++ {
		run := tr.DeepCopy()
		if attempt > 0 {
			run.Name = name + "-" + string(rune('a'+attempt))
		}
		w.api.Create(t, run)
		ann := w.waitState(t, run)
		if ann[factory.AnnotationState] == factory.StateSigned {
			if f, _ := w.factoryRecord(t, ann, d); f.TenancyPolicy.Digest["sha256"] == policyDigest {
				*tr = *run
				return ann
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no run was signed under policy %s", policyDigest)
	return nil
}

func specStatus(o client.Object) any {
	switch r := o.(type) {
	case *pipelinev1.TaskRun:
		return []any{r.Spec, r.Status}
	case *pipelinev1.PipelineRun:
		return []any{r.Spec, r.Status}
	}
	return nil
}

// TestTenantIdentity signs per tenant: team-a's runs with the SVID
// .../hallmark-factory/tenant/team-a, which a verifier can pin alone; a
// namespace whose SVID the agent lacks is not signed at all, never with
// another namespace's. Then a tenant's pod signs with its own SVID.
func TestTenantIdentity(t *testing.T) {
	w := setup(t)
	tenantA, err := factory.TenantSPIFFEID(factoryID, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	if tenantA != factoryID+"/tenant/team-a" {
		t.Fatalf("tenant ID %s", tenantA)
	}
	w.srv.RegisterSelf(t, tenantA, 0)
	w.agent.WaitForSVID(t, tenantA)
	for _, ns := range []string{"team-a", "team-b"} {
		w.api.Namespace(t, ns)
	}
	policyKey := w.policy(t, "hallmark-system", tenancyPolicy(tenancy.ForbiddenRefuse))
	w.controller(t, "team-a", w.agent, func(c *factory.Config) {
		c.Namespaces = []string{"team-a", "team-b"}
		c.TenancyPolicy = policyKey
		c.TenantIdentity = true
	})

	out := buildOutput(t, "team-a's build signed as team-a\n")
	pr := w.clonePipeline(t, "team-a", "release", teamASource, out, nil)
	w.api.Create(t, pr)
	ann := w.waitState(t, pr)
	if ann[factory.AnnotationState] != factory.StateSigned || ann[factory.AnnotationSigner] != tenantA {
		t.Fatalf("annotations %v", ann)
	}
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
		t.Fatal(err)
	}
	pinned := func(id string) *verifier.Verifier {
		v, err := verifier.NewSPIFFE(w.trusted, []*x509bundle.Bundle{w.spireBundle}, &verifier.Policy{
			SPIFFE:   &verifier.SPIFFEPolicy{IDs: []string{id}},
			Builders: []verifier.TrustedBuilder{{Name: "team-a's factory", Signer: id, BuildTypes: []string{tekton.BuildType}, MaxLevel: 3}},
			Source:   teamAClaim,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	res, err := pinned(tenantA).Verify(b, out.digest)
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.SAN != tenantA || res.BuilderID != tenantA {
		t.Errorf("SAN %s builder %s, want %s", res.Identity.SAN, res.BuilderID, tenantA)
	}
	for _, other := range []string{factoryID, factoryID + "/tenant/team-b"} {
		if _, err := pinned(other).Verify(b, out.digest); !errors.Is(err, verifier.ErrSPIFFEID) {
			t.Errorf("pinned to %s: err = %v, want %v", other, err, verifier.ErrSPIFFEID)
		}
	}

	// team-b has no SVID: its run fails to sign; the agent's team-a and
	// controller SVIDs are never used for it.
	tr := factorytest.TaskRun("team-b", "build")
	tr.Spec.Params = nil
	factorytest.Succeeded(tr, buildOutput(t, "team-b's build\n").result)
	w.api.Create(t, tr)
	ann = w.waitState(t, tr)
	if ann[factory.AnnotationState] != factory.StateFailed || !strings.Contains(ann[factory.AnnotationReason], "no X.509-SVID for "+factoryID+"/tenant/team-b") {
		t.Fatalf("annotations %v", ann)
	}
	if _, ok := ann[factory.AnnotationBundle]; ok {
		t.Errorf("team-b's run carries a bundle")
	}

	t.Run("tenant-pod-svid-refused", func(t *testing.T) { tenantPodSVIDRefused(t, w) })
}

// tenantPodSVIDRefused: a tenant's pod holds an SVID of its own from the same
// SPIRE (here spiffe://example.org/ns/team-b/sa/default, as a Kubernetes
// workload registration names it) and signs the best forgery it can write:
// factory-shaped provenance recording team-a's source as verified at level
// 3. Verification pinned to the factory's identity, or to its tenant
// identities, refuses it; the same forgery verifies when the pod's ID is
// trusted, so the refusal is about who signed.
func tenantPodSVIDRefused(t *testing.T, w *world) {
	const podID = "spiffe://example.org/ns/team-b/sa/default"
	pod := tenantPodSVID(t, w, podID)
	raw, d, file := forgeFactoryBundle(t, w, pod, factoryID)
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]string{{factoryID}, {factoryID + "/tenant/*"}, {"spiffe://example.org/ns/hallmark-system/*"}} {
		if _, err := w.verifier(t, ids...).Verify(b, d); !errors.Is(err, verifier.ErrSPIFFEID) {
			t.Errorf("spiffe ids %v: err = %v, want %v", ids, err, verifier.ErrSPIFFEID)
		}
	}
	if msg, code := w.verifyCLI(t, file, string(raw), "--spiffe-id", factoryID, "--source-uri", teamAClaim); code != 1 || !strings.Contains(msg, "FAILED: identity") {
		t.Errorf("verify-artifact --spiffe-id %s: exit %d, want 1 with FAILED: identity\n%s", factoryID, code, msg)
	}

	// The control: the same forgery, naming the pod as its builder,
	// verifies when the pod's ID is trusted.
	raw, d, _ = forgeFactoryBundle(t, w, pod, podID)
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	v, err := verifier.NewSPIFFE(w.trusted, []*x509bundle.Bundle{w.spireBundle}, &verifier.Policy{
		SPIFFE:   &verifier.SPIFFEPolicy{IDs: []string{podID}},
		Builders: []verifier.TrustedBuilder{{Signer: podID, MaxLevel: 3}},
		Source:   teamAClaim,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(b, d); err != nil {
		t.Errorf("the forgery does not verify even as the pod's: %v", err)
	}
}

// tenantPodSVID registers podID with the test's SPIRE server, as the
// workload registration of a tenant's pod would, and returns its
// X.509-SVID.
func tenantPodSVID(t *testing.T, w *world, podID string) *x509svid.SVID {
	t.Helper()
	w.srv.RegisterSelf(t, podID, 0)
	w.agent.WaitForSVID(t, podID)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(w.agent.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svids {
		if s.ID.String() == podID {
			return s
		}
	}
	t.Fatalf("no SVID for %s", podID)
	return nil
}

// forgeFactoryBundle signs with svid a factory-shaped statement in which
// namespace team-b claims team-a's source as verified at level 3, naming
// builderID as its builder. It returns the bundle, the subject's digest
// and a file with that digest, for verifier tests of a tenant's own SVID.
func forgeFactoryBundle(t *testing.T, w *world, svid *x509svid.SVID, builderID string) ([]byte, verifier.Digest, string) {
	t.Helper()
	key, cert := svid.PrivateKey, svid.Certificates[0]
	// The statement the factory would write if team-b could claim team-a.
	out := buildOutput(t, "team-b's forged build\n")
	pol, err := tenancy.Parse("hallmark-system/hallmark-tenancy", []byte(strings.Replace(tenancyPolicy(tenancy.ForbiddenRefuse), `["github.com/team-b/*"]`, `["github.com/team-a/*"]`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := pol.Tenant("team-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	clone := factorytest.TaskRun("team-b", "forge-clone")
	clone.Spec.Params = nil
	factorytest.Succeeded(clone, factorytest.StringResult("url", teamASource), factorytest.StringResult("commit", sourceCommit))
	factorytest.FromBundle(clone, catalogBundle, catalogDigest, gitCloneTask)
	build := factorytest.TaskRun("team-b", "forge-build")
	build.Spec.Params = nil
	factorytest.Succeeded(build, out.result)
	factorytest.FromBundle(build, catalogBundle, catalogDigest, "go-build")
	pr := factorytest.PipelineRun("team-b", "forge", catalogBundle, catalogDigest, clone, build)
	pr.UID = types.UID("00000000-0000-4000-8000-000000000001")
	att, err := tekton.FromPipelineRun(pr, []*pipelinev1.TaskRun{clone, build}, tekton.Options{BuilderID: builderID, Policy: pol, Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	if att.Factory.Source == nil || !att.Factory.Source.Verified || att.Factory.MaxLevel != 3 {
		t.Fatalf("the forgery is not the strongest claim: %+v", att.Factory)
	}
	st, err := att.Statement()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	res, err := signer.SignWithCertificate(t.Context(), payload, signer.PayloadTypeInToto, key, cert, signer.Options{
		SigningConfig: w.sc, TrustedRoot: verifier.SPIFFETrustedMaterial(w.trusted, w.spireBundle), Retries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := res.Bundle.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw, out.digest, out.path
}
