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
// State lives in the run's annotations, all under factory.hallmark.dev/, so
// the controller runs beside Tekton Chains on one cluster: it never writes
// chains.tekton.dev/signed, which Chains reads to skip a run, and it reads
// that annotation only to skip runs Chains signed when told to
// (Config.SkipChainsSigned). With Config.Finalizer, the finalizer
// factory.hallmark.dev/attest keeps a run from being deleted (pruned) before
// it is attested, and is released once the run is marked, or
// Config.FinalizerTimeout after its deletion was asked for: it never blocks
// deletion for good. A run with nothing to attest is marked skipped and
// left alone; a failure is retried with exponential backoff up to
// Config.MaxRetries times, then the run is marked failed and an Event gives
// the reason. The informer caches keep only what the controller reads
// (cache.go), so its memory does not grow with the runs it is done with.
package factory
