package verifier

// What Cloud Build provenance claims, checked as slsa-verifier v2.7.1's
// verifiers/internal/gcb/provenance.go checks it: the builder and its build
// type, the source, the tag; then the policy's own expectations.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Cloud Build's builder ids, by the predicate type they write (slsa-verifier's
// v01.BuilderIDs and v10.BuilderIDs).
var gcbBuilders = map[string][]string{
	PredicateSLSAv01: {GCBBuilderID + "@v0.2", GCBBuilderID + "@v0.3"},
	PredicateSLSAv1:  {GCBBuilderID},
}

// checkBuilder follows slsa-verifier's VerifyBuilder (the builder id, its
// build type and, for v0.1, the recipe's argument type; --builder-id
// matched loosely), then grants the level by the trust rule.
func (r *gcbRun) checkBuilder() error {
	p := r.v.policy
	id, buildType := r.st.builderID(), r.st.buildType()
	if r.v01 != nil {
		id, buildType = r.v01.builderID, r.v01.recipeType
	}
	known := gcbBuilders[r.st.PredicateType]
	if !slices.Contains(known, id) {
		return fail(CheckBuilder, "a Cloud Build builder this verifier reads: one of "+strings.Join(known, ", "), orNone(id), ErrUntrustedBuilder)
	}
	if err := gcbCheckBuildType(id, buildType, r.v01); err != nil {
		return err
	}
	b := BuilderID{ID: id, Signer: GCBSignerScheme + r.keyID, BuildType: buildType}
	r.builder = b
	if p.BuilderID != "" {
		if err := gcbMatchBuilderID(p.BuilderID, id); err != nil {
			return fail(CheckBuilder, p.BuilderID, id, fmt.Errorf("%w: %w", ErrBuilderMismatch, err))
		}
	}
	best, name := 0, ""
	var why []error
	for _, tb := range p.compiled.builders {
		if tb.spiffe {
			continue
		}
		if err := tb.match(b); err != nil {
			why = append(why, fmt.Errorf("%s: %w", tb.name, err))
			continue
		}
		if tb.maxLevel > best {
			best, name = tb.maxLevel, tb.name
		}
	}
	if name == "" {
		return fail(CheckBuilder, "a trusted builder", b.ID+" signed by "+b.Signer, fmt.Errorf("%w: %w", ErrUntrustedBuilder, errors.Join(why...))).
			with(`if you trust Cloud Build's hosted workers, add a builders entry for them to the policy: {name: google-cloud-build, id: '` + gcbTrustedIDs + `', signer: '` + gcbTrustedSigners + `', maxLevel: 3}`)
	}
	if best < p.MinLevel {
		return fail(CheckBuilder, fmt.Sprintf("level %d", p.MinLevel), fmt.Sprintf("level %d (%s)", best, name), ErrLevelTooLow).
			with("the trusted builder entry grants no more")
	}
	r.trusted, r.level = name, best
	return nil
}

// gcbCheckBuildType is slsa-verifier's validateBuildType and, for v0.1,
// its recipe argument check: GoogleHostedWorker@v0.2 writes its own id as
// the recipe type, @v0.3 a CloudBuildYaml or CloudBuildSteps recipe, and
// v1.0 BuildTypeGCB; a v0.1 recipe's arguments are a Cloud Build Build.
func gcbCheckBuildType(id, buildType string, v01 *gcbPredicateV01) error {
	switch id {
	case GCBBuilderID + "@v0.2":
		if buildType != id {
			return fail(CheckBuildType, id+", which "+id+" writes", orNone(buildType), ErrBuildType)
		}
	case GCBBuilderID + "@v0.3":
		if !strings.HasPrefix(buildType, "https://cloudbuild.googleapis.com/CloudBuildYaml@") &&
			!strings.HasPrefix(buildType, "https://cloudbuild.googleapis.com/CloudBuildSteps@") {
			return fail(CheckBuildType, "a CloudBuildYaml@ or CloudBuildSteps@ recipe, which "+id+" writes", orNone(buildType), ErrBuildType)
		}
	default:
		if buildType != BuildTypeGCB {
			return fail(CheckBuildType, BuildTypeGCB+", which "+id+" writes", orNone(buildType), ErrBuildType)
		}
	}
	if v01 != nil {
		if got, _ := v01.arguments["@type"].(string); got != gcbArgumentsType {
			return fail(CheckBuildType, "recipe.arguments of @type "+gcbArgumentsType, orNone(got), ErrBuildType)
		}
	}
	return nil
}

// gcbMatchBuilderID is slsa-verifier's TrustedBuilderID.MatchesLoose for
// Cloud Build: the name must be equal, and the version too when the
// expectation gives one. A Cloud Build version names the builder's
// release, not a git ref anyone could push, so a name alone matches every
// version (unlike MatchLoose's release-tag rule for workflows).
func gcbMatchBuilderID(expected, id string) error {
	wantName, wantVersion, hasVersion := strings.Cut(expected, "@")
	name, version, _ := strings.Cut(id, "@")
	if name != wantName {
		return fmt.Errorf("builder %q is not %q", name, wantName)
	}
	if hasVersion && version != wantVersion {
		return fmt.Errorf("builder version %q is not %q", version, wantVersion)
	}
	return nil
}

// The built-in policy's Cloud Build entry (DefaultPolicy): Google-hosted
// workers whose provenance this verifier reads, signed by an attestor key.
const (
	gcbTrustedIDs     = `regexp:https://cloudbuild\.googleapis\.com/GoogleHostedWorker(@v0\.[23])?`
	gcbTrustedSigners = `regexp:gcpkms://projects/verified-builder/locations/[a-z0-9-]+/keyRings/attestor/cryptoKeys/(builtByGCB|provenanceSigner|google-hosted-worker)/cryptoKeyVersions/1`
)

// gcbSource is the source the signed provenance records.
type gcbSource struct {
	// uri is the recorded source as slsa-verifier compares it: v0.1's
	// first material's uri, v1.0's buildConfigSource repository@ref, with
	// any "git+" dropped.
	uri string
	// repo, ref and commit are for the Result.
	repo, ref, commit string
}

// checkSource follows slsa-verifier's VerifySourceURI: GoogleHostedWorker
// @v0.2 records https://HOST/O/R/commit/SHA or gs://BUCKET/OBJECT#GEN,
// @v0.3 https://HOST/O/R (commit in the material's digest) or the gs://
// form, v1.0 git+https://HOST/O/R in buildConfigSource with its ref.
func (r *gcbRun) checkSource() error {
	src, err := r.source()
	if err != nil {
		return err
	}
	r.src = src
	want := r.v.policy.compiled.source
	if want == "" {
		return nil
	}
	uri := src.uri
	ok := false
	switch r.builder.ID {
	case GCBBuilderID + "@v0.2":
		ok = strings.HasPrefix(uri, want+"/commit/") || strings.HasPrefix(uri, want+"#")
	case GCBBuilderID + "@v0.3":
		ok = uri == want || strings.HasPrefix(uri, want+"#")
	default:
		repo, _, _ := strings.Cut(uri, "@")
		ok = repo == want
	}
	if !ok {
		fix := ""
		if strings.HasPrefix(uri, "gs://") {
			fix = "this build's source was uploaded to Cloud Storage, not taken from a repository: it was not started by a repository trigger"
		}
		return fail(CheckSource, want, uri, ErrSourceMismatch).with(fix)
	}
	return nil
}

// source reads the recorded source (slsa-verifier's SourceURI of v0.1 and
// v1.0).
func (r *gcbRun) source() (gcbSource, error) {
	var s gcbSource
	if r.v01 != nil {
		if len(r.v01.materials) == 0 || r.v01.materials[0].URI == "" {
			return s, fail(CheckSource, "the source as the first material", "no material", ErrMalformed)
		}
		m := r.v01.materials[0]
		s.uri = strings.TrimPrefix(m.URI, "git+")
		s.repo, s.commit = s.uri, m.Digest["sha1"]
		if repo, commit, ok := strings.Cut(s.uri, "/commit/"); ok && r.builder.ID == GCBBuilderID+"@v0.2" {
			s.repo, s.commit = repo, commit
		}
		s.repo, _, _ = strings.Cut(s.repo, "#")
		if tag, err := r.tag(); err == nil {
			s.ref = "refs/tags/" + tag
		}
		return s, nil
	}
	cfg, _ := r.st.v1.BuildDefinition.ExternalParameters["buildConfigSource"].(map[string]any)
	repo, _ := cfg["repository"].(string)
	ref, _ := cfg["ref"].(string)
	if repo == "" || ref == "" || strings.Contains(repo, "@") || strings.Contains(ref, "@") {
		return s, fail(CheckSource, "externalParameters.buildConfigSource with a repository and a ref", fmt.Sprintf("repository %q, ref %q", repo, ref), ErrMalformed)
	}
	s.repo, s.ref = strings.TrimPrefix(repo, "git+"), ref
	s.uri = s.repo + "@" + ref
	for _, d := range r.st.v1.BuildDefinition.ResolvedDependencies {
		if u, _, _ := strings.Cut(strings.TrimPrefix(d.URI, "git+"), "@"); u == s.repo {
			s.commit = d.Digest["gitCommit"]
			break
		}
	}
	return s, nil
}

// checkRef follows slsa-verifier's VerifyTag and VerifyVersionedTag (the
// TAG_NAME substitution); branches it does not support.
func (r *gcbRun) checkRef() error {
	p := r.v.policy
	if p.SourceBranch != "" {
		return fail(CheckRef, "branch "+p.SourceBranch, "Cloud Build provenance, whose branch slsa-verifier and Hallmark do not check", ErrNotApplicable).
			with("drop --source-branch; check the tag with --source-tag or --source-versioned-tag")
	}
	if p.SourceTag == "" && p.SourceVersionedTag == "" {
		return nil
	}
	sentinel, want := ErrTagMismatch, "tag "+p.SourceTag
	if p.SourceVersionedTag != "" {
		sentinel, want = ErrVersionedTagMismatch, "tag matching "+p.SourceVersionedTag
	}
	tag, err := r.tag()
	if err != nil {
		return fail(CheckRef, want, err.Error(), sentinel).with("this build was not triggered by a tag")
	}
	if p.SourceTag != "" && tag != p.SourceTag {
		return fail(CheckRef, want, "tag "+tag, ErrTagMismatch)
	}
	if p.SourceVersionedTag != "" {
		if err := matchVersionedTag(tag, p.SourceVersionedTag); err != nil {
			return fail(CheckRef, want, "tag "+tag, fmt.Errorf("%w: %w", ErrVersionedTagMismatch, err))
		}
	}
	return nil
}

// tag is the TAG_NAME substitution: v0.1 recipe.arguments.substitutions,
// v1.0 internalParameters.systemSubstitutions, where it must agree with
// buildConfigSource's ref.
func (r *gcbRun) tag() (string, error) {
	var subs map[string]any
	if r.v01 != nil {
		subs, _ = r.v01.arguments["substitutions"].(map[string]any)
	} else {
		subs, _ = r.st.v1.BuildDefinition.InternalParameters["systemSubstitutions"].(map[string]any)
	}
	tag, ok := subs["TAG_NAME"].(string)
	if !ok {
		return "", errors.New("no TAG_NAME substitution")
	}
	if r.v01 == nil {
		cfg, _ := r.st.v1.BuildDefinition.ExternalParameters["buildConfigSource"].(map[string]any)
		if ref, _ := cfg["ref"].(string); ref != "refs/tags/"+tag {
			return "", fmt.Errorf("TAG_NAME %q, but buildConfigSource.ref %q", tag, ref)
		}
	}
	return tag, nil
}

// checkBuildTypes: the policy's build types.
func (r *gcbRun) checkBuildTypes() error {
	p := r.v.policy
	if len(p.BuildTypes) == 0 || slices.Contains(p.BuildTypes, r.builder.BuildType) {
		return nil
	}
	return fail(CheckBuildType, "one of "+strings.Join(p.BuildTypes, ", "), r.builder.BuildType, ErrBuildType)
}

// checkExternalParameters: the policy's expected parameters, against v1.0
// externalParameters or v0.1 recipe.arguments (SLSA v0.1's external
// inputs).
func (r *gcbRun) checkExternalParameters() error {
	p := r.v.policy
	params := map[string]any(nil)
	if r.v01 != nil {
		params = r.v01.arguments
	} else {
		params = r.st.v1.BuildDefinition.ExternalParameters
	}
	for _, k := range sortedKeys(p.ExternalParameters) {
		want, _ := json.Marshal(p.ExternalParameters[k])
		v, ok := params[k]
		if !ok {
			return fail(CheckExternalParameters, k+"="+string(want), k+" missing", ErrExternalParameter)
		}
		if got, _ := json.Marshal(v); string(got) != string(want) {
			return fail(CheckExternalParameters, k+"="+string(want), k+"="+string(got), ErrExternalParameter)
		}
	}
	if p.StrictExternalParameters {
		for _, k := range sortedKeys(params) {
			if _, ok := p.ExternalParameters[k]; !ok {
				return fail(CheckExternalParameters, "parameters the policy expects", k, ErrUnknownExternalParameter)
			}
		}
	}
	return nil
}

func (r *gcbRun) checkExpressions() error { return r.v.policy.checkExpressions(r.st) }
