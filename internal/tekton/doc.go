// Package tekton is factory mode's front end: it reads a completed Tekton v1
// TaskRun or PipelineRun and gives the build facts and subjects of its SLSA
// v1.0 provenance, laid out as Tekton Chains v0.26.3 lays out slsa/v2alpha4
// (buildType https://tekton.dev/chains/v2/slsa), field for field but for
// the deliberate differences testdata/chains/README.md lists, so tools and
// policies that read Chains' provenance read Hallmark's.
//
// What a run built is read from Chains' type hints, the results (and
// parameters) a Task already declares for Chains:
//
//   - *IMAGE_URL with *IMAGE_DIGEST, and IMAGES (a comma- or
//     newline-separated list of REF@DIGEST): container image subjects;
//   - object results *ARTIFACT_OUTPUTS {uri, digest, isBuildArtifact}:
//     subjects when isBuildArtifact is "true" (digests sha256, sha384,
//     sha512 or sha1); every other result is a byproduct;
//   - object results *ARTIFACT_INPUTS {uri, digest} and CHAINS-GIT_URL
//     with CHAINS-GIT_COMMIT (results, parameters or their defaults):
//     resolved dependencies, and source claims.
//
// Each producer of hints — every step's results (StepActions), every
// TaskRun's results and parameters, the PipelineRun's — is read on its
// own ([ParseHints]): an *IMAGE_URL pairs only with the *IMAGE_DIGEST of
// the same producer, a CHAINS-GIT_URL only with its CHAINS-GIT_COMMIT.
// Only then are the subjects merged, as Chains merges them: one name with
// two digests is two artifacts. A source is verified only when a trusted
// fetcher TaskRun reported it (internal/tenancy); claims that disagree with
// each other or with what was fetched leave it unverified, with a warning.
//
// Results are written by user-defined steps, so they are untrusted input:
// a malformed hint is skipped and reported in [Attestation.Warnings], never
// a reason to trust less of the rest, and credentials in a URL are
// redacted. The package reads no cluster state; the controller in
// internal/factory fetches the runs.
package tekton
