package workflows_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestGenericExample runs examples/generic.yml under act: the caller's
// build job hashes two files, Hallmark's generic workflow signs their
// provenance, and the caller's verify job checks it with the slsa-verify
// action. The test verifies the bundle again at L3.
func TestGenericExample(t *testing.T) {
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
	caller, sha := newCaller(t, "generic.yml", map[string]string{
		".github/hallmark-policy.yaml": pol,
		".github/trusted_root.json":    string(trusted),
	})
	builder := "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/" + hallmarkRef
	run := runAct(t, sb, caller, sha, "generic.yml", "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/"+hallmarkRef,
		actionRepo(t, bin), map[string]string{"HALLMARK_RELEASE_BASE_URL": releaseServer(t, bin)})
	t.Logf("attest action: %s", run.ActionTime)
	mustContain(t, run.Output, "release binary "+hallmarkRef+"/hallmark_linux_amd64", "PASSED: dist/app.txt", "PASSED: dist/docs.txt")

	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json")
	for _, a := range []string{"app.txt", "docs.txt"} {
		verifyL3(t, sb, policyPath, filepath.Join(run.Artifacts, "dist", a), bundle, builder)
	}
}
