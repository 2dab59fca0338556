package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenericExample runs examples/generic.yml under act once per event it
// is written for: the caller's build job hashes two files, Hallmark's
// generic workflow signs their provenance, and the caller's verify job
// checks it with the slsa-verify action. The test verifies the bundle again
// at L3, from the ref the event names. The sandbox's tokens carry the
// event's event_name and ref, as GitHub's do.
//
// A pull request from a fork gets no token request variables, as on
// GitHub: the run fails with the message that says why.
func TestGenericExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newFixture(t)
	jobWorkflow, builder := hallmarkWorkflow("generic.yml")
	for _, tc := range []struct {
		name    string
		event   string
		payload string // under testdata/events
		ref     string
		// channel is the dispatch input the build writes into app.txt.
		channel string
		fork    bool
	}{
		{name: "push", event: "push", ref: "refs/heads/main", channel: "stable"},
		{name: "release", event: "release", payload: "release-published.json", ref: "refs/tags/v1.2.3", channel: "stable"},
		{name: "workflow_dispatch", event: "workflow_dispatch", payload: "workflow-dispatch-inputs.json", ref: "refs/heads/main", channel: "beta"},
		{name: "pull_request-from-fork", event: "pull_request", payload: "pull-request-from-fork.json", ref: "refs/pull/42/merge", fork: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caller, sha := f.caller(t, "examples/generic.yml", nil)
			c := actCase{workflow: "generic.yml", jobWorkflow: jobWorkflow, event: tc.event, ref: tc.ref, noToken: tc.fork, wantFail: tc.fork}
			if tc.payload != "" {
				data, err := os.ReadFile(filepath.Join("testdata", "events", tc.payload))
				if err != nil {
					t.Fatal(err)
				}
				c.payload = string(data)
			}
			run := f.run(t, caller, sha, c)
			t.Logf("attest action: %s", run.ActionTime)
			if tc.fork {
				// The reason is asserted in the step summary: act can drop
				// the last lines a failing step writes to its log (see
				// stepSummary).
				mustContain(t, stepSummary(run.Output, "provenance/Hallmark generic provenance/provenance"),
					"### Hallmark: attestation FAILED\n", "no OIDC identity token in this run: GitHub gives pull requests from forks none")
				if strings.Contains(run.Output, "Success - Main Sign the provenance") {
					t.Error("the provenance was signed in a pull request from a fork")
				}
				return
			}
			mustContain(t, run.Output, "release binary "+hallmarkRef+"/hallmark_linux_amd64", "PASSED: dist/app.txt", "PASSED: dist/docs.txt",
				"hallmark: this workflow is "+jobWorkflow+", commit "+f.actionSHA(t))
			// The bundle went to the repository's attestation store too.
			if stored := run.GitHub.Attestations(callerRepo); len(stored) != 1 {
				t.Errorf("the attestation store holds %d attestations, want 1", len(stored))
			}
			app, err := os.ReadFile(filepath.Join(run.Artifacts, "dist", "app.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "app " + sha + " " + tc.channel + "\n"; string(app) != want {
				t.Errorf("app.txt = %q, want %q", app, want)
			}
			bundle := filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json")
			for _, a := range []string{"app.txt", "docs.txt"} {
				verifyL3(t, f, filepath.Join(run.Artifacts, "dist", a), bundle, builder, tc.ref)
			}
			mustContainEvent(t, bundle, tc.event, tc.ref)
		})
	}
}
