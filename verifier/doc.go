// Package verifier verifies SLSA build provenance offline: given a Sigstore
// bundle, the artifact's digest(s), trusted material and a policy, it
// returns a Result or a *CheckError naming the failed check with what was
// wanted, what was found and, where the verifying user can act, what to
// change or pin.
//
// It is pure: no network, no environment, no global state. The clock is
// injected with WithClock (default time.Now) and the library logs only to
// a *slog.Logger given with WithLogger. It is safe by default: New refuses
// a policy that expects no source repository unless WithoutSourceUnsafe is
// given.
//
// # Verifying
//
//	trusted, err := verifier.LoadTrustedRoot(trustedRootJSON)
//	policy, err := verifier.DefaultPolicyWith(verifier.Flags{
//		Source: "github.com/OWNER/REPO", SourceVersionedTag: "v1",
//	})
//	v, err := verifier.New(trusted, policy)
//	bundles, err := verifier.ParseBundles(intotoJSONL) // or ParseBundle
//	res, err := v.VerifyAny(bundles, verifier.SHA256(artifact))
//	var ce *verifier.CheckError
//	if errors.As(err, &ce) { ... ce.Check, ce.Want, ce.Got, ce.Fix ... }
//	if errors.Is(err, verifier.ErrVersionedTagMismatch) { ... }
//
// # One pipeline
//
// Verify and VerifyVSA run one ordered list of named checks; the order
// never depends on anything but this list:
//
//  1. CheckInput: one DSSE envelope, exactly one signature, an in-toto
//     payload type, artifact digests of sound algorithms (sha256, sha384,
//     sha512). ParseBundle's failures (size limits, media types, missing
//     inclusion proofs or promises) are CheckInput failures too.
//  2. CheckSignature, failing as CheckTlog, CheckTimestamp or
//     CheckSignature: sigstore-go's verify.Verifier with the policy's
//     thresholds — transparency log inclusion of this very entry, enough
//     observer timestamps (never zero: a short-lived certificate needs a
//     signing time; none may lie after the clock's now), the certificate
//     chaining to a trusted Fulcio CA or, with WithSPIFFEBundles, an
//     X.509-SVID chaining to the bundle of its own trust domain, at signing
//     time, SCTs (by default 1 when the trusted root lists CT logs, 0 when
//     it lists none), and the signature. A bundle whose entries are Rekor
//     intoto v0.0.1 entries (cosign's legacy attestations, before 2023),
//     which sigstore-go does not check, gets the same checks from its
//     parts: the entry's inclusion promise under a log of the trusted root,
//     the entry logging this payload's sha256 and this certificate, the
//     chain and SCTs at its integrated time, the signature.
//  3. CheckIdentity: for a Fulcio certificate, its OIDC issuer among
//     Policy.Issuers, SAN and extensions matching Policy.Identity and every
//     narrowing flag; for a SPIFFE signer, its SPIFFE ID among
//     Policy.SPIFFE's. An expectation that cannot apply to the signer's kind
//     (a signer workflow for an X.509-SVID, a SPIFFE ID for a GitHub
//     certificate) fails with ErrNotApplicable: nothing is ignored.
//  4. CheckStatement, CheckPredicateType: the payload is decoded once, by a
//     strict decoder that refuses duplicate keys, keys equal under Unicode
//     case folding, invalid UTF-8, unknown top-level fields and nesting
//     over 64 levels; every later check, the policy's expressions and the
//     Result read that one decoded value. The predicate type must be one
//     the policy accepts, and its predicate must have the fields of that
//     type.
//  5. CheckSubject: a subject lists one of the artifact's digests, and no
//     other sound digest of that subject contradicts the artifact's; sha1
//     and md5 never match (ErrWeakDigest); at most Policy.MaxSubjects.
//  6. CheckPayloadMatchesCertificate: every provenance claim the
//     certificate also records agrees with it. For GitHub's build type
//     https://actions.github.io/buildtypes/workflow/v1: builder.id equals
//     the build signer URI; externalParameters.workflow repository/ref equal
//     the source repository URI/ref and, with the path, the build config
//     URI; exactly one resolved dependency, git+REPO@REF at the
//     certificate's commit; invocationId equals the run invocation URI; the
//     recorded event, repository and owner ids and runner environment equal
//     the certificate's. For slsa-github-generator (v0.2 generic, Go,
//     container; v1 container-based) and the npm CLI the analogous fields.
//     Another build type, or any signer but a GitHub Actions certificate,
//     passes only if the signer is the builder.id it names. A GitHub
//     certificate Fulcio issued before 2023 records no workflow file, run
//     or repository ids: slsa-github-generator's claims of those are then
//     listed in Result.Unverified rather than compared.
//  7. CheckBuilder: the trust rule below.
//  8. CheckSource, CheckRef: the certificate's source repository and ref
//     (for a SPIFFE signer, the source the factory recorded; no ref)
//     against Policy.Source, SourceBranch, SourceTag, SourceVersionedTag.
//  9. CheckBuildType, CheckExternalParameters: Policy.BuildTypes,
//     ExternalParameters, WorkflowInputs (only a workflow_dispatch run, as
//     its certificate says, has inputs), StrictExternalParameters.
//  10. CheckPolicyExpression: every CEL expression (cel-go, compiled once
//     when the policy is loaded) over the variable "statement" is true.
//
// VerifyVSA runs steps 1 to 5 for a verification summary, with its own
// identity expectation and thresholds (a log entry unless the VSAPolicy
// says otherwise: the bundle never decides), then CheckVSA.
//
// Google Cloud Build signs provenance with its attestor keys in Cloud KMS
// instead: NewGCB takes those keys (LoadGCBKeys) and the same policy, and
// GCBVerifier.Verify runs the same checks in the same order on gcloud's
// JSON (ParseGCBProvenance), as slsa-verifier verifies it; see Verify.
//
// # Trust
//
// A level above what the evidence itself proves is granted only by a
// builder the verifying user names: a Builders entry of their policy (the
// built-in policy's entries are Hallmark's and slsa-github-generator's
// reusable workflows at release tags and Cloud Build's hosted workers, as
// slsa-verifier trusts its builders), or, on the built-in policy, a
// builder named on the command line (DefaultPolicyWith). The level is the
// highest MaxLevel of the entries that match, capped by the evidence:
//
//	signer                           no builder named           builder named
//	GitHub, GitHub-hosted runner     2 (built-in actions/attest)  entry's level, up to 3
//	GitHub, self-hosted runner       1                            1
//	another Fulcio identity          untrusted                    entry's level
//	X.509-SVID or SPIFFE keyless     untrusted                    entry's level
//	Cloud Build attestor key,        3 (built-in: as a generator  entry's level
//	  Google-hosted worker             trusted by slsa-verifier)
//
// What names a builder, and at which refs:
//
//	policy entry (id, signer)        as its patterns say
//	--builder-id ID@REF              ID at REF ("v1.2.3" also matches refs/tags/v1.2.3)
//	--builder-id ID                  ID at release tags refs/tags/vX.Y.Z only
//	--signer-workflow O/R/PATH@REF   that workflow at REF
//	--signer-workflow O/R/PATH       that workflow at release tags (it must have signed, at any ref)
//	--spiffe-id spiffe://TD/PATH     that SPIFFE ID exactly
//
// A caller that pins a reusable workflow by commit
// (uses: .../generic.yml@SHA) gets a certificate and builder.id at that
// commit, which no release-tag entry matches: name it exactly, with
// --builder-id ID@SHA or a policy entry whose signer ends in @SHA. GitHub
// Enterprise Server and ghe.com issue tokens from their own issuers; list
// them in the policy's issuers.
//
// An entry trusts a SPIFFE signer only through a Signer pattern that fixes
// the trust domain and the start of the path: a trust domain is not a
// builder (every tenant's build pod has an ID in it), and an entry that
// matches only the builder id trusts nothing a signer could write itself.
// --builder-id names no builder for the npm CLI's build type, whose builder
// id is the runner. slsa-github-generator's record of the branch a tag was
// pushed from (base_ref) counts for --source-branch only at level 3.
//
// # Factory provenance
//
// Hallmark's factory signs with the controller's SPIFFE ID (or, per tenant,
// <controller ID>/tenant/NAMESPACE) and records in
// internalParameters["hallmark.dev/factory"] who built the run (namespace,
// service account, run) and its source with whether a trusted fetcher
// reported it (kubernetes/README.md has the fields). For a SPIFFE signer,
// the verifier reads that record, never the run's claims: the source
// compared with Policy.Source is the record's, and only a verified one
// (ErrSourceUnverified names the namespace that claimed it otherwise); the
// level is capped by the record's maxLevel (2 without a record); a
// per-tenant signer must be the recorded namespace's; and a builder entry's
// Tenants say which namespaces may build which sources (ErrTenant).
//
// A factory level 3 thus means: the controller's key, out of reach of build
// steps, signed; the tenancy policy let the namespace claim the repository;
// the repository and commit came from the results of a Task fetched from a
// trusted source pinned by digest; and every definition the run used came
// from a trusted source pinned by digest. That holds only while the
// platform keeps the tenancy policy, the runs' status and the trusted
// sources out of tenants' reach (kubernetes/README.md).
//
// # Flags
//
// DefaultPolicyWith and Policy.Narrow are the one place where command-line
// flags (Flags) meet trust. On the built-in policy the naming flags above
// add trusted builders and --cert-oidc-issuer replaces the trusted issuer
// (the way to verify a private or sandbox Sigstore); every other flag
// narrows. On a policy file every flag only narrows: identity flags add
// expectations that must all hold, --cert-oidc-issuer must be one the file
// lists, and a flag contradicting the file (another source, builder id,
// ref or input) is an error.
//
//	--source-uri github.com/O/R         Flags.Source
//	--source-tag T                      Flags.SourceTag
//	--source-branch B                   Flags.SourceBranch
//	--source-versioned-tag vX[.Y[.Z]]   major, then minor and patch if given; a pre-release only by its full name
//	--builder-id ID[@REF]               Flags.BuilderID
//	--build-workflow-input k=v          Flags.WorkflowInputs[k] = v
//	--cert-identity SAN                 Flags.CertIdentity
//	--cert-identity-regex RE            Flags.CertIdentityRegex (searched, as gh and cosign do: anchor it with ^ and $)
//	--cert-oidc-issuer ISS              Flags.CertOIDCIssuer
//	--signer-workflow O/R/PATH[@REF]    Flags.SignerWorkflow
//	--deny-self-hosted-runners          Flags.DenySelfHostedRunners
//	--signer-repo OWNER/REPO            Flags.SignerRepo (gh's: a workflow of that repository signed)
//	--owner OWNER                       Flags.Owner (gh's: the source repository's owner)
//	--spiffe-id ID                      Flags.SPIFFEIDs
//	--min-level N                       Flags.MinLevel
//
// slsa-verifier's error for each verdict maps to a sentinel: ErrMismatchSource
// → ErrSourceMismatch, ErrInvalidRef → ErrRefKind, ErrMismatchBranch →
// ErrBranchMismatch, ErrMismatchTag → ErrTagMismatch,
// ErrMismatchVersionedTag → ErrVersionedTagMismatch, ErrMismatchHash →
// ErrSubjectMismatch, ErrUntrustedReusableWorkflow → ErrUntrustedBuilder or
// ErrBuilderMismatch, ErrMismatchWorkflowInputs → ErrWorkflowInput.
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
//	source: github.com/acme/app
//
// Factory mode, a controller signing with its X.509-SVID, whose team-a may
// build only its own repositories:
//
//	spiffe: {ids: ["spiffe://example.org/ns/hallmark-system/sa/hallmark-factory"]}
//	builders:
//	  - name: factory
//	    signer: "spiffe://example.org/ns/hallmark-system/sa/hallmark-factory"
//	    maxLevel: 3
//	    tenants:
//	      - {namespace: team-a, sources: ["glob:https://github.com/team-a/*"]}
//	source: github.com/team-a/app
//
// # The adversarial corpus
//
// testdata/adversarial holds bundles an attacker could make, one per attack
// class, each with the verdict it must get; TestAdversarialCorpus runs
// them. A change that makes one pass is a false accept.
package verifier
