package tekton

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	v1 "github.com/in-toto/attestation/go/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

// Byproduct name formats, as Chains' slsa/v2alpha4 names a run's results.
const (
	byproductTaskRun     = "taskRunResults/%s/%s"
	byproductStep        = "stepResults/%s/%s"
	byproductPipelineRun = "pipelineRunResults/%s/%s"
)

// unit is what one run — a TaskRun, or a PipelineRun's own definition and
// results — says on its own, before the units of a PipelineRun are merged.
type unit struct {
	deps      []*v1.ResourceDescriptor // definitions, step and sidecar images
	untrusted []string                 // definitions from no trusted source, for reasons
	fetched   *observation             // the source a trusted fetcher reported
	producers []producer               // the hints of each step, then of the run
	// byproducts are the run's results, as Chains records them.
	byproducts []*v1.ResourceDescriptor
	warnings   []string
}

// producer is the hints of one step, TaskRun or PipelineRun, with where
// they came from, for warnings and reasons.
type producer struct {
	origin string
	kind   producerKind
	hints  Hints
}

// producerKind tells a step's hints from a TaskRun's and a PipelineRun's:
// Chains lists the sources and inputs they name in that order.
type producerKind int

const (
	producerTaskRun producerKind = iota
	producerStep
	producerPipelineRun
)

// subjects merges the subjects of every producer of units, in order.
func subjectsOf(units []unit) ([]subject.Subject, []string, []string) {
	var subjects []subject.Subject
	var images, warnings []string
	for _, u := range units {
		for _, p := range u.producers {
			var dropped []string
			subjects, dropped = mergeSubjects(subjects, p.hints.Subjects)
			warnings = append(warnings, dropped...)
			images = append(images, p.hints.Images...)
		}
	}
	sortSubjects(subjects)
	return subjects, keptImages(images, subjects), warnings
}

// readTaskRun reads a TaskRun's step and sidecar images, and its hints and
// byproducts, per step and for the run itself. A child TaskRun that never
// completed contributes none of them.
func readTaskRun(u *unit, tr *pipelinev1.TaskRun) {
	if tr.Status.CompletionTime == nil && !tr.IsDone() {
		return
	}
	for _, s := range tr.Status.Steps {
		if rd := imageDependency(s.ImageID); rd != nil {
			u.deps = append(u.deps, rd)
		}
	}
	for _, s := range tr.Status.Sidecars {
		if rd := imageDependency(s.ImageID); rd != nil {
			u.deps = append(u.deps, rd)
		}
	}
	for _, s := range tr.Status.Steps {
		rs := stepResults(s.Results)
		if len(rs) == 0 {
			continue
		}
		u.producers = append(u.producers, producer{
			origin: fmt.Sprintf("results of step %s of TaskRun %s", s.Name, tr.Name),
			kind:   producerStep,
			hints:  ParseHints(rs, nil),
		})
	}
	var params []Result
	if spec := taskSpec(tr); spec != nil {
		params = paramDefaults(spec.Params)
	}
	params = append(params, paramValues(tr.Spec.Params)...)
	u.producers = append(u.producers, producer{
		origin: "params and results of TaskRun " + tr.Name,
		hints:  ParseHints(taskResults(tr.Status.Results), params),
	})
	u.byproducts = append(u.byproducts, byproducts(byproductTaskRun, tr.Name, taskResults(tr.Status.Results))...)
	for _, s := range tr.Status.Steps {
		u.byproducts = append(u.byproducts, byproducts(byproductStep, tr.Name, stepResults(s.Results))...)
	}
	for _, p := range u.producers {
		for _, w := range p.hints.Warnings {
			u.warnings = append(u.warnings, p.origin+": "+w)
		}
	}
}

// readPipelineRun reads a PipelineRun's own hints and byproducts.
func readPipelineRun(u *unit, pr *pipelinev1.PipelineRun) {
	var params []Result
	if spec := pipelineSpec(pr); spec != nil {
		params = paramDefaults(spec.Params)
	}
	params = append(params, paramValues(pr.Spec.Params)...)
	p := producer{origin: "params and results of PipelineRun " + pr.Name, kind: producerPipelineRun, hints: ParseHints(pipelineResults(pr.Status.Results), params)}
	u.producers = append(u.producers, p)
	u.byproducts = append(u.byproducts, byproducts(byproductPipelineRun, pr.Name, pipelineResults(pr.Status.Results))...)
	for _, w := range p.hints.Warnings {
		u.warnings = append(u.warnings, p.origin+": "+w)
	}
}

// byproducts are a run's results as Chains records them: every result but
// the image hints and the build artifacts, named by format with the run's
// name, holding the result's JSON.
func byproducts(format, run string, rs []Result) []*v1.ResourceDescriptor {
	var out []*v1.ResourceDescriptor
	for _, r := range rs {
		if !isByproduct(r) || !utf8.ValidString(r.Name) {
			// A name Tekton would not accept, which no JSON statement
			// can hold either.
			continue
		}
		content, err := json.Marshal(r.Value)
		if err != nil {
			continue
		}
		out = append(out, &v1.ResourceDescriptor{Name: fmt.Sprintf(format, run, r.Name), Content: content, MediaType: "application/json"})
	}
	return out
}

// isByproduct is Chains' rule: image hints and *ARTIFACT_OUTPUTS build
// artifacts (and *ARTIFACT_OUTPUTS that are not objects) are subjects or
// nothing; every other result is a byproduct.
func isByproduct(r Result) bool {
	switch {
	case strings.HasSuffix(r.Name, hintArtifactOutputs):
		return r.Value.ObjectVal != nil && r.Value.ObjectVal["isBuildArtifact"] != "true"
	case strings.HasSuffix(r.Name, hintImageURL), strings.HasSuffix(r.Name, hintImageDigest), r.Name == hintImages:
		return false
	}
	return true
}

// orderChildren orders a PipelineRun's TaskRuns as its Pipeline lists its
// tasks (then finally tasks), as Chains does; TaskRuns of the same task,
// or of no task the spec lists, by name.
func orderChildren(pr *pipelinev1.PipelineRun, taskRuns []*pipelinev1.TaskRun) []*pipelinev1.TaskRun {
	index := map[string]int{}
	if spec := pipelineSpec(pr); spec != nil {
		for _, t := range append(slices.Clone(spec.Tasks), spec.Finally...) {
			if _, ok := index[t.Name]; !ok {
				index[t.Name] = len(index)
			}
		}
	}
	byRef := map[string]string{}
	for _, ref := range pr.Status.ChildReferences {
		byRef[ref.Name] = ref.PipelineTaskName
	}
	pos := func(tr *pipelinev1.TaskRun) int {
		task, ok := tr.Labels[pipeline.PipelineTaskLabelKey]
		if !ok {
			task = byRef[tr.Name]
		}
		if i, ok := index[task]; ok {
			return i
		}
		return len(index)
	}
	out := slices.Clone(taskRuns)
	slices.SortStableFunc(out, func(a, b *pipelinev1.TaskRun) int {
		if c := pos(a) - pos(b); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func taskSpec(tr *pipelinev1.TaskRun) *pipelinev1.TaskSpec {
	if tr.Status.TaskSpec != nil {
		return tr.Status.TaskSpec
	}
	return tr.Spec.TaskSpec
}

func pipelineSpec(pr *pipelinev1.PipelineRun) *pipelinev1.PipelineSpec {
	if pr.Status.PipelineSpec != nil {
		return pr.Status.PipelineSpec
	}
	return pr.Spec.PipelineSpec
}

func taskResults(rs []pipelinev1.TaskRunResult) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result{Name: r.Name, Value: r.Value})
	}
	return out
}

func stepResults(rs []pipelinev1.TaskRunStepResult) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result{Name: r.Name, Value: r.Value})
	}
	return out
}

func pipelineResults(rs []pipelinev1.PipelineRunResult) []Result {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result{Name: r.Name, Value: r.Value})
	}
	return out
}

func paramValues(ps pipelinev1.Params) []Result {
	out := make([]Result, 0, len(ps))
	for _, p := range ps {
		out = append(out, Result{Name: p.Name, Value: p.Value})
	}
	return out
}

func paramDefaults(ps pipelinev1.ParamSpecs) []Result {
	var out []Result
	for _, p := range ps {
		if p.Default != nil {
			out = append(out, Result{Name: p.Name, Value: *p.Default})
		}
	}
	return out
}
