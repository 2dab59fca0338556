// Package tekton is factory mode's front end: it reads a completed Tekton v1
// TaskRun or PipelineRun and gives the build facts and subjects of its SLSA
// v1.0 provenance, laid out as Tekton Chains lays out slsa/v2alpha4
// (buildType https://tekton.dev/chains/v2/slsa), so tools that read Chains'
// provenance read Hallmark's.
//
// What a run built is read from Chains' type hints, the results (and
// parameters) a Task already declares for Chains:
//
//   - *IMAGE_URL with *IMAGE_DIGEST, and IMAGES (a comma- or
//     newline-separated list of REF@DIGEST): container image subjects;
//   - *ARTIFACT_URI with *ARTIFACT_DIGEST: artifact subjects;
//   - object results *ARTIFACT_OUTPUTS {uri, digest, isBuildArtifact}:
//     subjects when isBuildArtifact is "true", byproducts otherwise;
//   - object results or parameters *ARTIFACT_INPUTS {uri, digest} and
//     CHAINS-GIT_URL with CHAINS-GIT_COMMIT: resolved dependencies.
//
// Results are written by user-defined steps, so they are untrusted input:
// a malformed hint is skipped and reported in [Attestation.Warnings], never
// a reason to trust less of the rest. The package reads no cluster state;
// the controller in internal/factory fetches the runs.
package tekton
