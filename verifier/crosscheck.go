package verifier

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// The cross-checks below compare every provenance claim that an attacker
// who controls the build's own steps could forge with what the certificate
// records, since the certificate's extensions come from the OIDC token the
// platform issued, not from the build. A claim the certificate cannot vouch
// for is either not used by the checks that follow or rejected.

// mismatch reports that a provenance field disagrees with the certificate.
func mismatch(field, cert, payload string) error {
	return fail(CheckPayloadMatchesCertificate, field+" "+orNone(cert)+" (certificate)", orNone(payload)+" (provenance)", ErrPayloadCertificateMismatch)
}

// equalCert compares a payload value with a certificate value; an empty
// certificate value cannot vouch for a non-empty payload value.
func equalCert(field, cert, payload string) error {
	if cert != payload {
		return mismatch(field, cert, payload)
	}
	return nil
}

// equalCertIfPresent compares only when the payload states the field.
func equalCertIfPresent(field, cert string, payload any, present bool) error {
	if !present {
		return nil
	}
	return equalCert(field, cert, stringify(payload))
}

// normalizeCert fills the current Fulcio extensions from their deprecated
// GitHub-specific predecessors when a certificate predates them, and
// rejects a certificate whose old and new values disagree.
func normalizeCert(c *certFields) error {
	pairs := []struct {
		name     string
		cur      *string
		old      string
		transfer func(string) string
	}{
		{"sourceRepositoryURI", &c.SourceRepositoryURI, c.GithubWorkflowRepository, func(s string) string { return "https://github.com/" + s }},
		{"sourceRepositoryDigest", &c.SourceRepositoryDigest, c.GithubWorkflowSHA, nil},
		{"sourceRepositoryRef", &c.SourceRepositoryRef, c.GithubWorkflowRef, nil},
		{"buildTrigger", &c.BuildTrigger, c.GithubWorkflowTrigger, nil},
	}
	for _, p := range pairs {
		if p.old == "" {
			continue
		}
		old := p.old
		if p.transfer != nil {
			old = p.transfer(old)
		}
		if *p.cur == "" {
			*p.cur = old
		} else if *p.cur != old {
			return fail(CheckIdentity, p.name+" "+*p.cur, old+" (deprecated extension)", ErrCertificateIdentity)
		}
	}
	if c.BuildSignerURI == "" && c.Issuer == GitHubIssuer {
		c.BuildSignerURI = c.SubjectAlternativeName
	}
	return nil
}

// crossCheck compares the provenance with the signer. It returns the names
// of the external parameters it has accounted for. Only a GitHub Actions
// certificate can vouch for GitHub's build types: any other signer must be
// the builder it names.
func crossCheck(st *statement, s *signer) (known map[string]bool, err error) {
	c := &s.cert
	switch {
	case s.kind != signerGitHub:
		// Checked below.
	case st.v1 != nil && st.v1.BuildDefinition.BuildType == BuildTypeGitHubWorkflow:
		return crossCheckGitHubWorkflow(st.v1, c, false)
	case st.v1 != nil && st.v1.BuildDefinition.BuildType == BuildTypeGitHubWorkflowV0:
		return crossCheckGitHubWorkflow(st.v1, c, true)
	case st.v1 != nil && st.v1.BuildDefinition.BuildType == BuildTypeDelegator:
		return crossCheckDelegator(st.v1, c)
	case st.v1 != nil && st.v1.BuildDefinition.BuildType == BuildTypeContainerBased:
		return crossCheckContainerBased(st.v1, c)
	case st.v02 != nil && st.v02.BuildType == BuildTypeDelegator:
		return crossCheckDelegatorV02(st.v02, c)
	case st.v02 != nil && (st.v02.BuildType == BuildTypeGeneratorGen || st.v02.BuildType == BuildTypeGeneratorGo || st.v02.BuildType == BuildTypeGeneratorCont):
		return nil, crossCheckGeneratorV02(st.v02, s, false)
	case st.v02 != nil && st.v02.BuildType == BuildTypeNpmCLIv2:
		return nil, crossCheckGeneratorV02(st.v02, s, true)
	}
	// Any other build type or signer: the signer must be the builder, and
	// no source claim of the provenance is used (the source checks read the
	// certificate, or for a SPIFFE signer the factory's record).
	id := st.builderID()
	if id == "" || (id != c.BuildSignerURI && id != c.SubjectAlternativeName) {
		return nil, mismatch("builder.id for buildType "+st.buildType(), c.BuildSignerURI, id)
	}
	return nil, nil
}

// crossCheckGitHubWorkflow checks GitHub's own provenance
// (actions/attest-build-provenance, buildType .../workflow/v1). In GitHub's
// first build type (runnerBuilder), builder.id names the runner the
// certificate's runner environment says; the signing workflow is known from
// the certificate alone.
func crossCheckGitHubWorkflow(p *predicateV1, c *certFields, runnerBuilder bool) (map[string]bool, error) {
	if runnerBuilder {
		want := runnerBuilderID(c.RunnerEnvironment)
		if err := equalCert("builder.id (the runner, by runner environment "+orNone(c.RunnerEnvironment)+")", want, p.RunDetails.Builder.ID); err != nil {
			return nil, err
		}
	} else if err := equalCert("builder.id", c.BuildSignerURI, p.RunDetails.Builder.ID); err != nil {
		return nil, err
	}
	wf, ok := p.BuildDefinition.ExternalParameters["workflow"].(map[string]any)
	if !ok {
		return nil, mismatch("externalParameters.workflow", c.BuildConfigURI, "missing")
	}
	repo, ref, path := stringify(wf["repository"]), stringify(wf["ref"]), stringify(wf["path"])
	if err := equalCert("externalParameters.workflow.repository", c.SourceRepositoryURI, repo); err != nil {
		return nil, err
	}
	if err := equalCert("externalParameters.workflow.ref", c.SourceRepositoryRef, ref); err != nil {
		return nil, err
	}
	if err := equalCert("externalParameters.workflow (build config)", c.BuildConfigURI, repo+"/"+path+"@"+ref); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(wf) {
		if k != "repository" && k != "ref" && k != "path" {
			return nil, mismatch("externalParameters.workflow."+k, "", "present")
		}
	}
	if err := checkSourceDependency(p.BuildDefinition.ResolvedDependencies, c, "gitCommit"); err != nil {
		return nil, err
	}
	if id := p.RunDetails.Metadata.InvocationID; id != "" {
		if err := equalCert("runDetails.metadata.invocationId", c.RunInvocationURI, id); err != nil {
			return nil, err
		}
	}
	gh, _ := p.BuildDefinition.InternalParameters["github"].(map[string]any)
	for _, f := range []certField{
		{"event_name", c.BuildTrigger},
		{"repository_id", c.SourceRepositoryIdentifier},
		{"repository_owner_id", c.SourceRepositoryOwnerIdentifier},
		{"runner_environment", c.RunnerEnvironment},
	} {
		v, present := gh[f.name]
		if err := equalCertIfPresent("internalParameters.github."+f.name, f.cert, v, present); err != nil {
			return nil, err
		}
	}
	return map[string]bool{"workflow": true}, nil
}

// runnerBuilderID is the builder.id GitHub's first build type gives a
// runner environment; a certificate that predates the extension was issued
// for a GitHub-hosted runner only if it says so, so it gets the hosted id
// only when the environment is github-hosted or unrecorded.
func runnerBuilderID(env string) string {
	if env == "self-hosted" {
		return "https://github.com/actions/runner/self-hosted"
	}
	return "https://github.com/actions/runner/github-hosted"
}

// crossCheckDelegator checks slsa-github-generator's BYOB provenance: the
// certificate must be a delegator's at a release tag (the delegator, not
// the certificate, vouches for the TRW that builder.id names, and it must
// be at a release tag too), and every GitHub fact the delegator recorded
// must be the certificate's.
func crossCheckDelegator(p *predicateV1, c *certFields) (map[string]bool, error) {
	if !delegatorRE().MatchString(c.BuildSignerURI) {
		return nil, mismatch("signer of buildType "+BuildTypeDelegator, "an slsa-github-generator delegator at a release tag", c.BuildSignerURI)
	}
	trw, ref, ok := strings.Cut(p.RunDetails.Builder.ID, "@")
	if !ok || !strings.HasPrefix(trw, "https://github.com/") || !isReleaseTag(ref) {
		return nil, mismatch("builder.id (the trusted reusable workflow)", "https://github.com/OWNER/REPO/PATH@refs/tags/vX.Y.Z", p.RunDetails.Builder.ID)
	}
	if err := checkSourceDependency(p.BuildDefinition.ResolvedDependencies, c, "gitCommit"); err != nil {
		return nil, err
	}
	if id := p.RunDetails.Metadata.InvocationID; id != "" {
		if err := equalCert("runDetails.metadata.invocationId", c.RunInvocationURI, id); err != nil {
			return nil, err
		}
	}
	if err := checkUpperGitHubEnv("internalParameters.", p.BuildDefinition.InternalParameters, c); err != nil {
		return nil, err
	}
	return map[string]bool{"inputs": true, "vars": true}, nil
}

// delegatorRE is compiled on first use: a process that verifies nothing
// (hallmark version) does not pay for it.
var delegatorRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + delegatorWorkflows + `$`) })

// checkUpperGitHubEnv compares the GITHUB_* variables a builder recorded
// with the certificate.
func checkUpperGitHubEnv(prefix string, env map[string]any, c *certFields) error {
	runID, attempt := runOf(c.RunInvocationURI)
	for _, f := range []certField{
		{"GITHUB_REPOSITORY", strings.TrimPrefix(c.SourceRepositoryURI, "https://github.com/")},
		{"GITHUB_REF", c.SourceRepositoryRef},
		{"GITHUB_SHA", c.SourceRepositoryDigest},
		{"GITHUB_EVENT_NAME", c.BuildTrigger},
		{"GITHUB_REPOSITORY_ID", c.SourceRepositoryIdentifier},
		{"GITHUB_REPOSITORY_OWNER_ID", c.SourceRepositoryOwnerIdentifier},
		{"GITHUB_RUN_ID", runID},
		{"GITHUB_RUN_ATTEMPT", attempt},
		{"GITHUB_WORKFLOW_REF", strings.TrimPrefix(c.BuildConfigURI, "https://github.com/")},
	} {
		v, present := env[f.name]
		if err := equalCertIfPresent(prefix+f.name, f.cert, v, present); err != nil {
			return err
		}
	}
	return nil
}

// certField pairs a provenance field with the certificate's value, in a
// fixed order so that the first disagreement reported never varies.
type certField struct{ name, cert string }

// checkSourceDependency checks that the provenance names exactly one
// resolved dependency, the source at the certificate's ref and commit:
// another dependency would be a claim nothing vouches for.
func checkSourceDependency(deps []resourceDescriptor, c *certFields, digestKey string) error {
	want := "git+" + c.SourceRepositoryURI + "@" + c.SourceRepositoryRef
	if len(deps) == 0 {
		return mismatch("resolvedDependencies[0].uri", want, "missing")
	}
	if len(deps) > 1 {
		return mismatch("resolvedDependencies", "the source only", fmt.Sprintf("%d entries", len(deps)))
	}
	if err := equalCert("resolvedDependencies[0].uri", want, deps[0].URI); err != nil {
		return err
	}
	if err := equalCert("resolvedDependencies[0].digest."+digestKey, c.SourceRepositoryDigest, deps[0].Digest[digestKey]); err != nil {
		return err
	}
	return nil
}

// crossCheckGeneratorV02 checks slsa-github-generator's v0.2 provenance
// (generic, Go and container generators) and, with npm set, the npm CLI's.
func crossCheckGeneratorV02(p *predicateV02, s *signer, npm bool) error {
	c := &s.cert
	// vouched compares a claim the certificate may predate: a certificate
	// issued before Fulcio recorded it leaves the claim unverified.
	vouched := func(field, cert, payload string, present bool) error {
		if !present {
			return nil
		}
		if cert == "" && s.preExtensions {
			s.unverified = append(s.unverified, field)
			return nil
		}
		return equalCert(field, cert, payload)
	}
	if npm {
		if id := p.Builder.ID; id != "https://github.com/actions/runner" && id != "https://github.com/actions/runner/github-hosted" {
			return mismatch("builder.id (npm CLI)", "https://github.com/actions/runner", id)
		}
		if c.RunnerEnvironment != "" && c.RunnerEnvironment != "github-hosted" {
			return mismatch("runnerEnvironment (npm CLI)", c.RunnerEnvironment, "github-hosted")
		}
	} else if err := equalCert("builder.id", c.BuildSignerURI, p.Builder.ID); err != nil {
		return err
	}
	cs := p.Invocation.ConfigSource
	wantURI := "git+" + c.SourceRepositoryURI + "@" + c.SourceRepositoryRef
	if err := equalCert("invocation.configSource.uri", wantURI, cs.URI); err != nil {
		return err
	}
	if err := equalCert("invocation.configSource.digest.sha1", c.SourceRepositoryDigest, cs.Digest["sha1"]); err != nil {
		return err
	}
	if err := vouched("invocation.configSource.entryPoint", buildConfigPath(c), cs.EntryPoint, true); err != nil {
		return err
	}
	// The npm CLI runs inside the user's workflow, so nothing vouches for
	// extra materials; the generators add their own toolchain after the
	// source.
	if len(p.Materials) == 0 || (npm && len(p.Materials) != 1) {
		return mismatch("materials", "the source only", fmt.Sprintf("%d entries", len(p.Materials)))
	}
	if err := equalCert("materials[0].uri", wantURI, p.Materials[0].URI); err != nil {
		return err
	}
	if err := equalCert("materials[0].digest.sha1", c.SourceRepositoryDigest, p.Materials[0].Digest["sha1"]); err != nil {
		return err
	}
	runID, attempt := runOf(c.RunInvocationURI)
	if id := p.Metadata.BuildInvocationID; id != "" {
		want := runID + "-" + attempt
		if runID == "" {
			want = ""
		}
		if err := vouched("metadata.buildInvocationID", want, id, true); err != nil {
			return err
		}
	}
	if p.Metadata.BuildStartedOn != "" || p.Metadata.BuildFinishedOn != "" {
		return mismatch("metadata.buildStartedOn/buildFinishedOn", "", "present")
	}
	env := p.Invocation.Environment
	key := func(k string) string {
		if npm {
			return strings.ToUpper(k)
		}
		return k
	}
	sha := "github_sha1"
	if npm {
		sha = "GITHUB_SHA"
	}
	for _, f := range []certField{
		{key("github_ref"), c.SourceRepositoryRef},
		{sha, c.SourceRepositoryDigest},
		{key("github_event_name"), c.BuildTrigger},
		{key("github_repository_id"), c.SourceRepositoryIdentifier},
		{key("github_repository_owner_id"), c.SourceRepositoryOwnerIdentifier},
		{key("github_run_id"), runID},
		{key("github_run_attempt"), attempt},
	} {
		v, present := env[f.name]
		if err := vouched("invocation.environment."+f.name, f.cert, stringify(v), present); err != nil {
			return err
		}
	}
	if npm {
		if v, ok := env["GITHUB_WORKFLOW_REF"]; ok {
			if err := equalCert("invocation.environment.GITHUB_WORKFLOW_REF", strings.TrimPrefix(c.BuildConfigURI, "https://github.com/"), stringify(v)); err != nil {
				return err
			}
		}
		if v, ok := env["GITHUB_REPOSITORY"]; ok {
			if err := equalCert("invocation.environment.GITHUB_REPOSITORY", strings.TrimPrefix(c.SourceRepositoryURI, "https://github.com/"), stringify(v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// crossCheckContainerBased checks slsa-github-generator's container-based
// builder's v1 provenance.
func crossCheckContainerBased(p *predicateV1, c *certFields) (map[string]bool, error) {
	if err := equalCert("builder.id", c.BuildSignerURI, p.RunDetails.Builder.ID); err != nil {
		return nil, err
	}
	src, _ := p.BuildDefinition.ExternalParameters["source"].(map[string]any)
	wantURI := "git+" + c.SourceRepositoryURI + "@" + c.SourceRepositoryRef
	if err := equalCert("externalParameters.source.uri", wantURI, stringify(src["uri"])); err != nil {
		return nil, err
	}
	dg, _ := src["digest"].(map[string]any)
	if err := equalCert("externalParameters.source.digest.sha1", c.SourceRepositoryDigest, stringify(dg["sha1"])); err != nil {
		return nil, err
	}
	deps := p.BuildDefinition.ResolvedDependencies
	if len(deps) == 0 || deps[0].URI != wantURI || deps[0].Digest["sha1"] != c.SourceRepositoryDigest {
		return nil, mismatch("resolvedDependencies[0]", wantURI, fmt.Sprint(deps))
	}
	if id := p.RunDetails.Metadata.InvocationID; id != "" {
		if err := equalCert("runDetails.metadata.invocationId", c.RunInvocationURI, id); err != nil {
			return nil, err
		}
	}
	if err := checkUpperGitHubEnv("internalParameters.", p.BuildDefinition.InternalParameters, c); err != nil {
		return nil, err
	}
	return map[string]bool{"source": true}, nil
}

// buildConfigPath returns ".github/workflows/x.yml" from the certificate's
// build config URI "https://github.com/OWNER/REPO/.github/workflows/x.yml@ref".
func buildConfigPath(c *certFields) string {
	uri, _, _ := strings.Cut(c.BuildConfigURI, "@")
	return strings.TrimPrefix(strings.TrimPrefix(uri, c.SourceRepositoryURI), "/")
}

// runOf returns the run id and attempt of a run invocation URI
// "https://github.com/OWNER/REPO/actions/runs/ID/attempts/N".
func runOf(uri string) (id, attempt string) {
	parts := strings.Split(uri, "/")
	n := len(parts)
	if n < 4 || parts[n-4] != "runs" || parts[n-2] != "attempts" {
		return "", ""
	}
	return parts[n-3], parts[n-1]
}

// stringify renders a JSON scalar as its text: strings as themselves,
// numbers and booleans as written; anything else as JSON.
func stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
