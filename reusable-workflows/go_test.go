package workflows_test

import (
	"path/filepath"
	"testing"
)

// TestGoExample runs examples/go.yml under act: Hallmark's Go builder
// builds the caller's command in a job without id-token, signs its
// provenance in another, and the caller's verify job checks it; the test
// verifies the bundle again at L3.
func TestGoExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newFixture(t)
	caller, sha := f.caller(t, "examples/go.yml", map[string]string{
		"go.mod":            "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	})
	jobWorkflow, builder := hallmarkWorkflow("go.yml")
	run := f.run(t, caller, sha, actCase{workflow: "go.yml", jobWorkflow: jobWorkflow})
	mustContain(t, run.Output, "PASSED: out/hello-linux-amd64")

	verifyL3(t, f, filepath.Join(run.Artifacts, "hello-linux-amd64", "hello-linux-amd64"),
		filepath.Join(run.Artifacts, "hello-linux-amd64.sigstore.json", "hello-linux-amd64.sigstore.json"), builder, "refs/heads/main")
}
