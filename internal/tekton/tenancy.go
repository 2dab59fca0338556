package tekton

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "github.com/in-toto/attestation/go/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// Names of the statement's factory fields. FactoryKey is the key of the
// factory record in buildDefinition.internalParameters; the annotations are
// on resolved dependencies.
const (
	FactoryKey = "hallmark.dev/factory"
	// AnnotationTrusted says whether the tenancy policy trusts the source
	// a definition came from.
	AnnotationTrusted = "hallmark.dev/trusted"
	// AnnotationDefinitionSource names the policy's definition source
	// that trusted it.
	AnnotationDefinitionSource = "hallmark.dev/definitionSource"
	// AnnotationEntryPoint is the definition's entry in its source: its
	// name in a bundle, its path in a git repository.
	AnnotationEntryPoint = "hallmark.dev/entryPoint"
	// AnnotationVerified is false on a source claim that was not verified.
	AnnotationVerified = "hallmark.dev/verified"
)

// Names of resolved dependencies: Tekton Chains' where Chains has one.
const (
	depTask         = "task"
	depPipeline     = "pipeline"
	depPipelineTask = "pipelineTask"
	depStepAction   = "stepAction"
	depInput        = "inputs/result"
	// depClaimed is a git source a run claimed that was not verified: not
	// Chains' inputs/result, which verifiers read as the source.
	depClaimed = "inputs/claimed"
)

// ErrRefused is wrapped by the error of a run that the tenancy policy
// refuses to sign; the error says why.
var ErrRefused = errors.New("refused by the tenancy policy")

// Factory is the record of who built a run and what the controller vouches
// for, at buildDefinition.internalParameters["hallmark.dev/factory"].
type Factory struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// RunKind is "TaskRun" or "PipelineRun".
	RunKind       string          `json:"runKind"`
	RunName       string          `json:"runName"`
	RunUID        string          `json:"runUID"`
	TenancyPolicy PolicyReference `json:"tenancyPolicy"`
	// Source is the source the run built; nil when it claims none.
	Source *SourceRecord `json:"source,omitempty"`
	// MaxLevel is the highest SLSA build level the controller vouches for.
	MaxLevel int `json:"maxLevel"`
}

// PolicyReference names the tenancy policy as the controller read it.
type PolicyReference struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SourceRecord is the run's source and whether the controller verified it.
type SourceRecord struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest,omitempty"`
	// Verified is true only for a source a trusted fetcher reported and
	// the namespace may claim.
	Verified bool   `json:"verified"`
	Reason   string `json:"reason"`
}

// observation is a source a trusted fetcher reported.
type observation struct {
	src    tenancy.Source
	commit string
	reason string
}

// definition records one definition in u: its dependency, with whether
// the policy trusts it. embedded, when not nil, is the trust of the
// Pipeline that embeds an inline Task.
func (o Options) definition(u *unit, depName string, d tenancy.Definition, rd *v1.ResourceDescriptor, label string, embedded *bool) bool {
	src, trusted := o.Policy.Trust(o.Tenant, d)
	if embedded != nil {
		trusted, src = *embedded, ""
	}
	ann := map[string]any{AnnotationTrusted: trusted}
	if src != "" {
		ann[AnnotationDefinitionSource] = src
	}
	if d.EntryPoint != "" {
		ann[AnnotationEntryPoint] = d.EntryPoint
	}
	rd.Name = depName
	rd.Annotations, _ = structpb.NewStruct(ann)
	u.deps = append(u.deps, rd)
	if !trusted {
		u.untrusted = append(u.untrusted, label)
	}
	return trusted
}

// remoteDefinition is a definition Tekton resolved remotely, as its
// refSource recorded it.
func remoteDefinition(kind string, rs *pipelinev1.RefSource) (tenancy.Definition, *v1.ResourceDescriptor, bool) {
	if rs == nil || rs.URI == "" {
		return tenancy.Definition{}, nil, false
	}
	d := tenancy.Definition{Kind: kind, URI: rs.URI, Digest: maps.Clone(rs.Digest), EntryPoint: rs.EntryPoint}
	uri := definitionURI(rs.URI)
	if !absoluteURI(uri) {
		return d, nil, false
	}
	digest := map[string]string{}
	for alg, hex := range rs.Digest {
		if n, ok := digestLen[alg]; ok && checkHex(hex, n) == nil {
			digest[alg] = hex
		}
	}
	return d, &v1.ResourceDescriptor{Uri: uri, Digest: digest}, true
}

// definitionURI makes Tekton's refSource URI absolute: git resolvers write
// git+https://…, bundle resolvers a bare repository (oci://…), the cluster
// resolver an API path (kubernetes:///apis/…).
func definitionURI(uri string) string {
	switch {
	case strings.Contains(uri, "://"):
		return uri
	case strings.HasPrefix(uri, "/"):
		return "kubernetes://" + uri
	}
	return "oci://" + uri
}

// localDefinition is a definition read from the run's namespace by name
// (uri names it) or written inline (uri empty), pinned by the SHA-256 of
// the spec Tekton recorded in the run's status.
func localDefinition(uri string, spec any) *v1.ResourceDescriptor {
	rd := &v1.ResourceDescriptor{Uri: uri}
	if raw, err := json.Marshal(spec); err == nil && string(raw) != "null" {
		sum := sha256.Sum256(raw)
		rd.Digest = map[string]string{"sha256": hex.EncodeToString(sum[:])}
	}
	if rd.Uri == "" && rd.Digest == nil {
		return nil
	}
	return rd
}

func objectURI(ns, resource, name string) string {
	version := "v1"
	if resource == "stepactions" {
		version = "v1beta1"
	}
	return fmt.Sprintf("kubernetes:///apis/tekton.dev/%s/namespaces/%s/%s/%s", version, ns, resource, name)
}

// taskRunUnit reads a TaskRun's definitions (its Task and StepActions),
// step images, hints and results and, when its Task is a trusted source
// fetcher, the source it fetched. pipelineTrust is the embedding Pipeline's trust for a child
// TaskRun, nil for a TaskRun of its own.
func (o Options) taskRunUnit(tr *pipelinev1.TaskRun, depName string, pipelineTrust *bool) unit {
	var u unit
	spec := tr.Status.TaskSpec
	if spec == nil {
		spec = tr.Spec.TaskSpec
	}
	var taskDef tenancy.Definition
	taskTrusted := false
	switch d, rd, ok := remoteDefinition("Task", refSource(tr.Status.Provenance)); {
	case ok:
		taskDef = d
		taskTrusted = o.definition(&u, depName, d, rd, "Task "+rd.Uri, nil)
	case tr.Spec.TaskRef != nil && tr.Spec.TaskRef.Name != "" && tr.Spec.TaskRef.Resolver == "":
		uri := objectURI(tr.Namespace, "tasks", tr.Spec.TaskRef.Name)
		if rd := localDefinition(uri, spec); rd != nil {
			o.definition(&u, depName, tenancy.Definition{Kind: "Task"}, rd, "Task "+tr.Spec.TaskRef.Name+" of namespace "+tr.Namespace, nil)
		}
	case tr.Spec.TaskRef == nil && spec != nil:
		if rd := localDefinition("", spec); rd != nil {
			label := "the inline Task of TaskRun " + tr.Name
			o.definition(&u, depName, tenancy.Definition{Kind: "Task"}, rd, label, pipelineTrust)
		}
	default:
		// A remote reference Tekton recorded no source for.
		u.untrusted = append(u.untrusted, "the Task of TaskRun "+tr.Name+" (no recorded source)")
	}
	o.stepActions(&u, tr, spec)
	readTaskRun(&u, tr)
	if taskTrusted && tr.IsSuccessful() {
		if f, ok := o.Policy.Fetcher(o.Tenant, taskDef); ok {
			u.fetched = fetched(tr, f, taskDef, &u)
		}
	}
	return u
}

// stepActions records the StepActions a TaskRun's steps referenced: remote
// ones from the step states' refSource, local ones (by name, from the
// run's namespace) from the Task spec.
func (o Options) stepActions(u *unit, tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec) {
	remote := map[string]bool{}
	for _, s := range tr.Status.Steps {
		if d, rd, ok := remoteDefinition("StepAction", refSource(s.Provenance)); ok {
			remote[s.Name] = true
			o.definition(u, depStepAction, d, rd, "StepAction "+rd.Uri, nil)
		}
	}
	if spec == nil {
		return
	}
	for _, s := range spec.Steps {
		if s.Ref == nil || s.Ref.Resolver != "" || s.Ref.Name == "" || remote[s.Name] {
			continue
		}
		rd := &v1.ResourceDescriptor{Uri: objectURI(tr.Namespace, "stepactions", s.Ref.Name)}
		o.definition(u, depStepAction, tenancy.Definition{Kind: "StepAction"}, rd, "StepAction "+s.Ref.Name+" of namespace "+tr.Namespace, nil)
	}
}

func refSource(p *pipelinev1.Provenance) *pipelinev1.RefSource {
	if p == nil {
		return nil
	}
	return p.RefSource
}

// fetched reads what a trusted source fetcher reported in its results.
func fetched(tr *pipelinev1.TaskRun, f *tenancy.SourceFetcher, d tenancy.Definition, u *unit) *observation {
	var url, commit string
	for _, r := range tr.Status.Results {
		switch r.Name {
		case f.URLResult:
			url = strings.TrimSpace(r.Value.StringVal)
		case f.CommitResult:
			commit = strings.TrimSpace(r.Value.StringVal)
		}
	}
	src, err := tenancy.ParseSource(url)
	if err != nil || checkHex(commit, 40) != nil {
		u.warnings = append(u.warnings, fmt.Sprintf("trusted source fetcher TaskRun %s: results %s %s and %s %s: want an https git URL and a 40-digit commit", tr.Name, f.URLResult, quote(url), f.CommitResult, quote(commit)))
		return nil
	}
	pin := ""
	for _, alg := range slices.Sorted(maps.Keys(d.Digest)) {
		pin = "@" + alg + ":" + d.Digest[alg]
		break
	}
	return &observation{src: src, commit: commit, reason: fmt.Sprintf("results %s and %s of TaskRun %s from trusted Task %s (%s%s)", f.URLResult, f.CommitResult, tr.Name, d.EntryPoint, definitionURI(d.URI), pin)}
}

// claim is a git source one producer's type hints name.
type claim struct {
	uri    string // as the hint gave it
	src    tenancy.Source
	ok     bool // src was read
	commit string
	origin string // the producer, for reasons
}

// decision is what the policy makes of a run's units: the source and
// whether it is verified, the level vouched for, and the dependencies
// naming sources and inputs.
type decision struct {
	source    *SourceRecord
	maxLevel  int
	materials []*v1.ResourceDescriptor
	warnings  []string
}

// isGitInput reports whether an input names a git source: a git+ URI, or
// a sha1 digest (a commit). Such an input is a source claim, never an
// inputs/result of its own.
func isGitInput(rd *v1.ResourceDescriptor) bool {
	_, sha1 := rd.GetDigest()["sha1"]
	return strings.HasPrefix(rd.GetUri(), "git+") || sha1
}

// claims lists the git sources the producers of units name, each with its
// producer: a run's CHAINS-GIT_URL is paired only with its own
// CHAINS-GIT_COMMIT.
func claims(units []unit) []claim {
	var out []claim
	for _, u := range units {
		for _, p := range u.producers {
			var ins []input
			if p.hints.Git != nil {
				ins = append(ins, input{p.hints.Git, p.hints.GitURL})
			}
			for _, rd := range p.hints.Inputs {
				ins = append(ins, input{rd, rd.GetUri()})
			}
			for _, in := range ins {
				if isGitInput(in.rd) {
					c := claim{uri: in.rd.GetUri(), commit: in.rd.GetDigest()["sha1"], origin: p.origin}
					c.src, c.ok = parseClaim(in.raw)
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// decide merges a run's units: which source it built and whether that is
// verified, the level the controller vouches for, and the source and input
// dependencies. A claim the namespace may not make refuses the run (an
// error wrapping ErrRefused) or, if its tenant says so, is signed
// unverified. Sources are never pooled across runs: each fetch and each
// claim keeps the run that made it, and runs that disagree leave the
// source unverified, with a warning, rather than one of them picked.
func (o Options) decide(namespace string, units []unit) (*decision, error) {
	var obs []observation
	for _, u := range units {
		if u.fetched != nil && !slices.ContainsFunc(obs, func(x observation) bool { return sameSource(x.src, x.commit, u.fetched.src, u.fetched.commit) }) {
			obs = append(obs, *u.fetched)
		}
	}
	cs := claims(units)
	t := o.Tenant
	d := &decision{maxLevel: t.Level()}

	// Any source the namespace may not claim, fetched or hinted.
	var forbidden *SourceRecord
	for _, x := range obs {
		if !t.MayClaim(x.src) {
			forbidden = &SourceRecord{URI: x.src.URI, Digest: map[string]string{"sha1": x.commit}, Reason: o.forbidden(namespace, x.src, "fetched by a trusted Task: "+x.reason)}
			break
		}
	}
	for _, c := range cs {
		if forbidden == nil && c.ok && !t.MayClaim(c.src) {
			forbidden = &SourceRecord{URI: c.src.URI, Digest: sha1Digest(c.commit), Reason: o.forbidden(namespace, c.src, "claimed by the "+c.origin+" (CHAINS-GIT_URL or *ARTIFACT_INPUTS)")}
		}
	}
	// matches reports whether a claim names the fetched source x.
	matches := func(c claim, x observation) bool { return c.ok && sameSource(c.src, c.commit, x.src, x.commit) }
	switch {
	case forbidden != nil:
		if t.Refuses() {
			return nil, fmt.Errorf("%w: %s", ErrRefused, forbidden.Reason)
		}
		d.source = forbidden
	case len(obs) > 0:
		// The claims must name fetched sources only, and single out one
		// when several were fetched.
		var picked []observation
		var stray []claim
		for _, c := range cs {
			i := slices.IndexFunc(obs, func(x observation) bool { return matches(c, x) })
			switch {
			case i < 0:
				stray = append(stray, c)
			case !slices.ContainsFunc(picked, func(x observation) bool { return sameSource(x.src, x.commit, obs[i].src, obs[i].commit) }):
				picked = append(picked, obs[i])
			}
		}
		x := obs[0]
		if len(picked) == 1 {
			x = picked[0]
		}
		rec := &SourceRecord{URI: x.src.URI, Digest: map[string]string{"sha1": x.commit}, Reason: x.reason}
		switch {
		case len(stray) > 0:
			rec.Reason = fmt.Sprintf("trusted Tasks fetched %s but the %s claims %s", describeObservations(obs), stray[0].origin, describeClaim(stray[0]))
			d.warnings = append(d.warnings, "source unverified: "+rec.Reason)
		case len(obs) == 1:
			rec.Verified = true
		case len(picked) == 1:
			rec.Verified = true
			rec.Reason += fmt.Sprintf(", singled out among %d fetched sources by the %s", len(obs), originsOf(cs))
		case len(picked) > 1:
			rec.Reason = fmt.Sprintf("trusted Tasks fetched %s and the runs' type hints claim %d of them", describeObservations(obs), len(picked))
			d.warnings = append(d.warnings, "source unverified: "+rec.Reason)
		default:
			rec.Reason = fmt.Sprintf("trusted Tasks fetched %s and the runs' type hints single out none", describeObservations(obs))
		}
		d.source = rec
	case len(cs) > 0:
		c := cs[0]
		uri, why := c.uri, "claimed by the "+c.origin+" (CHAINS-GIT_URL or *ARTIFACT_INPUTS), not reported by a trusted source fetcher"
		if c.ok {
			uri = c.src.URI
		} else {
			why = "claimed by the " + c.origin + " but not an https git repository URL"
		}
		for _, other := range cs[1:] {
			if !(c.ok && other.ok && sameSource(c.src, c.commit, other.src, other.commit)) && !(other.uri == c.uri && other.commit == c.commit) {
				why += fmt.Sprintf("; the %s claims %s instead", other.origin, describeClaim(other))
				d.warnings = append(d.warnings, fmt.Sprintf("runs claim different sources: the %s claims %s, the %s claims %s", c.origin, describeClaim(c), other.origin, describeClaim(other)))
				break
			}
		}
		d.source = &SourceRecord{URI: uri, Digest: sha1Digest(c.commit), Reason: why}
	}
	if d.source != nil && !d.source.Verified {
		d.maxLevel = min(d.maxLevel, t.UnverifiedLevel())
	}
	for _, u := range units {
		if len(u.untrusted) > 0 {
			d.maxLevel = min(d.maxLevel, t.UntrustedLevel())
		}
	}

	// The verified source is Chains' inputs/result; other git claims are
	// kept under a name no verifier reads as the source.
	var verified *v1.ResourceDescriptor
	var verifiedSrc tenancy.Source
	if d.source != nil && d.source.Verified {
		verifiedSrc = mustSource(d.source.URI)
		verified = &v1.ResourceDescriptor{Name: depInput, Uri: d.source.URI, Digest: maps.Clone(d.source.Digest)}
	}
	listed := false
	for _, in := range inputsInChainsOrder(units) {
		rd := in.rd
		if !isGitInput(rd) {
			d.materials = append(d.materials, &v1.ResourceDescriptor{Name: depInput, Uri: rd.GetUri(), Digest: maps.Clone(rd.GetDigest())})
			continue
		}
		if verified != nil {
			if src, ok := parseClaim(in.raw); ok && sameSource(src, rd.GetDigest()["sha1"], verifiedSrc, d.source.Digest["sha1"]) {
				// The claim of the verified source: listed once, where
				// Chains lists the claim.
				if !listed {
					d.materials = append(d.materials, verified)
					listed = true
				}
				continue
			}
		}
		claimed := &v1.ResourceDescriptor{Name: depClaimed, Uri: rd.GetUri(), Digest: maps.Clone(rd.GetDigest())}
		claimed.Annotations, _ = structpb.NewStruct(map[string]any{AnnotationVerified: false})
		d.materials = append(d.materials, claimed)
	}
	if verified != nil && !listed {
		d.materials = append([]*v1.ResourceDescriptor{verified}, d.materials...)
	}
	return d, nil
}

// inputsInChainsOrder lists the git sources and inputs the producers of
// units name, in the order Chains lists them: of each TaskRun's steps (git
// sources, then inputs), a PipelineRun's own inputs, each TaskRun's (git
// source, then inputs), and a PipelineRun's own git source.
func inputsInChainsOrder(units []unit) []input {
	var out []input
	git := func(p producer) {
		if p.hints.Git != nil {
			out = append(out, input{p.hints.Git, p.hints.GitURL})
		}
	}
	inputs := func(p producer) {
		for _, rd := range p.hints.Inputs {
			out = append(out, input{rd, rd.GetUri()})
		}
	}
	each := func(kind producerKind, fns ...func(producer)) {
		for _, u := range units {
			for _, fn := range fns {
				for _, p := range u.producers {
					if p.kind == kind {
						fn(p)
					}
				}
			}
		}
	}
	each(producerStep, git, inputs)
	each(producerPipelineRun, inputs)
	for _, u := range units {
		for _, p := range u.producers {
			if p.kind == producerTaskRun {
				git(p)
				inputs(p)
			}
		}
	}
	each(producerPipelineRun, git)
	return out
}

// input is a git source or input a producer names: its dependency, and the
// URL the tenancy policy reads.
type input struct {
	rd  *v1.ResourceDescriptor
	raw string
}

func describeObservations(obs []observation) string {
	var names []string
	for _, x := range obs {
		names = append(names, x.src.Repo+"@"+x.commit)
	}
	return strings.Join(names, ", ")
}

func describeClaim(c claim) string {
	if c.ok {
		return c.src.Repo + "@" + c.commit
	}
	return quote(c.uri) + "@" + quote(c.commit)
}

func originsOf(cs []claim) string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.origin) {
			out = append(out, c.origin)
		}
	}
	return strings.Join(out, " and the ")
}

func (o Options) forbidden(namespace string, s tenancy.Source, how string) string {
	return fmt.Sprintf("namespace %s (tenant %s) may not claim source %s (%s); tenancy policy %s allows it %s",
		namespace, o.Tenant.Name, s.Repo, how, o.Policy.Name(), allowed(o.Tenant))
}

func allowed(t *tenancy.Tenant) string {
	if len(t.Sources) == 0 {
		return "no sources"
	}
	return strings.Join(t.Sources, ", ")
}

func parseClaim(uri string) (tenancy.Source, bool) {
	s, err := tenancy.ParseSource(uri)
	return s, err == nil
}

func mustSource(uri string) tenancy.Source {
	s, _ := tenancy.ParseSource(uri)
	return s
}

func sameSource(a tenancy.Source, ac string, b tenancy.Source, bc string) bool {
	return strings.EqualFold(a.Repo, b.Repo) && ac == bc
}

func sha1Digest(commit string) map[string]string {
	if checkHex(commit, 40) != nil {
		return nil
	}
	return map[string]string{"sha1": commit}
}

func serviceAccount(sa string) string {
	if sa == "" {
		return "default" // Tekton's default-service-account
	}
	return sa
}

// factoryRecord is the Factory record of a run.
func (o Options) factoryRecord(kind string, namespace, name, uid, sa string, d *decision) Factory {
	return Factory{
		Namespace: namespace, ServiceAccount: serviceAccount(sa),
		RunKind: kind, RunName: name, RunUID: uid,
		TenancyPolicy: PolicyReference{Name: o.Policy.Name(), Digest: map[string]string{"sha256": o.Policy.Digest()}},
		Source:        d.source,
		MaxLevel:      d.maxLevel,
	}
}

// pipelineUnit reads a PipelineRun's Pipeline definition and whether the
// policy trusts it (Tasks written inline in a trusted Pipeline are as
// trusted as the Pipeline).
func (o Options) pipelineUnit(pr *pipelinev1.PipelineRun) (unit, bool) {
	var u unit
	spec := pr.Status.PipelineSpec
	if spec == nil {
		spec = pr.Spec.PipelineSpec
	}
	switch d, rd, ok := remoteDefinition("Pipeline", refSource(pr.Status.Provenance)); {
	case ok:
		return u, o.definition(&u, depPipeline, d, rd, "Pipeline "+rd.Uri, nil)
	case pr.Spec.PipelineRef != nil && pr.Spec.PipelineRef.Name != "" && pr.Spec.PipelineRef.Resolver == "":
		if rd := localDefinition(objectURI(pr.Namespace, "pipelines", pr.Spec.PipelineRef.Name), spec); rd != nil {
			return u, o.definition(&u, depPipeline, tenancy.Definition{Kind: "Pipeline"}, rd, "Pipeline "+pr.Spec.PipelineRef.Name+" of namespace "+pr.Namespace, nil)
		}
	case pr.Spec.PipelineRef == nil && spec != nil:
		if rd := localDefinition("", spec); rd != nil {
			return u, o.definition(&u, depPipeline, tenancy.Definition{Kind: "Pipeline"}, rd, "the inline Pipeline of PipelineRun "+pr.Name, nil)
		}
	}
	u.untrusted = append(u.untrusted, "the Pipeline of PipelineRun "+pr.Name+" (no recorded source)")
	return u, false
}

// uninspected names the children of a PipelineRun whose definitions
// cannot be read: runs of other kinds (custom tasks, child PipelineRuns)
// and TaskRuns that are gone. What they ran is unknown, so it is not
// trusted.
func uninspected(pr *pipelinev1.PipelineRun, taskRuns []*pipelinev1.TaskRun) []string {
	var out []string
	for _, ref := range pr.Status.ChildReferences {
		switch {
		case ref.Kind != "TaskRun":
			out = append(out, ref.Kind+" "+ref.Name+" (not inspected)")
		case !slices.ContainsFunc(taskRuns, func(tr *pipelinev1.TaskRun) bool { return tr.Name == ref.Name }):
			out = append(out, "TaskRun "+ref.Name+" (not found)")
		}
	}
	return out
}
