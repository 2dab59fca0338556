package tekton_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/golden"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/internal/tekton"
)

func load[T any](t testing.TB, name string) *T {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	v := new(T)
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func goldenStatement(t *testing.T, name string, a *tekton.Attestation) {
	t.Helper()
	st, err := a.Statement()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	golden.JSON(t, name, raw)
}

func TestFromTaskRunKaniko(t *testing.T) {
	tr := load[pipelinev1.TaskRun](t, "taskrun-kaniko.yaml")
	a, err := tekton.FromTaskRun(tr, testOptions(t, "ci"))
	if err != nil {
		t.Fatal(err)
	}
	want := []subject.Subject{{Name: "registry.example.com/acme/app", Digest: map[string]string{"sha256": "4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a"}}}
	if !slices.EqualFunc(a.Subjects, want, equalSubject) {
		t.Errorf("subjects = %v, want %v", a.Subjects, want)
	}
	b, _ := a.Build(t.Context())
	if b.BuildType != tekton.BuildType || b.BuilderID != tekton.DefaultBuilderID {
		t.Errorf("buildType %s builder %s", b.BuildType, b.BuilderID)
	}
	goldenStatement(t, "provenance-taskrun-kaniko.golden.json", a)
}

func TestFromPipelineRunDeepInspection(t *testing.T) {
	pr := load[pipelinev1.PipelineRun](t, "pipelinerun-release.yaml")
	child := load[pipelinev1.TaskRun](t, "taskrun-release-build.yaml")
	o := testOptions(t, "ci")
	o.BuilderID, o.BuilderVersion = "https://hallmark.dev/factory/v1", map[string]string{"hallmark-factory": "v0.1.0"}
	a, err := tekton.FromPipelineRun(pr, []*pipelinev1.TaskRun{child}, o)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range a.Subjects {
		names = append(names, s.Name)
	}
	want := []string{"https://downloads.example.com/acme/cli-2.0.0-linux-amd64.tar.gz", "registry.example.com/acme/cli", "registry.example.com/acme/cli-debug"}
	if !slices.Equal(names, want) {
		t.Errorf("subjects = %q, want %q", names, want)
	}
	goldenStatement(t, "provenance-pipelinerun-release.golden.json", a)
}

func TestRunsNotAttested(t *testing.T) {
	done := load[pipelinev1.TaskRun](t, "taskrun-kaniko.yaml")
	running := done.DeepCopy()
	running.Status.Conditions[0].Status = "Unknown"
	failed := done.DeepCopy()
	failed.Status.Conditions[0].Status = "False"
	noHints := done.DeepCopy()
	noHints.Status.Results = nil
	badHints := done.DeepCopy()
	badHints.Status.Results[1].Value.StringVal = "sha256:NOTHEX"
	for _, tc := range []struct {
		name string
		tr   *pipelinev1.TaskRun
		want error
	}{
		{"running", running, tekton.ErrNotDone},
		{"failed", failed, tekton.ErrNotSucceeded},
		{"no-hints", noHints, tekton.ErrNothingToAttest},
		{"malformed-digest", badHints, tekton.ErrNothingToAttest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tekton.FromTaskRun(tc.tr, testOptions(t, "ci"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func str(name, v string) tekton.Result {
	return tekton.Result{Name: name, Value: *pipelinev1.NewStructuredValues(v)}
}

func obj(name string, m map[string]string) tekton.Result {
	return tekton.Result{Name: name, Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeObject, ObjectVal: m}}
}

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestParseHints(t *testing.T) {
	const commit1 = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		results  []tekton.Result
		params   []tekton.Result
		subjects []string
		images   []string
		inputs   []string // URIs of Inputs, then of Git
		warnings int
	}{
		{name: "image-url-and-digest", results: []tekton.Result{str("IMAGE_URL", "r.example/a:v1"), str("IMAGE_DIGEST", d1)}, subjects: []string{"r.example/a"}, images: []string{"r.example/a@" + d1}},
		{name: "digest-before-url", results: []tekton.Result{str("IMAGE_DIGEST", d1), str("IMAGE_URL", "r.example/a")}, subjects: []string{"r.example/a"}, images: []string{"r.example/a@" + d1}},
		{name: "prefixed-image", results: []tekton.Result{str("APP_IMAGE_URL", "r.example/app"), str("APP_IMAGE_DIGEST", d1), str("DEBUG_IMAGE_URL", "r.example/dbg"), str("DEBUG_IMAGE_DIGEST", d2)}, subjects: []string{"r.example/app", "r.example/dbg"}, images: []string{"r.example/app@" + d1, "r.example/dbg@" + d2}},
		{name: "image-url-already-pinned", results: []tekton.Result{str("IMAGE_URL", "r.example/a@"+d2), str("IMAGE_DIGEST", d1)}, subjects: []string{"r.example/a"}, images: []string{"r.example/a@" + d1}},
		{name: "image-url-without-digest", results: []tekton.Result{str("IMAGE_URL", "r.example/a")}, warnings: 1},
		{name: "image-digest-without-url", results: []tekton.Result{str("IMAGE_DIGEST", d1)}, warnings: 1},
		{name: "images-list", results: []tekton.Result{str("IMAGES", "r.example/a@"+d1+"\n r.example/b@"+d2+",,")}, subjects: []string{"r.example/a", "r.example/b"}, images: []string{"r.example/a@" + d1, "r.example/b@" + d2}},
		{name: "images-with-tag-only", results: []tekton.Result{str("IMAGES", "r.example/a:v1")}, warnings: 1},
		{name: "one-repository-two-images", results: []tekton.Result{str("IMAGE_URL", "r.example/a"), str("IMAGE_DIGEST", d1), str("IMAGES", "r.example/a@"+d2+",r.example/b@"+d1)},
			subjects: []string{"r.example/a", "r.example/b", "r.example/a"}, images: []string{"r.example/a@" + d2, "r.example/b@" + d1, "r.example/a@" + d1}},
		{name: "same-image-twice", results: []tekton.Result{str("IMAGE_URL", "r.example/a"), str("IMAGE_DIGEST", d1), str("IMAGES", "r.example/a@"+d1)}, subjects: []string{"r.example/a"}, images: []string{"r.example/a@" + d1}},
		{name: "artifact-uri-is-no-subject", results: []tekton.Result{str("ARTIFACT_URI", "pkg:npm/left-pad@1.3.0"), str("ARTIFACT_DIGEST", d1)}},
		{name: "artifact-outputs", results: []tekton.Result{obj("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "https://x/bin", "digest": d1, "isBuildArtifact": "true"})}, subjects: []string{"https://x/bin"}},
		{name: "artifact-outputs-sha384", results: []tekton.Result{obj("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "https://x/bin", "digest": "sha384:" + strings.Repeat("a", 96), "isBuildArtifact": "true"})}, subjects: []string{"https://x/bin"}},
		{name: "artifact-outputs-sha1", results: []tekton.Result{obj("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "https://x/bin", "digest": "sha1:" + commit1, "isBuildArtifact": "true"})}, subjects: []string{"https://x/bin"}},
		{name: "artifact-outputs-byproduct", results: []tekton.Result{obj("ARTIFACT_OUTPUTS", map[string]string{"uri": "https://x/log", "digest": d1})}},
		{name: "artifact-outputs-as-string", results: []tekton.Result{str("ARTIFACT_OUTPUTS", "https://x/bin")}, warnings: 1},
		{name: "uppercase-hex", results: []tekton.Result{obj("ARTIFACT_OUTPUTS", map[string]string{"uri": "a", "digest": "sha256:" + strings.Repeat("AB", 32), "isBuildArtifact": "true"})}, warnings: 1},
		{name: "unknown-algorithm", results: []tekton.Result{obj("ARTIFACT_OUTPUTS", map[string]string{"uri": "a", "digest": "md5:" + strings.Repeat("a", 32), "isBuildArtifact": "true"})}, warnings: 1},
		{name: "git-params", params: []tekton.Result{str("CHAINS-GIT_URL", "https://github.com/a/b"), str("CHAINS-GIT_COMMIT", commit1)}, inputs: []string{"git+https://github.com/a/b.git"}},
		{name: "git-result-overrides-param", params: []tekton.Result{str("CHAINS-GIT_URL", "https://github.com/a/b"), str("CHAINS-GIT_COMMIT", commit1)},
			results: []tekton.Result{str("CHAINS-GIT_URL", "https://github.com/a/c.git")}, inputs: []string{"git+https://github.com/a/c.git"}},
		{name: "git-bad-commit", params: []tekton.Result{str("CHAINS-GIT_URL", "https://github.com/a/b"), str("CHAINS-GIT_COMMIT", "main")}, warnings: 1},
		{name: "git-url-only", params: []tekton.Result{str("CHAINS-GIT_URL", "https://github.com/a/b")}, warnings: 1},
		{name: "artifact-inputs", results: []tekton.Result{obj("src_ARTIFACT_INPUTS", map[string]string{"uri": "git+https://github.com/a/b.git", "digest": "sha1:" + commit1})}, inputs: []string{"git+https://github.com/a/b.git"}},
		{name: "artifact-inputs-in-params-ignored", params: []tekton.Result{obj("src_ARTIFACT_INPUTS", map[string]string{"uri": "git+https://github.com/a/b.git", "digest": "sha1:" + commit1})}},
		{name: "artifact-inputs-relative-uri", results: []tekton.Result{obj("ARTIFACT_INPUTS", map[string]string{"uri": "b.git", "digest": d1})}, warnings: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tekton.ParseHints(tc.results, tc.params)
			var subjects, inputs []string
			for _, s := range h.Subjects {
				subjects = append(subjects, s.Name)
			}
			for _, m := range h.Inputs {
				inputs = append(inputs, m.GetUri())
			}
			if h.Git != nil {
				inputs = append(inputs, h.Git.GetUri())
			}
			if !slices.Equal(subjects, tc.subjects) {
				t.Errorf("subjects = %q, want %q", subjects, tc.subjects)
			}
			if !slices.Equal(h.Images, tc.images) {
				t.Errorf("images = %q, want %q", h.Images, tc.images)
			}
			if !slices.Equal(inputs, tc.inputs) {
				t.Errorf("inputs = %q, want %q", inputs, tc.inputs)
			}
			if len(h.Warnings) != tc.warnings {
				t.Errorf("warnings = %q, want %d", h.Warnings, tc.warnings)
			}
		})
	}
}

// FuzzParseHints feeds arbitrary result names and values: whatever a step
// writes, the hints parse without panicking, and every subject and input
// they give is one the provenance core accepts.
func FuzzParseHints(f *testing.F) {
	f.Add("IMAGE_URL", "r.example/a:v1", "IMAGE_DIGEST", d1, "uri", "https://x")
	f.Add("IMAGES", "r.example/a@"+d1+",b@"+d2, "x", "", "isBuildArtifact", "true")
	f.Add("X_ARTIFACT_OUTPUTS", "pkg:x", "X_ARTIFACT_INPUTS", "sha384:00", "digest", d1)
	f.Add("bin_ARTIFACT_OUTPUTS", "", "CHAINS-GIT_URL", "https://g/x", "digest", d2)
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, k, v string) {
		results := []tekton.Result{str(n1, v1), str(n2, v2), obj(n1, map[string]string{k: v, "uri": v1, "digest": v2, "isBuildArtifact": "true"})}
		h := tekton.ParseHints(results, results)
		if len(h.Subjects) == 0 || len(h.Subjects) > provenance.MaxSubjects {
			return
		}
		deps := h.Inputs
		if h.Git != nil {
			deps = append(deps, h.Git)
		}
		b := &provenance.Build{BuildType: tekton.BuildType, ExternalParameters: map[string]any{"x": 1}, BuilderID: tekton.DefaultBuilderID, ResolvedDependencies: deps}
		if _, err := provenance.Statement(h.Subjects, b); err != nil {
			t.Fatalf("hints %+v give an invalid statement: %v", h, err)
		}
	})
}

func equalSubject(a, b subject.Subject) bool {
	if a.Name != b.Name || len(a.Digest) != len(b.Digest) {
		return false
	}
	for k, v := range a.Digest {
		if b.Digest[k] != v {
			return false
		}
	}
	return true
}
