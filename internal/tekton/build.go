package tekton

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	v1 "github.com/in-toto/attestation/go/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// Identifiers of Chains' slsa/v2alpha4 layout.
const (
	// BuildType is the buildType of Tekton Chains' SLSA v1.0 provenance.
	BuildType = "https://tekton.dev/chains/v2/slsa"
	// DefaultBuilderID is Chains' default builder id.
	DefaultBuilderID = "https://tekton.dev/chains/v2"
)

var (
	// ErrNotDone is returned for a run that has not finished.
	ErrNotDone = errors.New("run has not finished")
	// ErrNotSucceeded is returned for a run that finished without
	// succeeding: what it left behind is not attested.
	ErrNotSucceeded = errors.New("run did not succeed")
	// ErrNothingToAttest is returned when a run's type hints name no
	// subject.
	ErrNothingToAttest = errors.New("no type hint names a subject")
)

// Options are facts about the builder and the run's tenant, which no run
// carries.
type Options struct {
	// BuilderID is the provenance's builder id; DefaultBuilderID when empty.
	BuilderID string
	// BuilderVersion maps builder components to versions, such as
	// {"hallmark-factory": "v0.3.0"}. Optional.
	BuilderVersion map[string]string
	// Policy is the tenancy policy and Tenant the run's namespace's tenant
	// in it. Required: they decide which definitions are trusted, whether
	// the source is verified, and the level the controller vouches for.
	Policy *tenancy.Policy
	Tenant *tenancy.Tenant
}

// ErrNoPolicy: Options lack the tenancy policy or the tenant.
var ErrNoPolicy = errors.New("no tenancy policy or tenant")

// Attestation is what a run's provenance says, before it is signed. It
// implements [provenance.Context].
type Attestation struct {
	// Subjects are the artifacts the run built.
	Subjects []subject.Subject
	// Images are the container images among Subjects, as
	// REPOSITORY@ALG:HEX.
	Images []string
	// Warnings describe type hints that were skipped.
	Warnings []string
	// Factory is the statement's record of who built the run and what
	// the controller vouches for.
	Factory Factory
	build   *provenance.Build
}

var _ provenance.Context = (*Attestation)(nil)

// Build returns the run's build facts.
func (a *Attestation) Build(context.Context) (*provenance.Build, error) { return a.build, nil }

// Statement is the signed payload's statement: in-toto Statement v1 with
// the SLSA v1.0 predicate, from the same core as GitHub mode.
func (a *Attestation) Statement() (*v1.Statement, error) {
	return provenance.Statement(a.Subjects, a.build)
}

// FromTaskRun reads a finished, successful TaskRun. A run whose source
// claim its tenant may not make is refused with an error wrapping
// ErrRefused, if the tenant says so.
func FromTaskRun(tr *pipelinev1.TaskRun, o Options) (*Attestation, error) {
	if tr == nil || !tr.IsDone() {
		return nil, ErrNotDone
	}
	if !tr.IsSuccessful() {
		return nil, ErrNotSucceeded
	}
	if o.Policy == nil || o.Tenant == nil {
		return nil, ErrNoPolicy
	}
	u := o.taskRunUnit(tr, depTask, nil)
	units := []unit{u}
	subjects, images, warnings := subjectsOf(units)
	warnings = append(u.warnings, warnings...)
	if len(subjects) == 0 {
		return nil, errorWithWarnings(ErrNothingToAttest, warnings)
	}
	d, err := o.decide(tr.Namespace, units)
	if err != nil {
		return nil, err
	}
	f := o.factoryRecord("TaskRun", tr.Namespace, tr.Name, string(tr.UID), tr.Spec.ServiceAccountName, d)
	b := &provenance.Build{
		BuildType:          BuildType,
		ExternalParameters: externalParameters(tr.Spec, tr.Status.Provenance, tr.Spec.TaskRef != nil && remoteResolver(tr.Spec.TaskRef.Resolver)),
		InternalParameters: internalParameters(tr.Status.Provenance, f),
		BuilderID:          o.builderID(),
		BuilderVersion:     o.BuilderVersion,
		InvocationID:       string(tr.UID),
		StartedOn:          timeOf(tr.Status.StartTime),
		FinishedOn:         timeOf(tr.Status.CompletionTime),
		Byproducts:         u.byproducts,
	}
	b.ResolvedDependencies = dedupe(append(slices.Clone(u.deps), d.materials...))
	return &Attestation{Subjects: subjects, Images: images, Warnings: capWarnings(append(warnings, d.warnings...)), Factory: f, build: b}, nil
}

// FromPipelineRun reads a finished, successful PipelineRun and the TaskRuns
// it ran (its status's child references, fetched by the caller). Subjects
// come from the PipelineRun's results and, as Chains' deep inspection does,
// from its TaskRuns' and their steps' results, each read on its own.
func FromPipelineRun(pr *pipelinev1.PipelineRun, taskRuns []*pipelinev1.TaskRun, o Options) (*Attestation, error) {
	if pr == nil || !pr.IsDone() {
		return nil, ErrNotDone
	}
	if c := pr.Status.GetCondition("Succeeded"); c == nil || !c.IsTrue() {
		return nil, ErrNotSucceeded
	}
	if o.Policy == nil || o.Tenant == nil {
		return nil, ErrNoPolicy
	}
	taskRuns = orderChildren(pr, taskRuns)
	pu, pipelineTrusted := o.pipelineUnit(pr)
	pu.untrusted = append(pu.untrusted, uninspected(pr, taskRuns)...)
	readPipelineRun(&pu, pr)
	units := []unit{pu}
	for _, tr := range taskRuns {
		units = append(units, o.taskRunUnit(tr, depPipelineTask, &pipelineTrusted))
	}
	var warnings []string
	for _, u := range units {
		warnings = append(warnings, u.warnings...)
	}
	subjects, images, dropped := subjectsOf(units)
	warnings = append(warnings, dropped...)
	if len(subjects) == 0 {
		return nil, errorWithWarnings(ErrNothingToAttest, warnings)
	}
	d, err := o.decide(pr.Namespace, units)
	if err != nil {
		return nil, err
	}
	f := o.factoryRecord("PipelineRun", pr.Namespace, pr.Name, string(pr.UID), pr.Spec.TaskRunTemplate.ServiceAccountName, d)
	b := &provenance.Build{
		BuildType:          BuildType,
		ExternalParameters: externalParameters(pr.Spec, pr.Status.Provenance, pr.Spec.PipelineRef != nil && remoteResolver(pr.Spec.PipelineRef.Resolver)),
		InternalParameters: internalParameters(pr.Status.Provenance, f),
		BuilderID:          o.builderID(),
		BuilderVersion:     o.BuilderVersion,
		InvocationID:       string(pr.UID),
		StartedOn:          timeOf(pr.Status.StartTime),
		FinishedOn:         timeOf(pr.Status.CompletionTime),
	}
	var deps []*v1.ResourceDescriptor
	for _, u := range units {
		deps = append(deps, u.deps...)
		b.Byproducts = append(b.Byproducts, u.byproducts...)
	}
	b.ResolvedDependencies = dedupe(append(deps, d.materials...))
	return &Attestation{Subjects: subjects, Images: images, Warnings: capWarnings(append(warnings, d.warnings...)), Factory: f, build: b}, nil
}

// remoteResolver reports whether a reference is resolved remotely in the
// sense of Chains, which writes buildConfigSource only for those: any
// resolver but none (and "Cluster", as Chains spells it).
func remoteResolver(r pipelinev1.ResolverName) bool {
	return r != "" && r != "Cluster"
}

func capWarnings(w []string) []string {
	if len(w) > maxWarnings {
		return append(w[:maxWarnings:maxWarnings], fmt.Sprintf("… and %d more warnings", len(w)-maxWarnings))
	}
	return w
}

func (o Options) builderID() string {
	if o.BuilderID == "" {
		return DefaultBuilderID
	}
	return o.BuilderID
}

// errorWithWarnings keeps the warnings with an error, so "nothing to
// attest" says which hints were malformed.
func errorWithWarnings(err error, warnings []string) error {
	if len(warnings) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(warnings, "; "))
}

// externalParameters are Chains': the run's spec and, for a definition a
// remote resolver fetched, where from.
func externalParameters(spec any, p *pipelinev1.Provenance, remote bool) map[string]any {
	ext := map[string]any{"runSpec": spec}
	if remote && p != nil && p.RefSource != nil {
		ref := ""
		for _, alg := range slices.Sorted(maps.Keys(p.RefSource.Digest)) {
			ref = alg + ":" + p.RefSource.Digest[alg]
			break
		}
		ext["buildConfigSource"] = map[string]any{
			"ref":        ref,
			"repository": p.RefSource.URI,
			"path":       p.RefSource.EntryPoint,
		}
	}
	return ext
}

func internalParameters(p *pipelinev1.Provenance, f Factory) map[string]any {
	in := map[string]any{FactoryKey: f}
	if p != nil && p.FeatureFlags != nil {
		in["tekton-pipelines-feature-flags"] = p.FeatureFlags
	}
	return in
}

func imageDependency(imageID string) *v1.ResourceDescriptor {
	id := strings.TrimPrefix(strings.TrimPrefix(imageID, "docker-pullable://"), "docker://")
	repo, digest, ok := strings.Cut(id, "@")
	if !ok {
		return nil
	}
	alg, hex, err := subject.ParseDigest(digest)
	if err != nil || repo == "" {
		return nil
	}
	uri := "oci://" + repo
	if !absoluteURI(uri) {
		return nil
	}
	return &v1.ResourceDescriptor{Uri: uri, Digest: map[string]string{alg: hex}}
}

// dedupe drops a dependency that repeats an earlier one's URI, digest and
// content (and, Hallmark's own, annotations), whatever its name, as Chains
// does; a Task's or Pipeline's definition is always kept.
func dedupe(rds []*v1.ResourceDescriptor) []*v1.ResourceDescriptor {
	seen := map[string]bool{}
	var out []*v1.ResourceDescriptor
	for _, rd := range rds {
		key := rd.GetUri() + "\x00" + digestKey(rd.GetDigest()) + "\x00" + string(rd.GetContent()) + "\x00" + fmt.Sprint(rd.GetAnnotations().AsMap())
		if seen[key] && rd.GetName() != depTask && rd.GetName() != depPipeline {
			continue
		}
		seen[key] = true
		out = append(out, rd)
	}
	return out
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && (u.Host != "" || u.Opaque != "" || u.Path != "") &&
		!strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}
