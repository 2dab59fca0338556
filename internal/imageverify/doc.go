// Package imageverify is the one flow that finds a container image's
// provenance in its registry and verifies it: `hallmark verify-image` and
// the admission controller both call Verify, so a verdict reads the same
// wherever it is given.
//
// # The flow
//
//  1. The image must be named by digest. A tag fails the input check,
//     naming the digest the tag points to now: a tag can move between
//     verification and use.
//  2. The registry is asked for SLSA provenance (v1, and v0.2 as
//     slsa-github-generator's container workflow attaches it) through the
//     OCI 1.1 referrers API, the referrers tag schema and cosign's legacy
//     .att tag, in that order (oci.DiscoverAny).
//  3. Every bundle found is parsed once and verified against the image's
//     digest with the caller's *verifier.Verifier (VerifyAny): the first
//     that passes is the verdict.
//  4. Only with WithVSA: if no provenance passed, the verification
//     summaries (SLSA VSAs) attached to the image are looked up the same
//     way, and one signed by a verifier the caller trusts, for this digest,
//     saying PASSED at the level asked for, passes the image.
//
// A verdict that the image failed (or carries no provenance) is a Verdict
// with a Failure, never an error: Verify returns an error only when the
// registry could not be asked (unreachable, refused the credentials, timed
// out). Callers that must fail closed treat both as a denial.
//
//	v, _ := verifier.New(trustedRoot, policy)
//	vd, err := imageverify.Verify(ctx, v, "registry.example.com/app@sha256:...", imageverify.WithRegistry(oci.WithKeychain(k)))
//	if err != nil { ... the registry could not be asked ... }
//	if !vd.Passed() { fmt.Println("FAILED: " + vd.Failure.Line(vd.Ref)) }
package imageverify
