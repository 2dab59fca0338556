// Package factory is Hallmark's factory mode: a Kubernetes controller that
// watches Tekton v1 TaskRuns and PipelineRuns and, when one succeeds, signs
// SLSA v1.0 provenance for what its type hints name (internal/tekton),
// through the same core and the same bundle format as GitHub mode.
//
// The controller signs with its own identity, an X.509-SVID from the SPIRE
// agent's Workload API (or a Fulcio certificate bought with a JWT-SVID); the
// key never leaves the controller, so build steps cannot reach it. Rekor
// and/or an RFC 3161 timestamp prove when it signed.
//
// State lives in the run's annotations, with Tekton Chains' names where
// they mean the same (chains.tekton.dev/signed, …/retries,
// …/transparency) and factory.hallmark.dev/* for the rest. The controller
// adds no finalizer, so it never blocks deleting a run. A run with nothing
// to attest is marked skipped and left alone; a failure is retried with
// exponential backoff up to Config.MaxRetries times, then the run is marked
// failed and an Event gives the reason.
package factory
