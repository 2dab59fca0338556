// Package oci attaches Sigstore attestation bundles to container images in
// OCI registries, and finds them again.
//
// # Where attestations live
//
// An attestation is an OCI 1.1 referrer of the image it is about: an image
// manifest with artifactType application/vnd.dev.sigstore.bundle.v0.3+json,
// the empty config, one layer holding the bundle, the annotations
// dev.sigstore.bundle.content: dsse-envelope and
// dev.sigstore.bundle.predicateType: <uri>, and a subject descriptor naming
// the image. cosign 2.6+ (--new-bundle-format) and GitHub's attest action
// write this form. A registry that serves the referrers API lists it under
// GET /v2/NAME/referrers/DIGEST; on one that does not (distribution 2.8,
// say), the referrers tag schema's index, tagged sha256-HEX, lists it.
// For consumers that predate OCI 1.1, PushLegacy writes cosign's legacy
// form, the tag sha256-HEX.att. Discover reads that tag too: a layer
// Hallmark wrote carries its whole bundle; one cosign wrote (as
// slsa-github-generator's container workflow does) carries the signing
// certificate and Rekor entry as annotations, and becomes a Sigstore bundle
// v0.1 whose inclusion promise is the entry's signed entry timestamp. A
// layer with neither is reported, never returned.
//
// # Pushing
//
//	d, _ := name.NewDigest("registry.example.com/app@sha256:...")
//	p, err := oci.Push(ctx, d, oci.Attestation{Bundle: bundleJSON, PredicateType: "https://slsa.dev/provenance/v1"})
//
// Blobs go first and the manifest last, and the referrers tag is updated
// only after the manifest exists: a push that fails half-way leaves nothing
// that lists an incomplete attestation.
//
// # Discovering
//
//	found, err := oci.Discover(ctx, d, "https://slsa.dev/provenance/v1")
//	var nf *oci.NotFoundError
//	if errors.As(err, &nf) { ... nf.Discovery.Sources says what each place held ... }
//
// Discover looks at the referrers API, then the referrers tag, then the
// legacy tag, and returns unverified bundles: verify them with the
// verifier package. Tags are resolved with Resolve; a tag can move, so
// verify and deploy by digest.
//
// # Credentials
//
// Credentials come from the docker config as docker itself reads it
// (authn.DefaultKeychain): $DOCKER_CONFIG/config.json, else
// ~/.docker/config.json, with its auths entries (Docker Hub's key is
// https://index.docker.io/v1/), the credential helper credHelpers names for
// the registry, or the credsStore, each helper run as
// docker-credential-NAME get. When the config has nothing for GitHub's
// container registry, a GitHub token logs in to it (WithGitHubToken; inside
// GitHub Actions, $GITHUB_TOKEN). WithKeychain replaces the docker config.
// A refusal is an *AuthError naming the registry, where the credentials
// came from and what to configure.
//
// Registries on loopback or private addresses speak plain HTTP, others only
// with WithInsecureRegistry.
package oci
