package factory

import (
	"fmt"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Annotations the controller writes on runs.
const (
	// AnnotationSigned is Chains' "signed" annotation: "true" once signed,
	// "failed" once given up.
	AnnotationSigned = "chains.tekton.dev/signed"
	// AnnotationRetries is Chains' count of failed attempts.
	AnnotationRetries = "chains.tekton.dev/retries"
	// AnnotationTransparency is Chains' pointer to the log entry.
	AnnotationTransparency = "chains.tekton.dev/transparency"

	// AnnotationState is "signed", "failed", "skipped" or "refused".
	AnnotationState = "factory.hallmark.dev/state"
	// AnnotationReason says why a run was skipped, refused or failed.
	AnnotationReason = "factory.hallmark.dev/reason"
	// AnnotationSigner is the signing identity (a SPIFFE ID).
	AnnotationSigner = "factory.hallmark.dev/signer"
	// AnnotationBundle holds the Sigstore bundle JSON when it fits the
	// annotation budget; otherwise it says where the bundle is not.
	AnnotationBundle = "factory.hallmark.dev/bundle"
	// AnnotationStored lists where else the bundle was stored.
	AnnotationStored = "factory.hallmark.dev/stored"
	// AnnotationNextAttempt is when a run that failed to sign is tried
	// again (RFC 3339). Writing the retry count is itself an update the
	// controller sees at once, so the backoff must live on the run.
	AnnotationNextAttempt = "factory.hallmark.dev/next-attempt"
)

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
