package workflows_test

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestGoExample runs examples/go.yml under act: Hallmark's Go builder
// builds the caller's command in a job without id-token, signs its
// provenance in another, with an SPDX SBOM of the binary made there from
// the uploaded binary, and the caller's verify job checks the provenance;
// the test verifies both bundles again at L3 and finds the caller's module
// in the SBOM.
func TestGoExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newSBOMFixture(t)
	caller, sha := f.caller(t, "examples/go.yml", map[string]string{
		"go.mod":            "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	})
	jobWorkflow, builder := hallmarkWorkflow("go.yml")
	run := f.run(t, caller, sha, actCase{workflow: "go.yml", jobWorkflow: jobWorkflow})
	mustContain(t, run.Output, "PASSED: out/hello-linux-amd64")

	bin := filepath.Join(run.Artifacts, "hello-linux-amd64", "hello-linux-amd64")
	bundles := filepath.Join(run.Artifacts, "hello-linux-amd64.sigstore.json")
	verifyL3(t, f, bin, filepath.Join(bundles, "hello-linux-amd64.sigstore.json"), builder, "refs/heads/main")
	sbom := filepath.Join(bundles, "hello-linux-amd64.spdx.sigstore.json")
	verifyCommandL3(t, f, "verify-artifact", bin, "--provenance-path", sbom, "--predicate-type", "spdx", "--source-branch", "main")
	if names := sbomPackages(t, f, bin, sbom, "spdx", "packages"); !slices.Contains(names, "example.com/hello") {
		t.Errorf("the binary's SBOM lists no example.com/hello: %v", names)
	}
}
