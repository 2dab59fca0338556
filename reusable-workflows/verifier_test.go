package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifierActionFails runs testdata/callers/verify-fails.yml under act:
// after Hallmark's generic workflow signs the provenance, one job verifies
// it for another repository and one verifies an artifact changed after the
// build. Each verify step must fail its job before the deploy step, and its
// step summary (the GITHUB_STEP_SUMMARY file, which act prints after the
// step) must name the failed check.
func TestVerifierActionFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newFixture(t)
	caller, sha := f.caller(t, "testdata/callers/verify-fails.yml", nil)
	jobWorkflow, builder := hallmarkWorkflow("generic.yml")
	run := f.run(t, caller, sha, actCase{workflow: "verify-fails.yml", jobWorkflow: jobWorkflow, wantFail: true})
	for _, tc := range []struct{ job, artifact, check string }{
		{"wrong-source", "dist/app.txt", "source"},
		{"tampered", "tampered/app.txt", "subject"},
	} {
		summary := stepSummary(run.Output, "verify-fails/"+tc.job)
		mustContain(t, summary, "### Hallmark: verification FAILED\n",
			"| `"+tc.artifact+"` | `sha256:", "| **FAILED** | | `"+tc.check+"`: ")
		if t.Failed() {
			t.Logf("step summary of %s:\n%s", tc.job, summary)
		}
	}
	if strings.Contains(run.Output, "DEPLOYED") {
		t.Error("a deploy step ran after its verification failed")
	}
	if n := strings.Count(run.Output, "Job failed"); n != 2 {
		t.Errorf("%d jobs failed, want the 2 that verify", n)
	}
	// The provenance itself is good: the artifact as built passes at L3.
	verifyL3(t, f, filepath.Join(run.Artifacts, "dist", "app.txt"),
		filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json"), builder, "refs/heads/main")
}
