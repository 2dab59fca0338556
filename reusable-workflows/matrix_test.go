package workflows_test

import (
	"path/filepath"
	"testing"
)

// TestMatrixExample runs examples/matrix.yml under act: two matrix legs
// each build an artifact and upload its digest, one job gathers the digests
// into base64-subjects, and one provenance job signs for both; the caller's
// verify job checks both, and the test verifies each again at L3.
func TestMatrixExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newFixture(t)
	caller, sha := f.caller(t, "examples/matrix.yml", nil)
	jobWorkflow, builder := hallmarkWorkflow("generic.yml")
	run := f.run(t, caller, sha, actCase{workflow: "matrix.yml", jobWorkflow: jobWorkflow})
	mustContain(t, run.Output, "PASSED: out/app-linux-amd64", "PASSED: out/app-linux-arm64")

	bundle := filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json")
	for _, a := range []string{"app-linux-amd64", "app-linux-arm64"} {
		verifyL3(t, f, filepath.Join(run.Artifacts, a, a), bundle, builder, "refs/heads/main")
	}
}
