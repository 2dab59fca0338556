// Package factorytest hands factory-mode tests a real Kubernetes API: the
// kube-apiserver from the tool cache and Debian's etcd, started by
// controller-runtime's envtest with Tekton v1.3.0's CRDs installed, and
// helpers that play Tekton's controller by writing completed runs.
package factorytest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// TektonVersion is the release whose CRDs are installed.
const TektonVersion = "v1.3.0"

// API is a running apiserver.
type API struct {
	Config *rest.Config
	Client client.Client
	// Assets is the folder with kube-apiserver, etcd and kubectl.
	Assets string
}

// Assets returns a folder holding kube-apiserver, etcd and (when
// installed) kubectl, as envtest's KUBEBUILDER_ASSETS wants. Under -short
// the test is skipped; without it, a missing part fails the test with the
// command that installs it.
func Assets(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs kube-apiserver and etcd; runs without -short")
	}
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	if !sandbox.KubeAPIServer.Installed(cache) {
		tb.Fatalf("kube-apiserver %s is not in %s: run scripts/install-deps.sh", sandbox.KubeAPIServer.Version, cache)
	}
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		tb.Fatal("etcd is not on PATH: run scripts/install-deps.sh (Debian package etcd-server)")
	}
	dir := tb.TempDir()
	links := map[string]string{
		"kube-apiserver": sandbox.KubeAPIServer.Path(cache, "kube-apiserver"),
		"etcd":           etcd,
	}
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		links["kubectl"] = kubectl
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// TektonCRDs is the folder of Tekton's CRDs in the module cache.
func TektonCRDs(tb testing.TB) string {
	tb.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tektoncd/pipeline").Output()
	if err != nil {
		tb.Fatalf("locating github.com/tektoncd/pipeline: %v (run go mod download)", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "300-crds")
	if _, err := os.Stat(dir); err != nil {
		tb.Fatalf("Tekton CRDs: %v", err)
	}
	return dir
}

// Start starts an apiserver with Tekton's CRDs, stopped in tb.Cleanup.
func Start(tb testing.TB) *API {
	tb.Helper()
	assets := Assets(tb)
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{TektonCRDs(tb)},
		ErrorIfCRDPathMissing: true,
		Scheme:                factory.Scheme(),
	}
	cfg, err := env.Start()
	if err != nil {
		tb.Fatalf("starting envtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := env.Stop(); err != nil {
			tb.Logf("stopping envtest: %v", err)
		}
	})
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := client.New(cfg, client.Options{Scheme: factory.Scheme()})
	if err != nil {
		tb.Fatal(err)
	}
	return &API{Config: cfg, Client: c, Assets: assets}
}

// Namespace creates a namespace.
func (a *API) Namespace(tb testing.TB, name string) {
	tb.Helper()
	if err := a.Client.Create(tb.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		tb.Fatal(err)
	}
}

// StringResult is a string result.
func StringResult(name, value string) pipelinev1.TaskRunResult {
	return pipelinev1.TaskRunResult{Name: name, Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(value)}
}

// ObjectResult is an object result, such as *ARTIFACT_OUTPUTS.
func ObjectResult(name string, value map[string]string) pipelinev1.TaskRunResult {
	return pipelinev1.TaskRunResult{Name: name, Type: pipelinev1.ResultsTypeObject, Value: *pipelinev1.NewObject(value)}
}

// BuildArtifact is an *ARTIFACT_OUTPUTS result naming a build artifact,
// the subject hint of Chains' slsa/v2alpha4.
func BuildArtifact(name, uri, digest string) pipelinev1.TaskRunResult {
	return ObjectResult(name, map[string]string{"uri": uri, "digest": digest, "isBuildArtifact": "true"})
}

// TaskRun is a TaskRun as a user creates it, running a Task that declares
// Chains' type hints.
func TaskRun(ns, name string) *pipelinev1.TaskRun {
	return &pipelinev1.TaskRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: pipelinev1.TaskRunSpec{
			Params: pipelinev1.Params{
				{Name: "CHAINS-GIT_URL", Value: *pipelinev1.NewStructuredValues("https://github.com/acme/app")},
				{Name: "CHAINS-GIT_COMMIT", Value: *pipelinev1.NewStructuredValues("0123456789abcdef0123456789abcdef01234567")},
			},
			TaskRef: &pipelinev1.TaskRef{Name: "build"},
		},
	}
}

// Succeeded writes the status Tekton's controller writes when a TaskRun's
// pod finished: a Succeeded condition, times, step states and results.
// (No kubelet runs pods here; the test plays Tekton's controller.)
func Succeeded(tr *pipelinev1.TaskRun, results ...pipelinev1.TaskRunResult) {
	now := time.Now().UTC().Truncate(time.Second)
	tr.Status = pipelinev1.TaskRunStatus{
		Status: duckv1.Status{Conditions: duckv1.Conditions{{
			Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue, Reason: "Succeeded",
			Message: "All Steps have completed executing", LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(now)},
		}}},
		TaskRunStatusFields: pipelinev1.TaskRunStatusFields{
			PodName:        tr.Name + "-pod",
			StartTime:      &metav1.Time{Time: now.Add(-90 * time.Second)},
			CompletionTime: &metav1.Time{Time: now},
			Steps: []pipelinev1.StepState{{
				Name: "build", Container: "step-build",
				ImageID:        "docker-pullable://gcr.io/kaniko-project/executor@sha256:c3109d5926a997b100c4343944e06c6b30a6804b2f9abe0994d3de6ef92b028e",
				ContainerState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}},
			}},
			Results: results,
		},
	}
}

// Failed writes the status of a TaskRun whose step failed.
func Failed(tr *pipelinev1.TaskRun) {
	Succeeded(tr)
	tr.Status.Conditions[0].Status = corev1.ConditionFalse
	tr.Status.Conditions[0].Reason = "Failed"
}

// Create creates obj and then writes its status through the status
// subresource, as Tekton's controller does.
func (a *API) Create(tb testing.TB, obj client.Object) {
	tb.Helper()
	if err := a.CreateE(tb, obj); err != nil {
		tb.Fatal(err)
	}
}

// CreateE is Create returning the error, for use from many goroutines.
func (a *API) CreateE(tb testing.TB, obj client.Object) error {
	status := obj.DeepCopyObject().(client.Object)
	if err := a.Client.Create(tb.Context(), obj); err != nil {
		return err
	}
	raw, err := json.Marshal(status)
	if err != nil {
		return err
	}
	var withStatus map[string]any
	if err := json.Unmarshal(raw, &withStatus); err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"status": withStatus["status"]})
	if err != nil {
		return err
	}
	return a.Client.Status().Patch(tb.Context(), obj, client.RawPatch("application/merge-patch+json", patch))
}

// SetStatus writes obj's status through the status subresource, as
// Tekton's controller does when a run it created progresses.
func (a *API) SetStatus(tb testing.TB, obj client.Object) {
	tb.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		tb.Fatal(err)
	}
	var withStatus map[string]any
	if err := json.Unmarshal(raw, &withStatus); err != nil {
		tb.Fatal(err)
	}
	patch, err := json.Marshal(map[string]any{"status": withStatus["status"]})
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Client.Status().Patch(tb.Context(), obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		tb.Fatal(err)
	}
}

// FromBundle records, as Tekton's bundles resolver does, that the TaskRun's
// Task was read from the OCI bundle repo at digest (sha256 hex), entry
// name. Call it after Succeeded, which writes the whole status.
func FromBundle(tr *pipelinev1.TaskRun, repo, digest, name string) {
	tr.Spec.TaskRef = &pipelinev1.TaskRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles", Params: pipelinev1.Params{
		{Name: "bundle", Value: *pipelinev1.NewStructuredValues(repo + "@sha256:" + digest)},
		{Name: "name", Value: *pipelinev1.NewStructuredValues(name)},
		{Name: "kind", Value: *pipelinev1.NewStructuredValues("task")},
	}}}
	tr.Status.Provenance = &pipelinev1.Provenance{RefSource: &pipelinev1.RefSource{URI: repo, Digest: map[string]string{"sha256": digest}, EntryPoint: name}}
}

// FromGit records, as Tekton's git resolver does, that the TaskRun's Task
// was read from the git repository url at commit, file path.
func FromGit(tr *pipelinev1.TaskRun, url, commit, path string) {
	tr.Spec.TaskRef = &pipelinev1.TaskRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "git", Params: pipelinev1.Params{
		{Name: "url", Value: *pipelinev1.NewStructuredValues(url)},
		{Name: "revision", Value: *pipelinev1.NewStructuredValues(commit)},
		{Name: "pathInRepo", Value: *pipelinev1.NewStructuredValues(path)},
	}}}
	tr.Status.Provenance = &pipelinev1.Provenance{RefSource: &pipelinev1.RefSource{URI: "git+" + url, Digest: map[string]string{"sha1": commit}, EntryPoint: path}}
}

// PipelineRun is a PipelineRun that Tekton's controller has finished:
// succeeded, with children as its child TaskRuns (create them first) and
// its Pipeline read from the OCI bundle repo at digest (sha256 hex) when
// repo is not empty, else from the namespace by name.
func PipelineRun(ns, name, repo, digest string, children ...*pipelinev1.TaskRun) *pipelinev1.PipelineRun {
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: name}
	pr.Spec.TaskRunTemplate.ServiceAccountName = "builder"
	now := time.Now().UTC().Truncate(time.Second)
	pr.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue, Reason: "Succeeded",
		LastTransitionTime: apis.VolatileTime{Inner: metav1.NewTime(now)}})
	pr.Status.StartTime, pr.Status.CompletionTime = &metav1.Time{Time: now.Add(-5 * time.Minute)}, &metav1.Time{Time: now}
	if repo != "" {
		pr.Spec.PipelineRef = &pipelinev1.PipelineRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles", Params: pipelinev1.Params{
			{Name: "bundle", Value: *pipelinev1.NewStructuredValues(repo + "@sha256:" + digest)},
			{Name: "name", Value: *pipelinev1.NewStructuredValues(name)},
			{Name: "kind", Value: *pipelinev1.NewStructuredValues("pipeline")},
		}}}
		pr.Status.Provenance = &pipelinev1.Provenance{RefSource: &pipelinev1.RefSource{URI: repo, Digest: map[string]string{"sha256": digest}, EntryPoint: name}}
	}
	for _, c := range children {
		ref := pipelinev1.ChildStatusReference{Name: c.Name, PipelineTaskName: strings.TrimPrefix(c.Name, name+"-")}
		ref.Kind, ref.APIVersion = "TaskRun", "tekton.dev/v1"
		pr.Status.ChildReferences = append(pr.Status.ChildReferences, ref)
	}
	return pr
}
