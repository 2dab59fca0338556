// Package verifier verifies SLSA build provenance offline: given a Sigstore
// bundle, the artifact's digest(s), trusted material and a policy, it
// returns a Result or a *CheckError naming the failed check with what was
// wanted and what was found.
//
// It is pure: no network, no environment, no global state. The clock is
// injected with WithClock (default time.Now) and the library logs only to
// a *slog.Logger given with WithLogger.
//
// # Verifying
//
//	trusted, err := verifier.LoadTrustedRoot(trustedRootJSON)
//	policy := verifier.DefaultPolicy()
//	policy.Source = "github.com/OWNER/REPO"
//	policy.SourceVersionedTag = "v1"
//	v, err := verifier.New(trusted, policy)
//	bundles, err := verifier.ParseBundles(intotoJSONL) // or ParseBundle
//	res, err := v.VerifyAny(bundles, verifier.SHA256(artifact))
//	var ce *verifier.CheckError
//	if errors.As(err, &ce) { ... ce.Check, ce.Want, ce.Got ... }
//	if errors.Is(err, verifier.ErrVersionedTagMismatch) { ... }
//
// # Checks
//
// Checks run in SLSA's order, each one a Check constant:
//
//  1. CheckInput: one DSSE envelope, exactly one signature, an in-toto
//     payload type, sizes within MaxBundleSize and friends.
//  2. CheckTlog, CheckTimestamp, CheckSignature: sigstore-go's
//     verify.Verifier with the policy's thresholds — transparency log
//     inclusion of this very envelope, enough observer timestamps (never
//     zero: a short-lived certificate needs a signing time; none may lie
//     after the clock's now), the certificate chaining to a trusted Fulcio
//     CA at signing time, SCTs (by default 1 when the trusted root lists CT
//     logs, 0 when it lists none, as in a private Sigstore without CT), and
//     the signature.
//  3. CheckIdentity: OIDC issuer among Policy.Issuers, SAN and Fulcio
//     extensions matching Policy.Identity, runner environment.
//  4. CheckSubject: one of the digests (sha256 or sha512) is a subject; at
//     most Policy.MaxSubjects (default 1024, WithMaxSubjects) subjects.
//  5. CheckPredicateType: https://slsa.dev/provenance/v1 or v0.2.
//  6. CheckPayloadMatchesCertificate: every provenance claim the certificate
//     also records must agree with it. For GitHub's buildType
//     https://actions.github.io/buildtypes/workflow/v1: builder.id equals the
//     build signer URI; externalParameters.workflow repository/ref equal the
//     source repository URI/ref and, with the path, the build config URI;
//     the one resolved dependency is git+REPO@REF at the certificate's
//     commit; invocationId equals the run invocation URI; the recorded
//     event, repository and owner ids and runner environment equal the
//     certificate's. For slsa-github-generator (v0.2 generic, Go, container;
//     v1 container-based) and the npm CLI the analogous fields:
//     configSource uri/sha1/entryPoint, materials, buildInvocationID and the
//     recorded github_* environment. Another build type passes only if its
//     builder.id is the certificate's build signer.
//  7. CheckBuilder: a Policy.Builders entry matches (see BuilderMatcher);
//     level granted = min(entry.MaxLevel, evidence), evidence being 1 for a
//     self-hosted runner, 3 when the signing workflow lives in another
//     repository than the source (a reusable workflow: the caller's steps
//     cannot reach the signing identity), else 2; it must reach MinLevel.
//     Policy.BuilderID additionally requires slsa-verifier's loose match.
//  8. CheckSource, CheckRef: the certificate's source repository and ref
//     against Policy.Source, SourceBranch, SourceTag, SourceVersionedTag.
//  9. CheckBuildType, CheckExternalParameters: Policy.BuildTypes,
//     ExternalParameters, WorkflowInputs, StrictExternalParameters.
//  10. CheckPolicyExpression: every CEL expression (cel-go, compiled once
//     when the policy is loaded) over the variable "statement" is true.
//
// # Patterns
//
// Policy patterns (TrustedBuilder.ID and Signer, Identity fields) are exact
// strings unless prefixed: "glob:" for globs where * stops at "/", **
// does not, ? is one character and {a,b} lists alternatives; "regexp:" for
// RE2 regular expressions, always anchored at both ends.
//
// # Policies
//
// Policies load from YAML or JSON with LoadPolicy (strict: unknown fields
// are errors). See testdata/policy-*.yaml. A private Sigstore with its own
// OIDC issuer and no transparency log:
//
//	issuers: [https://oidc.factory.example.com]
//	builders:
//	  - {name: factory, id: "regexp:https://factory\\.example\\.com/builders/[a-z]+@v[0-9]+", maxLevel: 2}
//	thresholds: {transparencyLog: 0, signedTimestamps: 1}
//	strictExternalParameters: true
//	externalParameters: {target: release}
//
// DefaultPolicy trusts Hallmark's reusable workflows and slsa-github-
// generator's generic, Go and container workflows at tags v* for level 3,
// and GitHub's actions/attest provenance at level 2 (3 from a reusable
// workflow of another repository), all for the issuer
// https://token.actions.githubusercontent.com.
//
// # Mapping command-line flags
//
// A CLI maps slsa-verifier's verify-artifact flags and gh attestation
// verify's flags onto a Policy (usually DefaultPolicy) directly:
//
//	--source-uri github.com/O/R         Policy.Source = "github.com/O/R"
//	--source-tag T                      Policy.SourceTag = T
//	--source-branch B                   Policy.SourceBranch = B
//	--source-versioned-tag vX[.Y[.Z]]   Policy.SourceVersionedTag (major, then minor and patch if given, must match)
//	--builder-id ID[@REF]               Policy.BuilderID (REF "v1.2.3" also matches "refs/tags/v1.2.3")
//	--build-workflow-input k=v          Policy.WorkflowInputs[k] = v
//	--print-provenance                  print Result.Payload
//	--cert-identity SAN                 Policy.Identity.SAN = SAN
//	--cert-identity-regex RE            Policy.Identity.SAN = "regexp:" + RE
//	--cert-oidc-issuer ISS              Policy.Issuers = []string{ISS}
//	--signer-workflow O/R/PATH          Policy.Identity.SignerWorkflow = "github.com/O/R/PATH"
//	--deny-self-hosted-runners          Policy.DenySelfHostedRunners = true
//
// slsa-verifier's error for each verdict maps to a sentinel: ErrMismatchSource
// → ErrSourceMismatch, ErrInvalidRef → ErrRefKind, ErrMismatchBranch →
// ErrBranchMismatch, ErrMismatchTag → ErrTagMismatch,
// ErrMismatchVersionedTag → ErrVersionedTagMismatch, ErrMismatchHash →
// ErrSubjectMismatch, ErrUntrustedReusableWorkflow → ErrUntrustedBuilder or
// ErrBuilderMismatch, ErrMismatchWorkflowInputs → ErrWorkflowInput.
package verifier
