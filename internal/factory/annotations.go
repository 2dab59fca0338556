package factory

import (
	"fmt"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Annotations the controller writes on runs: all under its own prefix, so
// that Tekton Chains in the same cluster, which reads
// chains.tekton.dev/signed, never takes a run Hallmark signed for one it
// signed itself, and the other way round.
const (
	// AnnotationPrefix is the prefix of every annotation the controller
	// writes.
	AnnotationPrefix = "factory.hallmark.dev/"
	// AnnotationState is "signed", "failed", "skipped" or "refused".
	AnnotationState = AnnotationPrefix + "state"
	// AnnotationReason says why a run was skipped, refused or failed.
	AnnotationReason = AnnotationPrefix + "reason"
	// AnnotationSigner is the signing identity (a SPIFFE ID).
	AnnotationSigner = AnnotationPrefix + "signer"
	// AnnotationBundle holds the Sigstore bundle JSON when no store kept
	// it (or with BundleAnnotationAlways) and it fits the annotation
	// budget; over the budget it says that the bundle was omitted.
	AnnotationBundle = AnnotationPrefix + "bundle"
	// AnnotationBundleDigest is the SHA-256 digest of the bundle JSON
	// ("sha256:HEX"), exactly as stored: what was read from the places
	// AnnotationStored names is the bundle the controller signed when its
	// digest is this.
	AnnotationBundleDigest = AnnotationPrefix + "bundle-digest"
	// AnnotationStored lists where the bundle was stored.
	AnnotationStored = AnnotationPrefix + "stored"
	// AnnotationSBOM says how many SBOMs of the run's images were signed
	// beside the provenance (the tenant's sbom formats) and where each
	// went.
	AnnotationSBOM = AnnotationPrefix + "sbom"
	// AnnotationRetries counts failed attempts to sign.
	AnnotationRetries = AnnotationPrefix + "retries"
	// AnnotationTransparency points at the log entry.
	AnnotationTransparency = AnnotationPrefix + "transparency"
	// AnnotationNextAttempt is when a run that failed to sign is tried
	// again (RFC 3339). Writing the retry count is itself an update the
	// controller sees at once, so the backoff must live on the run.
	AnnotationNextAttempt = AnnotationPrefix + "next-attempt"
)

// ChainsSigned is Tekton Chains' annotation: "true" once Chains signed a
// run. The controller reads it (Config.SkipChainsSigned) and never writes
// it.
const ChainsSigned = "chains.tekton.dev/signed"

// Finalizer is the controller's finalizer (Config.Finalizer): a run that
// carries it is not deleted before it is attested, or given up on.
const Finalizer = "factory.hallmark.dev/attest"

// Values of AnnotationState.
const (
	StateSigned  = "signed"
	StateFailed  = "failed"
	StateSkipped = "skipped"
	// StateRefused: the tenancy policy refused to sign the run (its
	// namespace is in no tenant, or it claims a source its namespace may
	// not claim). Final: an edited policy does not revisit it.
	StateRefused = "refused"
)

// Kubernetes refuses objects whose annotations total more than 256 KiB;
// the controller keeps its bundle well inside, leaving room for others.
const (
	totalAnnotationLimit = 256 * 1024
	bundleAnnotationMax  = 128 * 1024
	reasonMax            = 1024
)

// final reports whether the controller is done with o.
func final(o client.Object) bool {
	return o.GetAnnotations()[AnnotationState] != ""
}

func retries(o client.Object) int {
	n, err := strconv.Atoi(o.GetAnnotations()[AnnotationRetries])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func annotationsSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// bundleFits reports whether a bundle of n bytes may join o's annotations.
func bundleFits(o client.Object, n int) bool {
	return n <= bundleAnnotationMax && annotationsSize(o.GetAnnotations())+n+len(AnnotationBundle) < totalAnnotationLimit-16*1024
}

func truncate(s string) string {
	if len(s) <= reasonMax {
		return s
	}
	return s[:reasonMax] + fmt.Sprintf("… (%d bytes)", len(s))
}
