package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/cel-go/cel"
	"golang.org/x/mod/semver"
	"sigs.k8s.io/yaml"
)

// GitHub and SLSA identifiers the default policy and the checks use.
const (
	GitHubIssuer            = "https://token.actions.githubusercontent.com"
	BuildTypeGitHubWorkflow = "https://actions.github.io/buildtypes/workflow/v1"
	// BuildTypeGitHubWorkflowV0 is GitHub's first build type (the npm CLI
	// since 9.6, actions/attest-build-provenance before 2025): the shape of
	// BuildTypeGitHubWorkflow, but builder.id names the runner.
	BuildTypeGitHubWorkflowV0 = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"
	// BuildTypeDelegator is slsa-github-generator's BYOB build type: the
	// delegator workflow signs, builder.id names the trusted reusable
	// workflow (TRW) that called it.
	BuildTypeDelegator      = "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0"
	BuildTypeGeneratorGen   = "https://github.com/slsa-framework/slsa-github-generator/generic@v1"
	BuildTypeGeneratorGo    = "https://github.com/slsa-framework/slsa-github-generator/go@v1"
	BuildTypeGeneratorCont  = "https://github.com/slsa-framework/slsa-github-generator/container@v1"
	BuildTypeContainerBased = "https://slsa.dev/container-based-build/v0.1?draft"
	BuildTypeNpmCLIv2       = "https://github.com/npm/cli/gha/v2"
	slsaGeneratorWorkflows  = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
	hallmarkWorkflows       = "https://github.com/hallmark-dev/hallmark/.github/workflows/"
	// delegatorWorkflows matches slsa-github-generator's BYOB delegators at
	// a release tag, as a regexp.
	delegatorWorkflows = `https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/(delegator_generic_slsa3|delegator_lowperms-generic_slsa3)\.yml@` + releaseTag
	// releaseTag matches refs/tags/vX.Y.Z, as a regexp: pattern part.
	releaseTag               = `refs/tags/v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)`
	maxPolicySize            = 1 << 20
	maxPolicyExpressionChars = 4096
)

// Policy says what to trust and what to expect. Trust is policy, not code:
// the builders, issuers and thresholds below are all the verifier trusts.
// Load one with LoadPolicy, or start from DefaultPolicy and edit it; a policy
// is checked and compiled when New receives it.
type Policy struct {
	// Issuers are the OIDC issuers accepted in the certificate, exactly.
	// Required: at least one.
	Issuers []string `json:"issuers"`

	// Builders are the trusted builders. A build is trusted if an entry
	// matches it; the level granted is the highest MaxLevel of the entries
	// that match, capped by what the signer's evidence allows (1 for a
	// self-hosted runner). An entry is the verifying user naming a builder:
	// it is the only way to a level above what the evidence proves.
	// Required: at least one.
	Builders []TrustedBuilder `json:"builders"`

	// BuilderID, if set, is slsa-verifier's --builder-id: "ID" or "ID@REF".
	// It narrows: the builder must match it (see MatchLoose), and "ID"
	// without a ref matches only release tags refs/tags/vX.Y.Z. It trusts
	// nothing by itself: a Builders entry must still trust the builder (see
	// DefaultPolicyWith for the command line, where naming a builder adds
	// such an entry).
	BuilderID string `json:"builderID,omitempty"`

	// MinLevel is the lowest SLSA build level accepted (0 to 3).
	MinLevel int `json:"minLevel,omitempty"`

	// Identity adds expectations on the signing certificate.
	Identity Identity `json:"identity,omitempty"`

	// DenySelfHostedRunners rejects builds whose certificate says they ran
	// on a self-hosted runner (gh's --deny-self-hosted-runners).
	DenySelfHostedRunners bool `json:"denySelfHostedRunners,omitempty"`

	// PredicateTypes accepted. Default: SLSA v1 and v0.2.
	PredicateTypes []string `json:"predicateTypes,omitempty"`

	// Source is the expected source repository, as slsa-verifier's
	// --source-uri: "github.com/OWNER/REPO" (a scheme such as https:// or
	// git+https:// may be written too). Empty: not checked.
	Source string `json:"source,omitempty"`

	// SourceBranch, SourceTag and SourceVersionedTag are slsa-verifier's
	// --source-branch, --source-tag and --source-versioned-tag. At most one
	// of SourceTag and SourceVersionedTag may be set.
	SourceBranch       string `json:"sourceBranch,omitempty"`
	SourceTag          string `json:"sourceTag,omitempty"`
	SourceVersionedTag string `json:"sourceVersionedTag,omitempty"`

	// BuildTypes accepted. Empty: any build type a trusted builder produced.
	BuildTypes []string `json:"buildTypes,omitempty"`

	// ExternalParameters expected: each key must be present in the
	// provenance's externalParameters (v1) or invocation.parameters (v0.2)
	// with a value equal to this one (JSON equality).
	ExternalParameters map[string]any `json:"externalParameters,omitempty"`

	// StrictExternalParameters rejects any external parameter that neither
	// ExternalParameters nor the certificate cross-check accounts for.
	StrictExternalParameters bool `json:"strictExternalParameters,omitempty"`

	// WorkflowInputs are slsa-verifier's --build-workflow-input k=v: the
	// workflow_dispatch inputs the build must have been run with.
	WorkflowInputs map[string]string `json:"workflowInputs,omitempty"`

	// Expressions are CEL expressions over the variable "statement" (the
	// in-toto statement as JSON: statement.predicate.runDetails.builder.id,
	// ...). Each must evaluate to true.
	Expressions []string `json:"expressions,omitempty"`

	// Thresholds of cryptographic evidence.
	Thresholds Thresholds `json:"thresholds,omitempty"`

	// MaxSubjects is the most subjects a statement may have. Default 1024.
	MaxSubjects int `json:"maxSubjects,omitempty"`

	// Attestations are expectations on attestations that are not
	// provenance (SBOMs), which VerifyAttestation checks.
	Attestations AttestationPolicy `json:"attestations,omitempty"`

	// SPIFFE, when set, names the SPIFFE IDs that may sign (factory
	// mode); see SPIFFEPolicy and NewSPIFFE. A policy with SPIFFE set may
	// list no issuer, and then trusts only X.509-SVID signers.
	SPIFFE *SPIFFEPolicy `json:"spiffe,omitempty"`

	// narrowed holds what Narrow and DefaultPolicyWith added.
	narrowed narrowing

	compiled *compiledPolicy
}

// TrustedBuilder is one builder the policy trusts. An entry matches a build
// when every pattern it sets matches; it must set ID or Signer.
type TrustedBuilder struct {
	// Name is for people and error messages.
	Name string `json:"name,omitempty"`
	// ID matches the provenance's builder id (see Pattern for the syntax).
	// An entry with only an ID never trusts a SPIFFE signer: the builder id
	// is what the signer wrote, so such an entry would trust any SVID.
	ID string `json:"id,omitempty"`
	// Signer matches the signer: the certificate's build signer URI (the SAN
	// of a GitHub Actions certificate), or the SPIFFE ID of an X.509-SVID or
	// of a Fulcio certificate bought with a JWT-SVID. A SPIFFE signer
	// pattern must fix the trust domain and the start of the path: a trust
	// domain alone is not a builder.
	Signer string `json:"signer,omitempty"`
	// BuildTypes, if set, restricts the entry to these build types.
	BuildTypes []string `json:"buildTypes,omitempty"`
	// MaxLevel is the highest SLSA build level this builder may vouch for.
	MaxLevel int `json:"maxLevel"`
	// Tenants, for a factory signer (a SPIFFE ID), say which namespaces may
	// build which sources: the run's namespace, as the factory recorded it,
	// must match one, and its verified source must be one of that tenant's.
	// Empty: the factory's own tenancy policy is relied on.
	Tenants []Tenant `json:"tenants,omitempty"`
}

// Identity is what the signing certificate must say beyond the issuer. Each
// set field must match; patterns use the Pattern syntax.
type Identity struct {
	// SAN is the certificate's subject alternative name (gh's
	// --cert-identity exactly, --cert-identity-regex as "regexp:...").
	SAN string `json:"san,omitempty"`
	// SignerWorkflow matches the build signer URI without its "@ref" (gh's
	// --signer-workflow, written "github.com/OWNER/REPO/PATH" or with
	// https://; a regexp is anchored).
	SignerWorkflow string `json:"signerWorkflow,omitempty"`
	// Extension patterns, by Fulcio extension name.
	SourceRepositoryURI    string `json:"sourceRepositoryURI,omitempty"`
	SourceRepositoryDigest string `json:"sourceRepositoryDigest,omitempty"`
	SourceRepositoryRef    string `json:"sourceRepositoryRef,omitempty"`
	SourceRepositoryOwner  string `json:"sourceRepositoryOwnerURI,omitempty"`
	BuildSignerURI         string `json:"buildSignerURI,omitempty"`
	BuildSignerDigest      string `json:"buildSignerDigest,omitempty"`
	RunnerEnvironment      string `json:"runnerEnvironment,omitempty"`
}

// Thresholds is how much independent evidence of signing time and of
// publication a bundle must carry. Nil fields take their defaults.
type Thresholds struct {
	// TransparencyLog is the number of verified tlog entries required.
	// Default 1.
	TransparencyLog *int `json:"transparencyLog,omitempty"`
	// SignedTimestamps is the number of verified RFC 3161 timestamps
	// required. Default 0.
	SignedTimestamps *int `json:"signedTimestamps,omitempty"`
	// ObserverTimestamps is the number of timestamps, of either kind,
	// required to establish signing time. Default 1; never 0, since a
	// short-lived certificate proves nothing without a signing time.
	ObserverTimestamps *int `json:"observerTimestamps,omitempty"`
	// SCTs is the number of certificate transparency SCTs required in the
	// certificate. Default: 1 if the trusted root lists CT logs, else 0.
	SCTs *int `json:"scts,omitempty"`
}

// LoadPolicy decodes a policy from YAML or JSON. Decoding is strict: an
// unknown field is an error. The policy is validated and compiled (patterns
// and CEL expressions) before it is returned.
func LoadPolicy(data []byte) (*Policy, error) {
	if len(data) > maxPolicySize {
		return nil, fmt.Errorf("loading policy: %d bytes, limit %d: %w", len(data), maxPolicySize, ErrTooLarge)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	if dec.More() {
		return nil, errors.New("loading policy: trailing data")
	}
	if err := p.compile(); err != nil {
		return nil, fmt.Errorf("loading policy: %w", err)
	}
	return &p, nil
}

// DefaultPolicy trusts, for the issuer https://token.actions.githubusercontent.com:
//
//   - Hallmark's reusable workflows generic.yml, container.yml and go.yml
//     at release tags refs/tags/vX.Y.Z, at level 3;
//   - slsa-github-generator's generator_generic_slsa3.yml,
//     builder_go_slsa3.yml, generator_container_slsa3.yml and
//     builder_container-based_slsa3.yml at release tags refs/tags/vX.Y.Z, at
//     level 3, and its own builders on the BYOB framework (Maven, Gradle,
//     Node.js) at release tags, signed by its delegators at release tags;
//   - GitHub's actions/attest provenance (build types
//     https://actions.github.io/buildtypes/workflow/v1 and the first one,
//     https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1)
//     and the npm CLI's, from any workflow on github.com, at level 2: what a
//     GitHub-hosted runner proves. Level 3
//     needs the verifying user to name the reusable workflow that signed
//     (DefaultPolicyWith's SignerWorkflow, gh's --signer-workflow);
//   - Google Cloud Build's hosted workers (GoogleHostedWorker, @v0.2 and
//     @v0.3) at level 3, for provenance signed by a Cloud Build attestor
//     key of the key set given to NewGCB, as slsa-verifier trusts them.
//
// A release tag is what slsa-verifier accepts for a trusted builder: three
// numbers without leading zeros, no pre-release or build suffix. Branches,
// major-version tags such as v2 and release candidates are not trusted.
//
// It expects nothing about the source; callers add Source and refs.
func DefaultPolicy() *Policy {
	return &Policy{
		Issuers: []string{GitHubIssuer},
		Builders: []TrustedBuilder{
			{
				Name:       "hallmark",
				Signer:     "regexp:" + regexp.QuoteMeta(hallmarkWorkflows) + `(generic|container|go)\.yml@` + releaseTag,
				BuildTypes: []string{BuildTypeGitHubWorkflow},
				MaxLevel:   3,
			},
			{
				Name:       "slsa-github-generator",
				Signer:     "regexp:" + regexp.QuoteMeta(slsaGeneratorWorkflows) + `(generator_generic_slsa3|builder_go_slsa3|generator_container_slsa3|builder_container-based_slsa3)\.yml@` + releaseTag,
				BuildTypes: []string{BuildTypeGeneratorGen, BuildTypeGeneratorGo, BuildTypeGeneratorCont, BuildTypeContainerBased},
				MaxLevel:   3,
			},
			{
				// slsa-github-generator's own builders on its BYOB framework
				// (Maven, Gradle, Node.js): its delegator signs for them.
				Name:       "slsa-github-generator-byob",
				ID:         "regexp:" + regexp.QuoteMeta(slsaGeneratorWorkflows) + `[a-z0-9_-]+\.yml@` + releaseTag,
				Signer:     "regexp:" + delegatorWorkflows,
				BuildTypes: []string{BuildTypeDelegator},
				MaxLevel:   3,
			},
			{
				Name:       "github-actions-attest",
				Signer:     "glob:https://github.com/**",
				BuildTypes: []string{BuildTypeGitHubWorkflow, BuildTypeGitHubWorkflowV0, BuildTypeNpmCLIv2},
				MaxLevel:   2,
			},
			{
				// Cloud Build's hosted workers, signed by an attestor key of
				// the key set given (NewGCB): no certificate can name a
				// gcpkms:// signer.
				Name:     "google-cloud-build",
				ID:       gcbTrustedIDs,
				Signer:   gcbTrustedSigners,
				MaxLevel: 3,
			},
		},
	}
}

// compiledPolicy is a policy's patterns and programs, built once.
type compiledPolicy struct {
	builders    []compiledBuilder
	identity    []identityMatch
	spiffe      [][]SPIFFEIDMatcher
	expressions []cel.Program
	exprSources []string
	// attestExpressions are Attestations.Expressions, compiled.
	attestExpressions []cel.Program
	attestSources     []string
	source            string
	thresholds        resolvedThresholds
	maxSubjects       int
	predTypes         []string
	expectLoose       BuilderMatcher
	explicitSCTs      bool
}

type compiledBuilder struct {
	name     string
	match    BuilderMatcher
	maxLevel int
	tenants  []compiledTenant
	// spiffe is set when the entry's Signer names SPIFFE signers (fixing
	// the trust domain and the start of the path): only such entries trust
	// a SPIFFE signer, never one matching only the builder id the signer
	// wrote.
	spiffe bool
	// signer matches the signer alone, for attestations that carry no
	// builder id or build type (VerifyAttestation); nil for an entry that
	// sets an ID, which only provenance can meet.
	signer BuilderMatcher
}

type identityMatch struct {
	field string
	get   func(*certFields) string
	want  Pattern
	// githubOnly marks expectations on Fulcio's CI extensions, which only
	// a Fulcio certificate can meet.
	githubOnly bool
}

type resolvedThresholds struct {
	tlog, signed, observer, scts int
}

func (p *Policy) compile() error {
	c := &compiledPolicy{}
	if len(p.Issuers) == 0 && p.SPIFFE == nil {
		return errors.New("policy lists no issuer")
	}
	if len(p.Builders) == 0 {
		return errors.New("policy trusts no builder")
	}
	if p.MinLevel < 0 || p.MinLevel > 3 {
		return fmt.Errorf("minLevel %d not in 0..3", p.MinLevel)
	}
	for i, b := range p.Builders {
		cb, err := compileBuilder(b)
		if err != nil {
			return fmt.Errorf("builders[%d]: %w", i, err)
		}
		c.builders = append(c.builders, cb)
	}
	if p.BuilderID != "" {
		m, err := compileBuilderID(p.BuilderID)
		if err != nil {
			return err
		}
		c.expectLoose = m
	}
	if p.SourceTag != "" && p.SourceVersionedTag != "" {
		return errors.New("sourceTag and sourceVersionedTag are exclusive")
	}
	if p.SourceVersionedTag != "" && !semver.IsValid(p.SourceVersionedTag) {
		return fmt.Errorf("sourceVersionedTag %q: want vMAJOR[.MINOR[.PATCH[-PRERELEASE]]]", p.SourceVersionedTag)
	}
	if p.Source != "" {
		src, err := normalizeSource(p.Source)
		if err != nil {
			return err
		}
		c.source = src
	}
	for i, id := range append([]Identity{p.Identity}, p.narrowed.identities...) {
		ids, err := compileIdentity(id)
		if err != nil {
			if i > 0 {
				return fmt.Errorf("narrowed %w", err)
			}
			return err
		}
		c.identity = append(c.identity, ids...)
	}
	if p.SPIFFE != nil {
		ms, err := compileSPIFFEIDs("spiffe.ids", p.SPIFFE.IDs)
		if err != nil {
			return err
		}
		c.spiffe = append(c.spiffe, ms)
	}
	for _, ids := range p.narrowed.spiffeIDs {
		ms, err := compileSPIFFEIDs("spiffe-id", ids)
		if err != nil {
			return err
		}
		c.spiffe = append(c.spiffe, ms)
	}
	c.predTypes = p.PredicateTypes
	if len(c.predTypes) == 0 {
		c.predTypes = []string{PredicateSLSAv1, PredicateSLSAv02}
	}
	for _, t := range c.predTypes {
		if t != PredicateSLSAv1 && t != PredicateSLSAv02 {
			return fmt.Errorf("predicateTypes: %q is not SLSA provenance v1 or v0.2, the predicates this verifier reads", t)
		}
	}
	c.maxSubjects = p.MaxSubjects
	if c.maxSubjects == 0 {
		c.maxSubjects = DefaultMaxSubjects
	}
	if c.maxSubjects < 0 {
		return fmt.Errorf("maxSubjects %d is negative", c.maxSubjects)
	}
	th, err := p.Thresholds.resolve()
	if err != nil {
		return err
	}
	c.thresholds = th
	c.explicitSCTs = p.Thresholds.SCTs != nil
	if err := c.compileAttestations(p.Attestations); err != nil {
		return err
	}
	if len(p.Expressions) > 0 {
		env, err := celEnv()
		if err != nil {
			return err
		}
		for i, src := range p.Expressions {
			prg, err := compileExpression(env, src)
			if err != nil {
				return fmt.Errorf("expressions[%d]: %w", i, err)
			}
			c.expressions = append(c.expressions, prg)
			c.exprSources = append(c.exprSources, src)
		}
	}
	p.compiled = c
	return nil
}

func compileBuilder(b TrustedBuilder) (compiledBuilder, error) {
	if b.ID == "" && b.Signer == "" {
		return compiledBuilder{}, errors.New("trusted builder sets neither id nor signer")
	}
	if b.MaxLevel < 1 || b.MaxLevel > 3 {
		return compiledBuilder{}, fmt.Errorf("maxLevel %d not in 1..3", b.MaxLevel)
	}
	var ms []BuilderMatcher
	var signer BuilderMatcher
	spiffe := false
	if b.ID != "" {
		pat, err := ParsePattern(b.ID)
		if err != nil {
			return compiledBuilder{}, err
		}
		ms = append(ms, MatchBuilderID(pat))
	}
	if b.Signer != "" {
		pat, err := ParsePattern(b.Signer)
		if err != nil {
			return compiledBuilder{}, err
		}
		if spiffe, err = spiffeBuilderPrefix(pat); err != nil {
			return compiledBuilder{}, err
		}
		ms = append(ms, MatchSigner(pat))
		if b.ID == "" {
			signer = MatchSigner(pat)
		}
	}
	if len(b.BuildTypes) > 0 {
		ms = append(ms, MatchBuildType(b.BuildTypes...))
	}
	tenants, err := compileTenants(b.Tenants)
	if err != nil {
		return compiledBuilder{}, err
	}
	if len(tenants) > 0 && !spiffe {
		return compiledBuilder{}, errors.New("tenants apply to a factory signer: give the signer's SPIFFE ID")
	}
	name := b.Name
	if name == "" {
		name = b.ID + b.Signer
	}
	return compiledBuilder{name: name, match: MatchAll(ms...), maxLevel: b.MaxLevel, spiffe: spiffe, tenants: tenants, signer: signer}, nil
}

// compileBuilderID compiles Policy.BuilderID: "ID@REF", or "ID" for ID at
// a release tag.
func compileBuilderID(s string) (BuilderMatcher, error) {
	name, ref, hasRef := strings.Cut(s, "@")
	if name == "" || strings.Contains(ref, "@") || (hasRef && ref == "") {
		return nil, fmt.Errorf("builderID %q: want ID or ID@REF", s)
	}
	return MatchLoose(s), nil
}

func (t Thresholds) resolve() (resolvedThresholds, error) {
	get := func(p *int, def int, name string) (int, error) {
		if p == nil {
			return def, nil
		}
		if *p < 0 {
			return 0, fmt.Errorf("thresholds.%s %d is negative", name, *p)
		}
		return *p, nil
	}
	var r resolvedThresholds
	var err error
	if r.tlog, err = get(t.TransparencyLog, 1, "transparencyLog"); err != nil {
		return r, err
	}
	if r.signed, err = get(t.SignedTimestamps, 0, "signedTimestamps"); err != nil {
		return r, err
	}
	if r.observer, err = get(t.ObserverTimestamps, 1, "observerTimestamps"); err != nil {
		return r, err
	}
	if r.scts, err = get(t.SCTs, 0, "scts"); err != nil {
		return r, err
	}
	if r.observer == 0 {
		return r, errors.New("thresholds.observerTimestamps must be at least 1: a short-lived certificate needs a signing time")
	}
	return r, nil
}

// normalizeSource turns slsa-verifier's --source-uri forms into
// "https://github.com/OWNER/REPO" style: a scheme-less "host/path" gets
// https://, and "git+" is dropped. A Cloud Storage "gs://BUCKET/OBJECT"
// (Cloud Build's uploaded sources) stays as written.
func normalizeSource(s string) (string, error) {
	if rest, ok := strings.CutPrefix(s, "gs://"); ok {
		// A Cloud Storage object: Cloud Build's uploaded sources.
		if bucket, object, _ := strings.Cut(rest, "/"); bucket == "" || object == "" || strings.ContainsAny(rest, "#?") {
			return "", fmt.Errorf("source %q: want gs://BUCKET/OBJECT", s)
		}
		return s, nil
	}
	s = strings.TrimPrefix(s, "git+")
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	if !strings.HasPrefix(s, "https://") || strings.Count(s, "/") < 4 {
		return "", fmt.Errorf("source %q: want github.com/OWNER/REPO", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}
