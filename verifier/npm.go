package verifier

// npm packages, verified as slsa-verifier v2.7.1's verify-npm-package
// verifies them (cli/slsa-verifier/verify/verify_npm_package.go;
// verifiers/internal/gha/npm.go; verifier.go: verifyNpmEnvAndCert,
// VerifyNpmPackage; provenance.go: VerifyNpmPackageProvenance), re-done on
// this package's pipeline and trust rule: the provenance goes through
// Verifier.Verify like any other, the registry's publish attestation is
// checked against npm's keys.json, and the package name and version
// against both.
//
// Where it differs from slsa-verifier, on purpose:
//   - the npm CLI on a self-hosted runner verifies, at level 1, with
//     --builder-id .../self-hosted (slsa-verifier reads no provenance for
//     that id, so refuses every such package);
//   - the registry key's validity window is checked against the verified
//     signing time (slsa-verifier leaves it to a TODO, issue 757);
//   - the publish attestation's subject, not only its predicate, must name
//     the provenance's package, whether or not a name or version is
//     expected, and each attestation has one subject;
//   - the publish predicate type is v0.1 exactly, and an attestations file
//     listing another kind of attestation is refused rather than skipped;
//   - a "+" in a package URL stays a "+" (slsa-verifier's query unescaping
//     turns a version's build metadata separator into a space).
//
// Not read: the npm CLI's private-beta build type
// https://github.com/npm/cli/gha@v1, and GitLab's provenance.

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// npm's identifiers.
const (
	// PredicateNpmPublish is the predicate type of the npm registry's
	// publish attestation: the registry's signed statement that it
	// published this tarball as NAME@VERSION.
	PredicateNpmPublish = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
	// NpmRunnerGitHubHosted, NpmRunnerSelfHosted and NpmRunnerLegacy are the
	// builder ids the npm CLI's provenance names: the runner, not a
	// workflow. The legacy id is what its SLSA v0.2 provenance wrote for a
	// GitHub-hosted runner.
	NpmRunnerGitHubHosted = "https://github.com/actions/runner/github-hosted"
	NpmRunnerSelfHosted   = "https://github.com/actions/runner/self-hosted"
	NpmRunnerLegacy       = "https://github.com/actions/runner"
	npmPurlPrefix         = "pkg:npm/"
)

// Limits of the npm inputs. The registry serves an attestations file of
// two bundles, tens of kilobytes; keys.json lists a handful of keys.
const (
	// MaxNpmAttestationsSize is the largest attestations file
	// ParseNpmAttestations accepts, in bytes.
	MaxNpmAttestationsSize = 2 * MaxBundleSize
	// MaxNpmKeysSize is the largest keys.json LoadNpmKeys accepts.
	MaxNpmKeysSize     = 1 << 20
	maxNpmAttestations = 16
	maxNpmKeys         = 256
)

// The checks an npm package adds to the pipeline's, after it.
const (
	// CheckPublishAttestation: the registry's publish attestation is signed
	// by a key of npm's keys.json, logged at a time the key was valid, and
	// names the tarball's digest and the package the provenance names.
	CheckPublishAttestation Check = "publishAttestation"
	// CheckPackage: the package name and version both attestations name are
	// the expected ones.
	CheckPackage Check = "package"
)

var (
	// ErrNpmBuilderID: an npm package was to be verified without the
	// builder expected (slsa-verifier requires --builder-id for npm), or
	// with a runner id npm does not write.
	ErrNpmBuilderID = errors.New("npm builder id missing or unknown")
	// ErrNpmRegistryKey: the publish attestation is not signed by a key
	// npm's keys.json lists for attestations, valid when it was logged.
	ErrNpmRegistryKey = errors.New("publish attestation not signed by a valid npm registry key")
	// ErrPackageNameMismatch: the package name is not the expected one.
	ErrPackageNameMismatch = errors.New("package name mismatch")
	// ErrPackageVersionMismatch: the package version is not the expected
	// one.
	ErrPackageVersionMismatch = errors.New("package version mismatch")
)

// NpmAttestations is npm's attestations file, as the registry serves it at
// https://registry.npmjs.org/-/npm/v1/attestations/NAME@VERSION: the
// package's SLSA provenance and the registry's publish attestation.
type NpmAttestations struct {
	// Provenance is the SLSA provenance bundle, listed as ProvenanceType.
	Provenance     *bundle.Bundle
	ProvenanceType string
	// Publish is the registry's publish attestation bundle.
	Publish *bundle.Bundle
}

// ParseNpmAttestations parses an attestations file,
// {"attestations":[{"predicateType": ..., "bundle": {...}}, ...]},
// strictly: the size first, then JSON every reader reads alike (see
// the statement decoder), exactly the fields above, exactly one SLSA
// provenance (v0.2 or v1) and one publish attestation, and nothing of
// another predicate type. Each bundle is parsed as ParseBundle does. A
// failure is a *CheckError of CheckInput.
func ParseNpmAttestations(data []byte) (*NpmAttestations, error) {
	if len(data) > MaxNpmAttestationsSize {
		return nil, fail(CheckInput, fmt.Sprintf("an attestations file of at most %d bytes", MaxNpmAttestationsSize), fmt.Sprintf("%d bytes", len(data)), ErrTooLarge)
	}
	bad := func(got string, err error) error {
		return fail(CheckInput, `npm's attestations file: {"attestations":[{"predicateType":…,"bundle":{…}},…]}`, got, err)
	}
	v, err := decodeStrict(data)
	if err != nil {
		return nil, bad("one that does not parse", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	doc, ok := v.(map[string]any)
	if !ok || len(doc) != 1 {
		return nil, bad("another shape", ErrMalformed)
	}
	list, ok := doc["attestations"].([]any)
	if !ok {
		return nil, bad("no attestations list", ErrMalformed)
	}
	if len(list) > maxNpmAttestations {
		return nil, bad(fmt.Sprintf("%d attestations, limit %d", len(list), maxNpmAttestations), ErrTooLarge)
	}
	for i, e := range list {
		o, ok := e.(map[string]any)
		_, isType := o["predicateType"].(string)
		_, isBundle := o["bundle"].(map[string]any)
		if !ok || len(o) != 2 || !isType || !isBundle {
			return nil, bad(fmt.Sprintf("attestations[%d] with other fields than predicateType and bundle", i), ErrMalformed)
		}
	}
	// The keys are now known to be exactly these, once each: encoding/json
	// reads what the strict decoder read, and keeps each bundle's bytes.
	var raw struct {
		Attestations []struct {
			PredicateType string          `json:"predicateType"`
			Bundle        json.RawMessage `json:"bundle"`
		} `json:"attestations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, bad("one that does not parse", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	out := &NpmAttestations{}
	for i, a := range raw.Attestations {
		var dst **bundle.Bundle
		switch a.PredicateType {
		case PredicateSLSAv1, PredicateSLSAv02:
			dst, out.ProvenanceType = &out.Provenance, a.PredicateType
		case PredicateNpmPublish:
			dst = &out.Publish
		default:
			return nil, bad(fmt.Sprintf("attestations[%d] of predicate type %q", i, a.PredicateType), ErrMalformed)
		}
		if *dst != nil {
			return nil, bad(fmt.Sprintf("a second attestation of predicate type %s (attestations[%d])", a.PredicateType, i), ErrMalformed)
		}
		b, err := ParseBundle(a.Bundle)
		if err != nil {
			var ce *CheckError
			if errors.As(err, &ce) {
				ce.Got += fmt.Sprintf(" (attestations[%d])", i)
			}
			return nil, err
		}
		*dst = b
	}
	if out.Provenance == nil || out.Publish == nil {
		return nil, bad("not both a SLSA provenance and a publish attestation ("+PredicateNpmPublish+")", ErrMalformed)
	}
	return out, nil
}

// NpmPackage is what the verifying user expects of an npm package: the
// flags of verify-npm-package beyond verify-artifact's.
type NpmPackage struct {
	// BuilderID is --builder-id, required as slsa-verifier requires it:
	// NpmRunnerGitHubHosted (or NpmRunnerLegacy, for SLSA v0.2 provenance
	// only) for the npm CLI on a GitHub-hosted runner, NpmRunnerSelfHosted
	// on a self-hosted one, or a builder on slsa-github-generator's BYOB
	// framework such as
	// https://github.com/slsa-framework/slsa-github-generator/.github/workflows/builder_nodejs_slsa3.yml
	// ("ID" for ID at release tags, or "ID@REF"). A runner names no
	// builder: the level of the npm CLI's provenance is what its runner
	// proves (2 GitHub-hosted, 1 self-hosted), unless the policy or
	// --signer-workflow names the workflow that signed. A BYOB builder id
	// names that builder, as --builder-id does for verify-artifact.
	BuilderID string
	// Name and Version, when set, are --package-name (scoped names
	// "@scope/name") and --package-version.
	Name, Version string
}

// runner reports whether BuilderID names a runner.
func (p NpmPackage) runner() bool {
	return p.BuilderID == NpmRunnerGitHubHosted || p.BuilderID == NpmRunnerSelfHosted || p.BuilderID == NpmRunnerLegacy
}

func (p NpmPackage) validate() error {
	if p.BuilderID == "" {
		return fmt.Errorf("%w: name the builder you expect with --builder-id: %s for the npm CLI on a GitHub-hosted runner, %s on a self-hosted one, or a builder on slsa-github-generator's BYOB framework such as %sbuilder_nodejs_slsa3.yml", ErrNpmBuilderID, NpmRunnerGitHubHosted, NpmRunnerSelfHosted, slsaGeneratorWorkflows)
	}
	if !p.runner() && strings.HasPrefix(p.BuilderID, NpmRunnerLegacy) {
		return fmt.Errorf("%w: --builder-id %s is no runner the npm CLI names: want %s, %s or %s", ErrNpmBuilderID, p.BuilderID, NpmRunnerGitHubHosted, NpmRunnerSelfHosted, NpmRunnerLegacy)
	}
	return nil
}

// PolicyBuilderID is the builder id to build the policy with
// (Flags.BuilderID for DefaultPolicyWith or Policy.Narrow): the package's
// BuilderID when it names a builder, none when it names a runner, which
// names no builder and is checked by NpmVerifier.Verify instead.
func (p NpmPackage) PolicyBuilderID() (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	if p.runner() {
		return "", nil
	}
	return p.BuilderID, nil
}

// NpmVerifier verifies npm packages: a tarball against its attestations
// file, with a Verifier's trusted root and policy and npm's registry keys.
type NpmVerifier struct {
	v       *Verifier
	keys    *NpmKeys
	pkg     NpmPackage
	publish *verify.Verifier
}

// NewNpmVerifier returns a verifier of npm packages. v's policy must have
// been built with pkg.PolicyBuilderID() as its builder id.
func NewNpmVerifier(v *Verifier, keys *NpmKeys, pkg NpmPackage) (*NpmVerifier, error) {
	if v == nil || v.c.policy == nil || v.c.trusted == nil {
		return nil, errors.New("new npm verifier: no provenance verifier")
	}
	if keys == nil {
		return nil, errors.New("new npm verifier: no npm registry keys")
	}
	want, err := pkg.PolicyBuilderID()
	if err != nil {
		return nil, fmt.Errorf("new npm verifier: %w", err)
	}
	if have := v.c.policy.BuilderID; have != want {
		if want == "" {
			return nil, fmt.Errorf("new npm verifier: the policy expects builder id %s, which the npm CLI's provenance (builder id: the runner) never has; drop it from the policy", have)
		}
		return nil, fmt.Errorf("new npm verifier: --builder-id %s, but the policy expects builder id %q", want, have)
	}
	// The publish attestation is checked against the trusted root's logs
	// and timestamp authorities and npm's keys only: no certificate
	// authority, so nothing but a registry key can sign it. The keys carry
	// no window here; Verify checks it against the verified times itself,
	// to say so when it fails.
	m := &npmPublishMaterial{logs: v.c.trusted.RekorLogs(), tsas: v.c.trusted.TimestampingAuthorities(), keys: keys}
	sv, err := verify.NewVerifier(m, verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1))
	if err != nil {
		return nil, fmt.Errorf("new npm verifier: %w", err)
	}
	return &NpmVerifier{v: v, keys: keys, pkg: pkg, publish: sv}, nil
}

// NpmResult is what verifying an npm package established.
type NpmResult struct {
	// Result is the provenance's verification.
	*Result
	// Name and Version name the package, as both attestations do.
	Name, Version string
	// Registry is the registry the publish attestation names.
	Registry string
	// PublishKeyID is the registry key that signed the publish
	// attestation; PublishTimestamps are its verified signing times.
	PublishKeyID      string
	PublishTimestamps []Timestamp
}

// Verify verifies an npm package: tarball is the sha512 digest of the
// package tarball (npm's integrity digest). In order, as slsa-verifier's
// VerifyNpmPackage:
//
//  1. the provenance, through the Verifier's pipeline (signature,
//     identity, statement, the tarball as subject, the certificate
//     cross-check, the trusted builder and level, source, ref, build type,
//     parameters, expressions), listed as the predicate type it is;
//  2. CheckBuilder: the provenance is of the builder BuilderID names: for a
//     runner, the npm CLI's (SLSA v0.2 build type
//     https://github.com/npm/cli/gha/v2, or GitHub's first build type in
//     SLSA v1) on that kind of runner, as the certificate says, the legacy
//     id only for v0.2; for a BYOB builder, slsa-github-generator's BYOB
//     build type on a GitHub-hosted runner;
//  3. CheckPublishAttestation: the publish attestation, one DSSE envelope
//     signed by a key of npm's keys.json (the bundle's key hint and the
//     signature's key id name it), logged in a transparency log of the
//     trusted root at a time inside the key's validity window, not after
//     the clock's now; its one subject is the tarball's sha512 and names
//     the package the provenance's one subject names
//     (pkg:npm/NAME@VERSION), as its predicate does;
//  4. CheckPackage: that package is Name and Version, when given.
//
// The first failure is returned as a *CheckError.
func (n *NpmVerifier) Verify(a *NpmAttestations, tarball Digest) (*NpmResult, error) {
	if a == nil || a.Provenance == nil || a.Publish == nil {
		return nil, fail(CheckInput, "npm attestations with provenance and a publish attestation", "none", ErrMalformed)
	}
	if tarball.Algorithm != "sha512" {
		return nil, fail(CheckInput, "the tarball's sha512 digest", tarball.Algorithm, ErrMalformed)
	}
	res, err := n.v.Verify(a.Provenance, tarball)
	if err != nil {
		return nil, err
	}
	if res.PredicateType != a.ProvenanceType {
		return nil, fail(CheckStatement, "provenance of the predicate type the attestations file lists, "+a.ProvenanceType, res.PredicateType, ErrMalformed)
	}
	if err := n.checkBuilder(res); err != nil {
		return nil, err
	}
	if len(res.Statement.Subject) != 1 {
		return nil, fail(CheckPackage, "provenance with one subject, the package", fmt.Sprintf("%d subjects", len(res.Statement.Subject)), ErrMalformed)
	}
	name, version, err := parseNpmSubject(res.Statement.Subject[0].Name)
	if err != nil {
		return nil, fail(CheckPackage, "a provenance subject pkg:npm/NAME@VERSION", res.Statement.Subject[0].Name, err)
	}
	out := &NpmResult{Result: res, Name: name, Version: version}
	if err := n.verifyPublish(a.Publish, tarball, out); err != nil {
		return nil, err
	}
	if n.pkg.Name != "" && name != n.pkg.Name {
		return nil, fail(CheckPackage, "package "+n.pkg.Name, "package "+name, ErrPackageNameMismatch)
	}
	if n.pkg.Version != "" && version != n.pkg.Version {
		return nil, fail(CheckPackage, "version "+n.pkg.Version, "version "+version+" of "+name, ErrPackageVersionMismatch)
	}
	n.v.c.log.Debug("npm package verified", "package", name, "version", version, "level", res.Level)
	return out, nil
}

// checkBuilder checks that the provenance is of the builder the package's
// BuilderID names, as slsa-verifier's verifyNpmEnvAndCert and
// VerifyNpmPackageProvenance do. A runner named no trusted builder: the
// level is what the pipeline granted.
func (n *NpmVerifier) checkBuilder(res *Result) error {
	id, env := n.pkg.BuilderID, res.Identity.Extensions.RunnerEnvironment
	got := res.BuilderID + " (buildType " + res.BuildType + ")"
	if !n.pkg.runner() {
		if res.BuildType != BuildTypeDelegator {
			return fail(CheckBuilder, id+" on slsa-github-generator's BYOB framework (buildType "+BuildTypeDelegator+")", got, ErrBuilderMismatch).
				with(npmBuilderFix(res))
		}
		if env != "github-hosted" {
			return fail(CheckBuilder, "a BYOB builder on a GitHub-hosted runner", "runner environment "+orNone(env), ErrBuilderMismatch)
		}
		return nil
	}
	if res.BuildType != BuildTypeNpmCLIv2 && res.BuildType != BuildTypeGitHubWorkflowV0 {
		return fail(CheckBuilder, "the npm CLI's provenance, on the runner "+id, got, ErrBuilderMismatch).with(npmBuilderFix(res))
	}
	wantEnv := "github-hosted"
	if id == NpmRunnerSelfHosted {
		wantEnv = "self-hosted"
	}
	if env != wantEnv {
		return fail(CheckBuilder, "a "+wantEnv+" runner (--builder-id "+id+")", "runner environment "+orNone(env)+" in the certificate", ErrBuilderMismatch).
			with(npmBuilderFix(res))
	}
	if id == NpmRunnerLegacy && res.PredicateType != PredicateSLSAv02 {
		return fail(CheckBuilder, id+", which only the npm CLI's SLSA v0.2 provenance names", "SLSA v1 provenance of "+res.BuilderID, ErrBuilderMismatch).
			with("name the runner as this provenance does: --builder-id " + NpmRunnerGitHubHosted)
	}
	// slsa-verifier's loose match: v0.2 provenance wrote the short id for a
	// GitHub-hosted runner. The cross-check has bound builder.id to the
	// certificate's runner environment already.
	hosted := strings.TrimSuffix(id, "/github-hosted")
	if res.BuilderID != id && res.BuilderID != hosted && res.BuilderID != hosted+"/github-hosted" {
		return fail(CheckBuilder, id, res.BuilderID, ErrBuilderMismatch)
	}
	return nil
}

// npmBuilderFix names the builder the provenance shows, for --builder-id.
func npmBuilderFix(res *Result) string {
	switch {
	case res.BuildType == BuildTypeDelegator:
		name, _, _ := strings.Cut(res.BuilderID, "@")
		return "this package was built by " + res.BuilderID + "; if you trust it, name it: --builder-id " + name
	case res.BuildType == BuildTypeNpmCLIv2 || res.BuildType == BuildTypeGitHubWorkflowV0:
		if res.Identity.Extensions.RunnerEnvironment == "self-hosted" {
			return "this package was built by the npm CLI on a self-hosted runner: --builder-id " + NpmRunnerSelfHosted
		}
		return "this package was built by the npm CLI on a GitHub-hosted runner: --builder-id " + NpmRunnerGitHubHosted
	}
	return ""
}

// verifyPublish checks the registry's publish attestation, as
// slsa-verifier's verifyPublishAttestationSignature,
// verifyPublishAttestationSubjectDigest and verifyIntotoHeaders do, and
// records it in out.
func (n *NpmVerifier) verifyPublish(b *bundle.Bundle, tarball Digest, out *NpmResult) error {
	bad := func(want, got string, err error) *CheckError { return fail(CheckPublishAttestation, want, got, err) }
	env, err := b.Envelope()
	if err != nil || env == nil || env.Envelope == nil {
		return bad("a DSSE envelope", "a message signature or none", ErrMalformed)
	}
	if n := len(env.Signatures); n != 1 {
		return bad("1 signature", fmt.Sprint(n), ErrSignatureCount)
	}
	if env.PayloadType != PayloadTypeInToto {
		return bad("payloadType "+PayloadTypeInToto, env.PayloadType, ErrMalformed)
	}
	pk := b.GetVerificationMaterial().GetPublicKey()
	if pk == nil {
		return bad("a signature by an npm registry key", "a signature by a certificate or none", ErrNpmRegistryKey)
	}
	hint := pk.GetHint()
	if kid := env.Signatures[0].KeyID; kid != "" && kid != hint {
		return bad("the signature's key id "+kid, "key hint "+orNone(hint), ErrNpmRegistryKey)
	}
	key, ok := n.keys.keys[hint]
	if !ok {
		return bad("a key npm's keys.json lists for "+npmKeyUsage, orNone(hint), ErrNpmRegistryKey).
			with("if the registry has a new key, use its current keys.json (the registry.npmjs.org/keys.json target of Sigstore's TUF repository)")
	}
	res, err := n.publish.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey()))
	if err != nil {
		return bad("a signature by npm registry key "+key.id+", logged in a transparency log of the trusted root", "one that does not verify", err)
	}
	now := n.v.c.now()
	for _, ts := range res.VerifiedTimestamps {
		if ts.Timestamp.After(now) {
			return bad("a signing time not after "+now.UTC().Format(time.RFC3339), ts.Timestamp.UTC().Format(time.RFC3339), ErrFutureTimestamp)
		}
		if !key.validAt(ts.Timestamp) {
			return bad("a signing time while key "+key.id+" was valid, "+key.window(), ts.Timestamp.UTC().Format(time.RFC3339), ErrNpmRegistryKey)
		}
		out.PublishTimestamps = append(out.PublishTimestamps, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp})
	}
	if len(out.PublishTimestamps) == 0 {
		return bad("a verified signing time", "none", ErrMalformed)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return bad("a base64 payload", "undecodable", ErrMalformed)
	}
	st, err := parseStatement(payload, 1, []string{PredicateNpmPublish})
	if err != nil {
		got := "one that is not"
		if st != nil {
			got = "predicate type " + st.PredicateType
		}
		return bad("an in-toto statement of predicate type "+PredicateNpmPublish+" with one subject", got, err)
	}
	if h := st.Subject[0].Digest["sha512"]; h != tarball.Hex {
		return bad("subject "+tarball.String(), "sha512:"+orNone(h), ErrSubjectMismatch)
	}
	name, version, err := parseNpmSubject(st.Subject[0].Name)
	if err != nil {
		return bad("a subject pkg:npm/NAME@VERSION", st.Subject[0].Name, err)
	}
	r := &reader{}
	pred := r.asObject(st.doc["predicate"], "predicate")
	pName, pVersion, registry := r.str(pred, "predicate", "name"), r.str(pred, "predicate", "version"), r.str(pred, "predicate", "registry")
	if r.err != nil {
		return bad("a predicate {name, version, registry}", "another", r.err)
	}
	if pName != name || pVersion != version {
		return bad("a predicate naming its subject's package "+name+"@"+version, orNone(pName)+"@"+orNone(pVersion), ErrMalformed)
	}
	if name != out.Name {
		return bad("package "+out.Name+", as the provenance names it", "package "+name, ErrPackageNameMismatch)
	}
	if version != out.Version {
		return bad("version "+out.Version+", as the provenance names it", "version "+version, ErrPackageVersionMismatch)
	}
	out.Registry, out.PublishKeyID = registry, key.id
	return nil
}

// parseNpmSubject reads a subject name pkg:npm/NAME@VERSION (the package
// URL npm writes: a scope's @ escaped as %40), as slsa-verifier's
// getPackageNameAndVersion does, except that "+" stays "+" (a version's
// build metadata), where slsa-verifier's query unescaping makes it a
// space.
func parseNpmSubject(s string) (name, version string, err error) {
	rest, ok := strings.CutPrefix(s, npmPurlPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: not a %s package URL", ErrMalformed, npmPurlPrefix)
	}
	rest, err = url.PathUnescape(rest)
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	scoped := strings.HasPrefix(rest, "@")
	parts := strings.Split(strings.TrimPrefix(rest, "@"), "@")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" || strings.ContainsAny(rest, " ?#") || (scoped && strings.Count(parts[0], "/") != 1) {
		return "", "", fmt.Errorf("%w: want [@SCOPE/]NAME@VERSION, got %q", ErrMalformed, rest)
	}
	name = parts[0]
	if scoped {
		name = "@" + name
	}
	return name, parts[1], nil
}

// SHA512 returns the sha512 digest of data: an npm tarball's integrity
// digest, which its attestations name.
func SHA512(data []byte) Digest {
	sum := sha512.Sum512(data)
	return Digest{Algorithm: "sha512", Hex: hex.EncodeToString(sum[:])}
}

// crossCheckDelegatorV02 checks slsa-github-generator's BYOB provenance in
// SLSA v0.2, as its Node.js builder wrote it (v1.5, v1.6): as
// crossCheckDelegator does for v1, with the source in
// invocation.configSource and materials and the GitHub facts the delegator
// recorded in invocation.environment. The TRW's inputs are in
// invocation.parameters.inputs.
func crossCheckDelegatorV02(p *predicateV02, c *certFields) (map[string]bool, error) {
	if !delegatorRE().MatchString(c.BuildSignerURI) {
		return nil, mismatch("signer of buildType "+BuildTypeDelegator, "an slsa-github-generator delegator at a release tag", c.BuildSignerURI)
	}
	trw, ref, ok := strings.Cut(p.Builder.ID, "@")
	if !ok || !strings.HasPrefix(trw, "https://github.com/") || !isReleaseTag(ref) {
		return nil, mismatch("builder.id (the trusted reusable workflow)", "https://github.com/OWNER/REPO/PATH@refs/tags/vX.Y.Z", p.Builder.ID)
	}
	cs := p.Invocation.ConfigSource
	wantURI := "git+" + c.SourceRepositoryURI + "@" + c.SourceRepositoryRef
	if err := equalCert("invocation.configSource.uri", wantURI, cs.URI); err != nil {
		return nil, err
	}
	if err := equalCert("invocation.configSource.digest.sha1", c.SourceRepositoryDigest, cs.Digest["sha1"]); err != nil {
		return nil, err
	}
	if err := equalCert("invocation.configSource.entryPoint", buildConfigPath(c), cs.EntryPoint); err != nil {
		return nil, err
	}
	if len(p.Materials) != 1 {
		return nil, mismatch("materials", "the source only", fmt.Sprintf("%d entries", len(p.Materials)))
	}
	if err := equalCert("materials[0].uri", wantURI, p.Materials[0].URI); err != nil {
		return nil, err
	}
	if err := equalCert("materials[0].digest.sha1", c.SourceRepositoryDigest, p.Materials[0].Digest["sha1"]); err != nil {
		return nil, err
	}
	if id := p.Metadata.BuildInvocationID; id != "" {
		runID, attempt := runOf(c.RunInvocationURI)
		if err := equalCert("metadata.buildInvocationID", runID+"-"+attempt, id); err != nil {
			return nil, err
		}
	}
	if err := checkUpperGitHubEnv("invocation.environment.", p.Invocation.Environment, c); err != nil {
		return nil, err
	}
	return map[string]bool{"inputs": true, "vars": true}, nil
}
