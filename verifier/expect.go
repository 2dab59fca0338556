package verifier

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
)

// checkSubject checks that one of the artifact's digests names a subject.
// A subject matches when it lists at least one of the artifact's sound
// digests and every sound digest it lists for an algorithm the artifact
// was hashed with agrees: a subject whose sha512 contradicts its sha256 is
// no one artifact. Weak digests (sha1, md5) never match.
func checkSubject(st *statement, digests []Digest) ([]string, error) {
	var names []string
	weakOnly := false
	for _, s := range st.Subject {
		matched, contradicted, sound := false, false, false
		for _, d := range digests {
			h, ok := s.Digest[d.Algorithm]
			if !ok {
				continue
			}
			if h == d.Hex {
				matched = true
			} else {
				contradicted = true
			}
		}
		for alg := range s.Digest {
			if _, ok := soundDigests[alg]; ok {
				sound = true
			}
		}
		if !sound {
			weakOnly = true
		}
		if matched && !contradicted {
			names = append(names, s.Name)
		}
	}
	if len(names) > 0 {
		return names, nil
	}
	var got []string
	for i, s := range st.Subject {
		if i == 8 {
			got = append(got, "…")
			break
		}
		for _, alg := range sortedKeys(s.Digest) {
			got = append(got, alg+":"+s.Digest[alg])
		}
	}
	var want []string
	for _, d := range digests {
		want = append(want, d.String())
	}
	err := ErrSubjectMismatch
	if weakOnly {
		err = fmt.Errorf("%w: %w: a subject names only sha1 or md5 digests, which do not identify an artifact", ErrSubjectMismatch, ErrWeakDigest)
	}
	return nil, fail(CheckSubject, "one of "+strings.Join(want, ", "), strings.Join(got, ", "), err)
}

// checkSource compares the certificate's source repository with the policy.
func (p *Policy) checkSource(c *certFields) error {
	want := p.compiled.source
	if want == "" {
		return nil
	}
	if c.SourceRepositoryURI != want {
		return fail(CheckSource, want, c.SourceRepositoryURI, ErrSourceMismatch)
	}
	return nil
}

// checkRef compares the certificate's source ref with the policy's branch,
// tag or versioned tag, as slsa-verifier does. level is the level the
// builder was granted.
func (p *Policy) checkRef(st *statement, c *certFields, level int) error {
	ref := c.SourceRepositoryRef
	if p.SourceBranch != "" {
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		if !ok {
			// A tag push: the branch the tag was pushed from, which no
			// certificate records. Only a trusted level 3 generator's
			// record of it counts: below that, the build's own steps
			// could have written it.
			base := ""
			if level == 3 {
				base = baseRefForTag(st)
			}
			branch, ok = strings.CutPrefix(base, "refs/heads/")
			if !ok {
				return fail(CheckRef, "branch "+p.SourceBranch, ref, ErrRefKind).
					with("this build is of a tag; check the tag with --source-tag or --source-versioned-tag")
			}
		}
		if branch != p.SourceBranch {
			return fail(CheckRef, "branch "+p.SourceBranch, "branch "+branch, ErrBranchMismatch)
		}
	}
	if p.SourceTag != "" || p.SourceVersionedTag != "" {
		tag, ok := strings.CutPrefix(ref, "refs/tags/")
		want := p.SourceTag + p.SourceVersionedTag
		if !ok || tag == "" {
			return fail(CheckRef, "tag "+want, ref, ErrRefKind)
		}
		if p.SourceTag != "" && tag != p.SourceTag {
			return fail(CheckRef, "tag "+p.SourceTag, "tag "+tag, ErrTagMismatch)
		}
		if p.SourceVersionedTag != "" {
			if err := matchVersionedTag(tag, p.SourceVersionedTag); err != nil {
				return fail(CheckRef, "tag matching "+p.SourceVersionedTag, "tag "+tag, fmt.Errorf("%w: %w", ErrVersionedTagMismatch, err))
			}
		}
	}
	return nil
}

// baseRefForTag returns the branch a tag was pushed from, as
// slsa-github-generator's builders record it (its v0.2 generators in their
// environment, its BYOB and container-based builders in their internal
// parameters).
func baseRefForTag(st *statement) string {
	var env map[string]any
	var baseKey, eventKey, payloadKey string
	switch {
	case st.v02 != nil && (st.v02.BuildType == BuildTypeGeneratorGen || st.v02.BuildType == BuildTypeGeneratorGo || st.v02.BuildType == BuildTypeGeneratorCont):
		env, baseKey, eventKey, payloadKey = st.v02.Invocation.Environment, "github_base_ref", "github_event_name", "github_event_payload"
	case st.v1 != nil && (st.v1.BuildDefinition.BuildType == BuildTypeDelegator || st.v1.BuildDefinition.BuildType == BuildTypeContainerBased):
		env, baseKey, eventKey, payloadKey = st.v1.BuildDefinition.InternalParameters, "GITHUB_BASE_REF", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PAYLOAD"
	default:
		return ""
	}
	if b := stringify(env[baseKey]); b != "" {
		return b
	}
	if stringify(env[eventKey]) != "push" {
		return ""
	}
	payload, _ := env[payloadKey].(map[string]any)
	return stringify(payload["base_ref"])
}

// checkBuildType checks the build type against the policy.
func (p *Policy) checkBuildType(st *statement) error {
	if len(p.BuildTypes) == 0 || slices.Contains(p.BuildTypes, st.buildType()) {
		return nil
	}
	return fail(CheckBuildType, "one of "+strings.Join(p.BuildTypes, ", "), st.buildType(), ErrBuildType)
}

// externalParameters returns the provenance's external parameters: v1's
// buildDefinition.externalParameters, v0.2's invocation.parameters.
func externalParameters(st *statement) map[string]any {
	switch {
	case st.v1 != nil:
		return st.v1.BuildDefinition.ExternalParameters
	case st.v02 != nil:
		return st.v02.Invocation.Parameters
	}
	return nil
}

// checkExternalParameters checks expected values, workflow inputs and, for a
// strict policy, that no parameter is unaccounted for.
func (p *Policy) checkExternalParameters(st *statement, s *signer, known map[string]bool) error {
	c := &s.cert
	params := externalParameters(st)
	for _, k := range sortedKeys(p.ExternalParameters) {
		want, _ := json.Marshal(p.ExternalParameters[k])
		v, ok := params[k]
		if !ok {
			return fail(CheckExternalParameters, k+"="+string(want), k+" missing", ErrExternalParameter)
		}
		got, _ := json.Marshal(v)
		if string(got) != string(want) {
			return fail(CheckExternalParameters, k+"="+string(want), k+"="+string(got), ErrExternalParameter)
		}
	}
	inputs, inputsKey := workflowInputs(st, c)
	if len(p.WorkflowInputs) > 0 {
		if s.kind != signerGitHub {
			return notApplicable("workflow inputs (--build-workflow-input)", s)
		}
		// Only a workflow_dispatch run has inputs: the certificate's
		// trigger says which run this was, whatever the provenance lists.
		if c.BuildTrigger != "workflow_dispatch" {
			return fail(CheckExternalParameters, "workflow_dispatch inputs", "a build triggered by "+orNone(c.BuildTrigger)+", which has no workflow inputs", ErrWorkflowInput)
		}
		if inputs == nil {
			return fail(CheckExternalParameters, "workflow_dispatch inputs", "no inputs recorded", ErrWorkflowInput)
		}
		for _, k := range sortedKeys(p.WorkflowInputs) {
			want := p.WorkflowInputs[k]
			v, ok := inputs[k]
			if !ok {
				return fail(CheckExternalParameters, "input "+k+"="+want, "input "+k+" missing", ErrWorkflowInput)
			}
			if got := stringify(v); got != want {
				return fail(CheckExternalParameters, "input "+k+"="+want, "input "+k+"="+got, ErrWorkflowInput)
			}
		}
	}
	if !p.StrictExternalParameters {
		return nil
	}
	for _, k := range sortedKeys(params) {
		if known[k] {
			continue
		}
		if _, ok := p.ExternalParameters[k]; ok {
			continue
		}
		if k == inputsKey {
			for _, in := range sortedKeys(inputs) {
				if _, ok := p.WorkflowInputs[in]; !ok {
					return fail(CheckExternalParameters, "inputs among the policy's workflowInputs", "input "+in, ErrUnknownExternalParameter)
				}
			}
			continue
		}
		return fail(CheckExternalParameters, "parameters the policy expects", k, ErrUnknownExternalParameter)
	}
	return nil
}

// workflowInputs finds the workflow_dispatch inputs where slsa-verifier
// looks for them: GitHub's build types' externalParameters.inputs, v0.2
// invocation.parameters.inputs, else the recorded event payload's inputs
// (v0.2 environment github_event_payload; BYOB and container-based
// internalParameters GITHUB_EVENT_PAYLOAD: a BYOB provenance's
// externalParameters.inputs are its TRW's inputs, not the workflow's). The
// second result is the external parameter key holding them, if any.
func workflowInputs(st *statement, c *certFields) (map[string]any, string) {
	if st.v1 != nil && (st.buildType() == BuildTypeGitHubWorkflow || st.buildType() == BuildTypeGitHubWorkflowV0) {
		if in, ok := st.v1.BuildDefinition.ExternalParameters["inputs"].(map[string]any); ok {
			return in, "inputs"
		}
		return nil, ""
	}
	if st.v02 != nil && st.v02.BuildType != BuildTypeDelegator {
		if in, ok := st.v02.Invocation.Parameters["inputs"].(map[string]any); ok {
			return in, "inputs"
		}
	}
	if c.BuildTrigger != "workflow_dispatch" {
		return nil, ""
	}
	var payload map[string]any
	switch {
	case st.v02 != nil:
		payload, _ = st.v02.Invocation.Environment["github_event_payload"].(map[string]any)
	case st.v1 != nil:
		payload, _ = st.v1.BuildDefinition.InternalParameters["GITHUB_EVENT_PAYLOAD"].(map[string]any)
	}
	in, _ := payload["inputs"].(map[string]any)
	return in, ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// celEnv declares the one variable policy expressions see.
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("statement", cel.MapType(cel.StringType, cel.DynType)))
}

func compileExpression(env *cel.Env, src string) (cel.Program, error) {
	if len(src) > maxPolicyExpressionChars {
		return nil, fmt.Errorf("expression of %d characters, limit %d: %w", len(src), maxPolicyExpressionChars, ErrTooLarge)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("compiling %q: %w", src, iss.Err())
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("expression %q yields %s, want bool", src, ast.OutputType())
	}
	return env.Program(ast, cel.CostLimit(1_000_000), cel.InterruptCheckFrequency(100))
}

// checkExpressions evaluates every policy expression over the statement,
// as the checks before read it.
func (p *Policy) checkExpressions(st *statement) error {
	if len(p.compiled.expressions) == 0 {
		return nil
	}
	vars := map[string]any{"statement": st.celValue()}
	for i, prg := range p.compiled.expressions {
		src := p.compiled.exprSources[i]
		out, _, err := prg.Eval(vars)
		if err != nil {
			return fail(CheckPolicyExpression, src, "error", fmt.Errorf("%w: %w", ErrExpressionFalse, err))
		}
		if b, ok := out.Value().(bool); !ok || !b {
			return fail(CheckPolicyExpression, src, fmt.Sprint(out.Value()), ErrExpressionFalse)
		}
	}
	return nil
}
