package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestGoExample runs examples/go.yml under act: Hallmark's Go builder
// builds the caller's command in a job without id-token, signs its
// provenance in another, and the caller's verify job checks it; the test
// verifies the bundle again at L3.
func TestGoExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	sb := sandboxtest.Start(t)
	bin := sandboxtest.Binary(t)
	pol := policy(sb.IssuerURL)
	trusted, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	caller, sha := newCaller(t, "go.yml", map[string]string{
		".github/hallmark-policy.yaml": pol,
		".github/trusted_root.json":    string(trusted),
		"go.mod":                       "module example.com/hello\n\ngo 1.26\n",
		"cmd/hello/main.go":            "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	})
	builder := "https://github.com/hallmark-dev/hallmark/.github/workflows/go.yml@refs/tags/" + hallmarkRef
	run := runAct(t, sb, caller, sha, "go.yml", "hallmark-dev/hallmark/.github/workflows/go.yml@refs/tags/"+hallmarkRef,
		actionRepo(t, bin), map[string]string{"HALLMARK_RELEASE_BASE_URL": releaseServer(t, bin)})
	mustContain(t, run.Output, "PASSED: out/hello-linux-amd64")

	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	verifyL3(t, sb, policyPath, filepath.Join(run.Artifacts, "hello-linux-amd64", "hello-linux-amd64"),
		filepath.Join(run.Artifacts, "hello-linux-amd64.sigstore.json", "hello-linux-amd64.sigstore.json"), builder)
}
