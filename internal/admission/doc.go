// Package admission is Hallmark's admission controller: a mutating and a
// validating webhook in front of the API server, so that nothing runs in
// the cluster unless its provenance verifies.
//
// # What it does
//
// For a Pod, and for the pod template of a Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job, CronJob or ReplicationController, created or
// changed outside the excluded namespaces (its own and kube-system by
// default), every container's image (containers, init containers and
// ephemeral containers) is judged by each ImagePolicy that governs it: one
// whose images globs match the image's repository and whose
// namespaceSelector selects the namespace.
//
//  1. The mutating webhook resolves each image named by tag to the digest
//     the tag names now and rewrites it as name@sha256:HEX, so the kubelet
//     runs exactly what was verified; it starts verifying it at once.
//  2. The validating webhook verifies each image by digest through
//     internal/imageverify, the flow verify-image uses: its SLSA provenance
//     (OCI referrers, the referrers tag schema, cosign's .att tag) must pass
//     the policy's Hallmark policy, built from the ImagePolicy's expect and
//     policy fields as verify-image builds one from its flags and --policy
//     file; a verification summary signed by a verifier the ImagePolicy
//     names also passes. A failure under an enforce policy denies the
//     request with verify-image's own line, "FAILED: <check>: want ...,
//     got ..."; under warn it is a warning; under audit an audit
//     annotation. An image no policy governs is denied (or warned about,
//     or allowed: Config.NoMatch).
//
// On an update only images the object did not already run are judged, so
// scaling or finalizing an admitted workload never waits on a registry.
//
// # Speed
//
// Verdicts are cached by (policy UID and generation, repository, digest),
// never by tag: a re-pushed tag resolves to a new digest, which is verified
// afresh. The cache is bounded (least recently used entries go first); a
// pass is kept for Config.CacheTTL or until its evidence expires (a
// summary's maxAge), a failure for the shorter Config.DenyCacheTTL, a
// registry error not at all. Concurrent requests for one key share one
// verification. Each registry call has its own timeout (Config.
// RegistryTimeout) inside the request's deadline (Config.VerifyDeadline),
// which stays inside the webhook configurations' timeoutSeconds.
//
// # Failing closed
//
// A registry that does not answer, refuses the credentials or times out, a
// policy that does not build, a panic, or a request that arrives before the
// ImagePolicies are loaded: each denies, with a message saying which.
// The webhook configurations use failurePolicy Fail, so a webhook that is
// down denies too; its own namespace and kube-system stay outside them, so
// the cluster can always be repaired.
//
// # Credentials
//
// Registries are read with the credentials the kubelet would pull with: the
// pod's image pull secrets, then its service account's
// (.dockerconfigjson or .dockercfg, matched to the registry as the kubelet
// matches them), else anonymously.
//
// # Certificates
//
// The controller keeps its own CA and serving certificate in a Secret
// shared by its replicas, renews each when a third of its life is left,
// and writes the CA into its webhook configurations' caBundle; a new CA is
// added to the bundle before anything is served from it. With
// Config.CertDir it serves the certificate cert-manager keeps instead.
package admission
