package tekton_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/tekton"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

const testPolicy = `apiVersion: factory.hallmark.dev/v1alpha1
kind: TenancyPolicy
definitionSources:
  - name: catalog
    git: https://github.com/tektoncd/catalog
  - name: bundles
    bundle: registry.example.com/tekton/catalog
sourceFetchers:
  - definitionSource: bundles
    entryPoint: git-clone
tenants:
  - name: acme
    namespaces: [ci]
    sources: ["github.com/acme/*"]
    maxLevel: 3
    unverifiedSourceLevel: 1
    untrustedDefinitionLevel: 2
  - name: team-b
    namespaces: [team-b]
    sources: ["github.com/team-b/*"]
    maxLevel: 3
    forbiddenSource: sign-unverified
`

const (
	bundleRepo   = "registry.example.com/tekton/catalog"
	bundleDigest = "5e1f0a9c3b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f2a4c6e8b0d1f"
	commit       = "0123456789abcdef0123456789abcdef01234567"
	commit2      = "89abcdef0123456789abcdef0123456789abcdef"
)

// testOptions runs under testPolicy as the tenant of namespace ns.
func testOptions(t testing.TB, ns string) tekton.Options {
	t.Helper()
	p, err := tenancy.Parse("hallmark-system/hallmark-tenancy", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	tn, err := p.Tenant(ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tekton.Options{Policy: p, Tenant: tn}
}

func taskRun(ns, name string, results ...tekton.Result) *pipelinev1.TaskRun {
	tr := &pipelinev1.TaskRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	tr.Spec.TaskRef = &pipelinev1.TaskRef{Name: "build"}
	tr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue}}}
	for _, r := range results {
		tr.Status.Results = append(tr.Status.Results, pipelinev1.TaskRunResult{Name: r.Name, Type: pipelinev1.ResultsType(r.Value.Type), Value: r.Value})
	}
	return tr
}

func fromBundle(tr *pipelinev1.TaskRun, entry string) *pipelinev1.TaskRun {
	tr.Spec.TaskRef = &pipelinev1.TaskRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles"}}
	tr.Status.Provenance = &pipelinev1.Provenance{RefSource: &pipelinev1.RefSource{URI: bundleRepo, Digest: map[string]string{"sha256": bundleDigest}, EntryPoint: entry}}
	return tr
}

func artifact() []tekton.Result {
	return []tekton.Result{obj("app_ARTIFACT_OUTPUTS", map[string]string{"uri": "pkg:generic/app@1", "digest": d1, "isBuildArtifact": "true"})}
}

func clone(ns, name, url, c string) *pipelinev1.TaskRun {
	return fromBundle(taskRun(ns, name, str("url", url), str("commit", c)), "git-clone")
}

func claimParams(tr *pipelinev1.TaskRun, url string) *pipelinev1.TaskRun {
	tr.Spec.Params = append(tr.Spec.Params,
		pipelinev1.Param{Name: "CHAINS-GIT_URL", Value: *pipelinev1.NewStructuredValues(url)},
		pipelinev1.Param{Name: "CHAINS-GIT_COMMIT", Value: *pipelinev1.NewStructuredValues(commit)})
	return tr
}

func pipelineRun(ns, name string, trusted bool) *pipelinev1.PipelineRun {
	pr := &pipelinev1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	pr.Spec.PipelineRef = &pipelinev1.PipelineRef{Name: name}
	pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue}}}
	pr.Status.PipelineSpec = &pipelinev1.PipelineSpec{Tasks: []pipelinev1.PipelineTask{{Name: "build"}}}
	if trusted {
		pr.Spec.PipelineRef = &pipelinev1.PipelineRef{ResolverRef: pipelinev1.ResolverRef{Resolver: "bundles"}}
		pr.Status.Provenance = &pipelinev1.Provenance{RefSource: &pipelinev1.RefSource{URI: bundleRepo, Digest: map[string]string{"sha256": bundleDigest}, EntryPoint: name}}
	}
	return pr
}

// withChildren lists KIND/NAME child references in pr's status.
func withChildren(pr *pipelinev1.PipelineRun, refs ...string) *pipelinev1.PipelineRun {
	for _, r := range refs {
		kind, name, _ := strings.Cut(r, "/")
		ref := pipelinev1.ChildStatusReference{Name: name}
		ref.Kind = kind
		pr.Status.ChildReferences = append(pr.Status.ChildReferences, ref)
	}
	return pr
}

// inline makes tr a child TaskRun whose Task the Pipeline wrote inline.
func inline(tr *pipelinev1.TaskRun) *pipelinev1.TaskRun {
	tr.Spec.TaskRef = nil
	tr.Spec.TaskSpec = &pipelinev1.TaskSpec{Steps: []pipelinev1.Step{{Name: "build", Image: "golang"}}}
	tr.Status.TaskSpec = tr.Spec.TaskSpec
	return tr
}

// signed is what the statement records, read back from its JSON as a
// verifier reads it.
type signed struct {
	factory tekton.Factory
	deps    []dep
}

type dep struct {
	Name        string            `json:"name"`
	URI         string            `json:"uri"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations"`
}

func read(t *testing.T, a *tekton.Attestation) signed {
	t.Helper()
	st, err := a.Statement()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Predicate struct {
			BuildDefinition struct {
				InternalParameters   map[string]json.RawMessage `json:"internalParameters"`
				ResolvedDependencies []dep                      `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var s signed
	if err := json.Unmarshal(doc.Predicate.BuildDefinition.InternalParameters[tekton.FactoryKey], &s.factory); err != nil {
		t.Fatalf("internalParameters[%s]: %v", tekton.FactoryKey, err)
	}
	s.deps = doc.Predicate.BuildDefinition.ResolvedDependencies
	return s
}

func (s signed) named(name string) []dep {
	var out []dep
	for _, d := range s.deps {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

func TestTenantSourceDecisions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ns       string
		tr       *pipelinev1.TaskRun
		refused  bool
		source   string // "" for none
		verified bool
		level    int
		reason   string
	}{
		{name: "trusted-fetcher", ns: "ci", tr: fromBundle(taskRun("ci", "clone-and-build", append(artifact(), str("url", "https://github.com/acme/app"), str("commit", commit))...), "git-clone"),
			source: "git+https://github.com/acme/app.git", verified: true, level: 3, reason: "results url and commit of TaskRun clone-and-build from trusted Task git-clone"},
		{name: "claim-in-params", ns: "ci", tr: claimParams(fromBundle(taskRun("ci", "build", artifact()...), "go-build"), "https://github.com/acme/app"),
			source: "git+https://github.com/acme/app.git", level: 1, reason: "not reported by a trusted source fetcher"},
		{name: "claim-in-results-of-untrusted-task", ns: "ci", tr: taskRun("ci", "build", append(artifact(), str("CHAINS-GIT_URL", "https://github.com/acme/app"), str("CHAINS-GIT_COMMIT", commit))...),
			source: "git+https://github.com/acme/app.git", level: 1, reason: "not reported by a trusted source fetcher"},
		{name: "fetcher-from-untrusted-source", ns: "ci", tr: taskRun("ci", "clone", append(artifact(), str("url", "https://github.com/acme/app"), str("commit", commit))...),
			level: 2},
		{name: "forbidden-claim-refused", ns: "ci", tr: claimParams(taskRun("ci", "build", artifact()...), "https://github.com/team-a/app"),
			refused: true, reason: "namespace ci (tenant acme) may not claim source github.com/team-a/app"},
		{name: "forbidden-fetch-refused", ns: "ci", tr: fromBundle(taskRun("ci", "clone", append(artifact(), str("url", "https://github.com/team-a/app.git"), str("commit", commit))...), "git-clone"),
			refused: true, reason: "namespace ci (tenant acme) may not claim source github.com/team-a/app (fetched by a trusted Task"},
		{name: "forbidden-claim-casing", ns: "ci", tr: claimParams(taskRun("ci", "build", artifact()...), "https://GitHub.com/Team-A/app.git/"),
			refused: true, reason: "may not claim source github.com/Team-A/app"},
		{name: "forbidden-claim-signed-unverified", ns: "team-b", tr: claimParams(fromBundle(taskRun("team-b", "build", artifact()...), "go-build"), "https://github.com/team-a/app"),
			source: "git+https://github.com/team-a/app.git", level: 1, reason: "namespace team-b (tenant team-b) may not claim source github.com/team-a/app"},
		{name: "claim-not-https", ns: "ci", tr: claimParams(fromBundle(taskRun("ci", "build", artifact()...), "go-build"), "ssh://git@github.com/team-a/app"),
			source: "git+ssh://git@github.com/team-a/app.git", level: 1, reason: "not an https git repository URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tekton.FromTaskRun(tc.tr, testOptions(t, tc.ns))
			if tc.refused {
				if !errors.Is(err, tekton.ErrRefused) || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("err = %v, want %v with %q", err, tekton.ErrRefused, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := read(t, a)
			f := s.factory
			if f.Namespace != tc.ns || f.RunKind != "TaskRun" || f.RunName != tc.tr.Name || f.RunUID != string(tc.tr.UID) || f.ServiceAccount != "default" {
				t.Errorf("factory record %+v", f)
			}
			if f.TenancyPolicy.Name != "hallmark-system/hallmark-tenancy" || len(f.TenancyPolicy.Digest["sha256"]) != 64 {
				t.Errorf("tenancy policy %+v", f.TenancyPolicy)
			}
			if f.MaxLevel != tc.level {
				t.Errorf("maxLevel %d, want %d", f.MaxLevel, tc.level)
			}
			if tc.source == "" {
				if f.Source != nil {
					t.Fatalf("source %+v, want none", f.Source)
				}
				return
			}
			if f.Source == nil || f.Source.URI != tc.source || f.Source.Verified != tc.verified || !strings.Contains(f.Source.Reason, tc.reason) {
				t.Fatalf("source %+v, want %s verified=%v with %q", f.Source, tc.source, tc.verified, tc.reason)
			}
			// Only a verified source is Chains' inputs/result.
			var gitInputs []string
			for _, d := range s.named("inputs/result") {
				if strings.HasPrefix(d.URI, "git+") {
					gitInputs = append(gitInputs, d.URI)
				}
			}
			if tc.verified && !slices.Equal(gitInputs, []string{tc.source}) || !tc.verified && len(gitInputs) > 0 {
				t.Errorf("git inputs/result %q (verified %v)", gitInputs, tc.verified)
			}
			if !tc.verified && len(s.named("inputs/claimed")) == 0 {
				t.Errorf("the unverified claim is not kept as inputs/claimed: %+v", s.deps)
			}
		})
	}
}

func TestTenantDefinitions(t *testing.T) {
	stepAction := fromBundle(taskRun("ci", "build", artifact()...), "go-build")
	stepAction.Status.TaskSpec = &pipelinev1.TaskSpec{Steps: []pipelinev1.Step{{Name: "lint", Ref: &pipelinev1.Ref{Name: "my-linter"}}}}
	for _, tc := range []struct {
		name    string
		tr      *pipelinev1.TaskRun
		level   int
		want    []dep // name, uri and trusted
		digests bool  // every definition has a digest
	}{
		{name: "bundle", tr: fromBundle(taskRun("ci", "build", artifact()...), "go-build"), level: 3, digests: true,
			want: []dep{{Name: "task", URI: "oci://" + bundleRepo, Annotations: map[string]any{"hallmark.dev/trusted": true, "hallmark.dev/definitionSource": "bundles", "hallmark.dev/entryPoint": "go-build"}}}},
		{name: "local-task", tr: taskRun("ci", "build", artifact()...), level: 2,
			want: []dep{{Name: "task", URI: "kubernetes:///apis/tekton.dev/v1/namespaces/ci/tasks/build", Annotations: map[string]any{"hallmark.dev/trusted": false}}}},
		{name: "local-step-action", tr: stepAction, level: 2, want: []dep{
			{Name: "task", URI: "oci://" + bundleRepo, Annotations: map[string]any{"hallmark.dev/trusted": true, "hallmark.dev/definitionSource": "bundles", "hallmark.dev/entryPoint": "go-build"}},
			{Name: "stepAction", URI: "kubernetes:///apis/tekton.dev/v1beta1/namespaces/ci/stepactions/my-linter", Annotations: map[string]any{"hallmark.dev/trusted": false}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tekton.FromTaskRun(tc.tr, testOptions(t, "ci"))
			if err != nil {
				t.Fatal(err)
			}
			s := read(t, a)
			if s.factory.MaxLevel != tc.level {
				t.Errorf("maxLevel %d, want %d", s.factory.MaxLevel, tc.level)
			}
			var got []dep
			for _, d := range s.deps {
				if d.Name == "task" || d.Name == "stepAction" {
					if tc.digests && len(d.Digest) == 0 {
						t.Errorf("%s %s has no digest", d.Name, d.URI)
					}
					got = append(got, dep{Name: d.Name, URI: d.URI, Annotations: d.Annotations})
				}
			}
			if !slices.EqualFunc(got, tc.want, equalDep) {
				t.Errorf("definitions %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equalDep(a, b dep) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestTenantPipelineRun(t *testing.T) {
	build := func(name string) *pipelinev1.TaskRun {
		return taskRun("ci", name, str("IMAGES", "r.example/app@"+d1))
	}
	for _, tc := range []struct {
		name      string
		pr        *pipelinev1.PipelineRun
		children  []*pipelinev1.TaskRun
		level     int
		verified  bool
		untrusted []string // "NAME URI" of the definitions marked untrusted
		reason    string
	}{
		{name: "trusted-pipeline-inline-build", pr: pipelineRun("ci", "release", true),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), inline(build("release-build"))},
			level:    3, verified: true, reason: "TaskRun release-clone"},
		{name: "local-pipeline", pr: pipelineRun("ci", "release", false),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), inline(build("release-build"))},
			level:    2, verified: true, untrusted: []string{"pipelineTask ", "pipeline kubernetes:///apis/tekton.dev/v1/namespaces/ci/pipelines/release"}},
		{name: "untrusted-child-task", pr: pipelineRun("ci", "release", true),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), build("release-build")},
			level:    2, verified: true, untrusted: []string{"pipelineTask kubernetes:///apis/tekton.dev/v1/namespaces/ci/tasks/build"}},
		{name: "all-children-found", pr: withChildren(pipelineRun("ci", "release", true), "TaskRun/release-clone", "TaskRun/release-build"),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), inline(build("release-build"))},
			level:    3, verified: true},
		{name: "custom-task-child", pr: withChildren(pipelineRun("ci", "release", true), "TaskRun/release-clone", "TaskRun/release-build", "CustomRun/release-approve"),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), inline(build("release-build"))},
			level:    2, verified: true},
		{name: "pruned-child", pr: withChildren(pipelineRun("ci", "release", true), "TaskRun/release-clone", "TaskRun/release-build", "TaskRun/release-test"),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), inline(build("release-build"))},
			level:    2, verified: true},
		{name: "two-fetches-none-singled-out", pr: pipelineRun("ci", "release", true),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), clone("ci", "release-clone-config", "https://github.com/acme/config", commit2), inline(build("release-build"))},
			level:    1, reason: "single out none"},
		{name: "two-fetches-singled-out", pr: pipelineRun("ci", "release", true),
			children: []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), clone("ci", "release-clone-config", "https://github.com/acme/config", commit2), claimParams(inline(build("release-build")), "https://github.com/acme/app")},
			level:    3, verified: true, reason: "singled out among 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tekton.FromPipelineRun(tc.pr, tc.children, testOptions(t, "ci"))
			if err != nil {
				t.Fatal(err)
			}
			s := read(t, a)
			f := s.factory
			if f.RunKind != "PipelineRun" || f.RunName != "release" || f.MaxLevel != tc.level {
				t.Errorf("factory %+v, want level %d", f, tc.level)
			}
			if f.Source == nil || f.Source.Verified != tc.verified || !strings.Contains(f.Source.Reason, tc.reason) {
				t.Fatalf("source %+v, want verified=%v with %q", f.Source, tc.verified, tc.reason)
			}
			if tc.verified && f.Source.URI != "git+https://github.com/acme/app.git" {
				t.Errorf("source %s", f.Source.URI)
			}
			var untrusted []string
			for _, d := range append(s.named("pipelineTask"), s.named("pipeline")...) {
				if d.Annotations["hallmark.dev/trusted"] != true {
					untrusted = append(untrusted, d.Name+" "+d.URI)
				}
			}
			if !slices.Equal(untrusted, tc.untrusted) {
				t.Errorf("untrusted definitions %q, want %q", untrusted, tc.untrusted)
			}
		})
	}
}

func TestTenantOptionsRequired(t *testing.T) {
	tr := fromBundle(taskRun("ci", "build", artifact()...), "go-build")
	if _, err := tekton.FromTaskRun(tr, tekton.Options{}); !errors.Is(err, tekton.ErrNoPolicy) {
		t.Fatalf("err = %v, want %v", err, tekton.ErrNoPolicy)
	}
}

// FuzzTenantSource feeds whatever a tenant's steps and params could write
// into a run with a trusted fetcher: FromTaskRun never panics, and a
// source it calls verified is one the trusted fetcher reported, in the
// canonical form, that the namespace may claim, and is the only git
// inputs/result.
func FuzzTenantSource(f *testing.F) {
	f.Add("https://github.com/acme/app", commit, "https://github.com/team-a/app", commit2)
	f.Add("git+https://GitHub.com/acme/app.git", commit, "", "")
	f.Add("https://x-access-token:t@github.com/acme/app", "main", "ssh://git@h/a", "x")
	f.Fuzz(func(t *testing.T, url, c, claimURL, claimCommit string) {
		tr := fromBundle(taskRun("ci", "clone", append(artifact(), str("url", url), str("commit", c))...), "git-clone")
		tr.Spec.Params = pipelinev1.Params{
			{Name: "CHAINS-GIT_URL", Value: *pipelinev1.NewStructuredValues(claimURL)},
			{Name: "CHAINS-GIT_COMMIT", Value: *pipelinev1.NewStructuredValues(claimCommit)},
		}
		o := testOptions(t, "ci")
		a, err := tekton.FromTaskRun(tr, o)
		if err != nil {
			if !errors.Is(err, tekton.ErrRefused) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		s := read(t, a)
		src := s.factory.Source
		if src == nil || !src.Verified {
			return
		}
		fetched, err := tenancy.ParseSource(url)
		if err != nil || src.URI != fetched.URI || src.Digest["sha1"] != strings.TrimSpace(c) || !o.Tenant.MayClaim(fetched) {
			t.Fatalf("verified %+v from fetched %q %q", src, url, c)
		}
		var inputs []string
		for _, d := range s.named("inputs/result") {
			if strings.HasPrefix(d.URI, "git+") {
				inputs = append(inputs, d.URI)
			}
		}
		if !slices.Equal(inputs, []string{src.URI}) {
			t.Fatalf("git inputs/result %q, want only %s", inputs, src.URI)
		}
	})
}

// withParams adds string params to tr.
func withParams(tr *pipelinev1.TaskRun, kv ...string) *pipelinev1.TaskRun {
	for i := 0; i+1 < len(kv); i += 2 {
		tr.Spec.Params = append(tr.Spec.Params, pipelinev1.Param{Name: kv[i], Value: *pipelinev1.NewStructuredValues(kv[i+1])})
	}
	return tr
}

// TestPerRunHints: each TaskRun (and each step) of a PipelineRun is read on
// its own, and only then are the subjects merged; a source is a pair from
// one run, and runs that disagree about it leave it unverified, with a
// warning.
func TestPerRunHints(t *testing.T) {
	image := func(ns, name, repo, digest string) *pipelinev1.TaskRun {
		return inline(taskRun(ns, name, str("IMAGE_URL", repo), str("IMAGE_DIGEST", digest)))
	}
	for _, tc := range []struct {
		name     string
		children []*pipelinev1.TaskRun
		subjects []string // NAME@DIGEST
		images   []string
		source   string // "" for none
		verified bool
		warning  string // a warning that must be given
	}{
		{name: "two-tasks-unprefixed-images", children: []*pipelinev1.TaskRun{
			image("ci", "release-app", "r.example/acme/app", d1), image("ci", "release-worker", "r.example/acme/worker", d2)},
			subjects: []string{"r.example/acme/app@" + d1, "r.example/acme/worker@" + d2},
			images:   []string{"r.example/acme/app@" + d1, "r.example/acme/worker@" + d2}},
		{name: "one-repository-two-tasks", children: []*pipelinev1.TaskRun{
			image("ci", "release-amd64", "r.example/acme/app", d1), image("ci", "release-arm64", "r.example/acme/app", d2)},
			subjects: []string{"r.example/acme/app@" + d1, "r.example/acme/app@" + d2}},
		{name: "git-url-and-commit-of-different-runs-never-pair", children: []*pipelinev1.TaskRun{
			withParams(image("ci", "release-app", "r.example/acme/app", d1), "CHAINS-GIT_URL", "https://github.com/acme/app"),
			withParams(image("ci", "release-worker", "r.example/acme/worker", d2), "CHAINS-GIT_COMMIT", commit)},
			subjects: []string{"r.example/acme/app@" + d1, "r.example/acme/worker@" + d2},
			warning:  "want a URL and a 40-digit commit"},
		{name: "two-runs-claim-different-sources", children: []*pipelinev1.TaskRun{
			claimParams(image("ci", "release-app", "r.example/acme/app", d1), "https://github.com/acme/app"),
			withParams(image("ci", "release-worker", "r.example/acme/worker", d2), "CHAINS-GIT_URL", "https://github.com/acme/worker", "CHAINS-GIT_COMMIT", commit2)},
			subjects: []string{"r.example/acme/app@" + d1, "r.example/acme/worker@" + d2},
			source:   "git+https://github.com/acme/app.git", warning: "runs claim different sources"},
		{name: "fetch-and-matching-claim", children: []*pipelinev1.TaskRun{
			clone("ci", "release-clone", "https://github.com/acme/app", commit),
			claimParams(image("ci", "release-app", "r.example/acme/app", d1), "https://github.com/acme/app")},
			subjects: []string{"r.example/acme/app@" + d1}, source: "git+https://github.com/acme/app.git", verified: true},
		{name: "fetch-and-conflicting-claim", children: []*pipelinev1.TaskRun{
			clone("ci", "release-clone", "https://github.com/acme/app", commit),
			withParams(image("ci", "release-app", "r.example/acme/app", d1), "CHAINS-GIT_URL", "https://github.com/acme/app", "CHAINS-GIT_COMMIT", commit2)},
			subjects: []string{"r.example/acme/app@" + d1}, source: "git+https://github.com/acme/app.git", warning: "but the params and results of TaskRun release-app claims github.com/acme/app@" + commit2},
		{name: "two-fetches-each-claimed", children: []*pipelinev1.TaskRun{
			clone("ci", "release-clone-app", "https://github.com/acme/app", commit),
			clone("ci", "release-clone-config", "https://github.com/acme/config", commit2),
			claimParams(image("ci", "release-app", "r.example/acme/app", d1), "https://github.com/acme/app"),
			withParams(image("ci", "release-config", "r.example/acme/config", d2), "CHAINS-GIT_URL", "https://github.com/acme/config", "CHAINS-GIT_COMMIT", commit2)},
			subjects: []string{"r.example/acme/app@" + d1, "r.example/acme/config@" + d2}, source: "git+https://github.com/acme/app.git", warning: "claim 2 of them"},
		{name: "claim-in-a-step-result", children: []*pipelinev1.TaskRun{func() *pipelinev1.TaskRun {
			tr := image("ci", "release-app", "r.example/acme/app", d1)
			tr.Status.Steps = []pipelinev1.StepState{{Name: "clone", Results: []pipelinev1.TaskRunStepResult{
				{Name: "CHAINS-GIT_URL", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues("https://github.com/acme/app")},
				{Name: "CHAINS-GIT_COMMIT", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(commit)},
			}}}
			return tr
		}()}, subjects: []string{"r.example/acme/app@" + d1}, source: "git+https://github.com/acme/app.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tekton.FromPipelineRun(pipelineRun("ci", "release", true), tc.children, testOptions(t, "ci"))
			if err != nil {
				t.Fatal(err)
			}
			var subjects []string
			for _, s := range a.Subjects {
				subjects = append(subjects, s.Name+"@sha256:"+s.Digest["sha256"])
			}
			if !slices.Equal(subjects, tc.subjects) {
				t.Errorf("subjects %q, want %q", subjects, tc.subjects)
			}
			if tc.images != nil && !slices.Equal(a.Images, tc.images) {
				t.Errorf("images %q, want %q", a.Images, tc.images)
			}
			f := read(t, a).factory
			switch {
			case tc.source == "" && f.Source != nil:
				t.Errorf("source %+v, want none", f.Source)
			case tc.source != "" && (f.Source == nil || f.Source.URI != tc.source || f.Source.Verified != tc.verified):
				t.Errorf("source %+v, want %s verified=%v", f.Source, tc.source, tc.verified)
			}
			if tc.source != "" && !tc.verified && f.MaxLevel > 1 {
				t.Errorf("maxLevel %d with an unverified source", f.MaxLevel)
			}
			if tc.warning != "" && !slices.ContainsFunc(a.Warnings, func(w string) bool { return strings.Contains(w, tc.warning) }) {
				t.Errorf("warnings %q, want one with %q", a.Warnings, tc.warning)
			}
		})
	}
}

// TestStepActionOnlyRun: a TaskRun whose hints are all in its steps'
// results (StepActions) is attested.
func TestStepActionOnlyRun(t *testing.T) {
	tr := fromBundle(taskRun("ci", "build"), "go-build")
	tr.Status.Steps = []pipelinev1.StepState{
		{Name: "build", Results: []pipelinev1.TaskRunStepResult{
			{Name: "IMAGE_URL", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues("r.example/acme/app")},
			{Name: "IMAGE_DIGEST", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(d1)},
		}},
		{Name: "package", Results: []pipelinev1.TaskRunStepResult{
			{Name: "IMAGE_URL", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues("r.example/acme/cli")},
			{Name: "IMAGE_DIGEST", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(d2)},
		}},
	}
	a, err := tekton.FromTaskRun(tr, testOptions(t, "ci"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"r.example/acme/app@" + d1, "r.example/acme/cli@" + d2}
	if !slices.Equal(a.Images, want) {
		t.Errorf("images %q, want %q (each step's URL with its own digest)", a.Images, want)
	}
}

// TestCredentialsRedacted: a clone URL with a token in it, in a claim or a
// fetcher's results, reaches neither the warnings nor the statement.
func TestCredentialsRedacted(t *testing.T) {
	const token = "ghp_0123456789abcdefSECRET"
	tr := fromBundle(taskRun("ci", "clone", append(artifact(), str("url", "https://x-access-token:"+token+"@github.com/acme/app"), str("commit", commit),
		obj("src_ARTIFACT_INPUTS", map[string]string{"uri": "git+https://" + token + "@github.com/acme/lib.git", "digest": "sha1:" + commit2}))...), "git-clone")
	tr.Spec.Params = pipelinev1.Params{
		{Name: "CHAINS-GIT_URL", Value: *pipelinev1.NewStructuredValues("https://user:" + token + "@github.com/acme/app")},
		{Name: "CHAINS-GIT_COMMIT", Value: *pipelinev1.NewStructuredValues(commit)},
	}
	a, err := tekton.FromTaskRun(tr, testOptions(t, "ci"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.Statement()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	// Byproducts hold the results as written (base64 in the JSON), as
	// Chains records them; every field Hallmark reads is redacted.
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["predicate"].(map[string]any)["runDetails"].(map[string]any), "byproducts")
	delete(doc["predicate"].(map[string]any)["buildDefinition"].(map[string]any), "externalParameters")
	rest, _ := json.Marshal(doc)
	if strings.Contains(string(rest), token) || strings.Contains(strings.Join(a.Warnings, "\n"), token) {
		t.Fatalf("token in the statement or warnings:\n%s\n%q", rest, a.Warnings)
	}
	if !strings.Contains(string(rest), "REDACTED@github.com") {
		t.Errorf("no redacted URL recorded: %s", rest)
	}
}

// FuzzStepResults feeds whatever a StepAction's step could write as its
// results into a PipelineRun's TaskRun: FromPipelineRun never panics, and
// a statement it gives is one the core accepts, with no subject but those
// the step and the TaskRun named.
func FuzzStepResults(f *testing.F) {
	f.Add("IMAGE_URL", "r.example/a", "IMAGE_DIGEST", d1, "https://github.com/acme/app")
	f.Add("x-ARTIFACT_OUTPUTS", "", "CHAINS-GIT_COMMIT", commit, "ssh://git@h/a")
	f.Add("IMAGES", "r.example/a@"+d1+"\nr.example/a@"+d2, "CHAINS-GIT_URL", "https://x:t@github.com/acme/app", "")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, url string) {
		tr := inline(taskRun("ci", "release-build", str("IMAGES", "r.example/app@"+d1)))
		tr.Status.Steps = []pipelinev1.StepState{{Name: "s", Results: []pipelinev1.TaskRunStepResult{
			{Name: n1, Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(v1)},
			{Name: n2, Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(v2)},
			{Name: n1, Type: pipelinev1.ResultsTypeObject, Value: *pipelinev1.NewObject(map[string]string{"uri": url, "digest": v2, "isBuildArtifact": "true"})},
			{Name: "CHAINS-GIT_URL", Type: pipelinev1.ResultsTypeString, Value: *pipelinev1.NewStructuredValues(url)},
		}}}
		a, err := tekton.FromPipelineRun(pipelineRun("ci", "release", true), []*pipelinev1.TaskRun{clone("ci", "release-clone", "https://github.com/acme/app", commit), tr}, testOptions(t, "ci"))
		if err != nil {
			if !errors.Is(err, tekton.ErrRefused) {
				t.Fatalf("err = %v", err)
			}
			return
		}
		if len(a.Subjects) > provenance.MaxSubjects {
			return
		}
		if _, err := a.Statement(); err != nil {
			t.Fatalf("statement: %v", err)
		}
		for _, s := range a.Subjects {
			if s.Name != "r.example/app" && !strings.Contains(v1+v2+url, strings.TrimSpace(s.Name)) && !strings.Contains(s.Name, "r.example") {
				t.Fatalf("subject %q named by no hint", s.Name)
			}
		}
	})
}
