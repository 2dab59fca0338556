package workflows_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestGenericSBOM runs testdata/callers/generic-sbom.yml under act: the
// caller's build job uploads an npm project's files, and Hallmark's generic
// workflow, asked for SPDX and CycloneDX SBOMs, downloads them in its
// signing job, checks them against the subjects' digests, makes the SBOMs
// there and signs them beside the provenance. The test verifies each SBOM
// bundle at L3 with verify-artifact --predicate-type, finds the lock
// file's packages in it, and sees it refused for another artifact.
//
// A second run whose sbom-artifact holds a file that is not a subject
// fails before anything is signed.
func TestGenericSBOM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	f := newSBOMFixture(t)
	jobWorkflow, builder := hallmarkWorkflow("generic.yml")
	files := map[string]string{}
	for _, name := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join("..", "internal", "toolcache", "sigstorejs", name))
		if err != nil {
			t.Fatal(err)
		}
		files["web/"+name] = string(data)
	}
	caller, sha := f.caller(t, filepath.Join("testdata", "callers", "generic-sbom.yml"), files)
	run := f.run(t, caller, sha, actCase{workflow: "generic-sbom.yml", jobWorkflow: jobWorkflow})
	mustContain(t, run.Output, "release binary "+hallmarkRef+"/hallmark-sbom_linux_amd64")

	dir := filepath.Join(run.Artifacts, "provenance.sigstore.json")
	lock := filepath.Join(run.Artifacts, "dist", "package-lock.json")
	verifyL3(t, f, lock, filepath.Join(dir, "provenance.sigstore.json"), builder, "refs/heads/main")
	for _, tc := range []struct{ format, predicateType, pkgs string }{
		{"spdx", "https://spdx.dev/Document", "packages"},
		{"cyclonedx", "https://cyclonedx.org/bom", "components"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			bundle := filepath.Join(dir, "provenance."+tc.format+".sigstore.json")
			for _, a := range []string{"app.txt", "package.json", "package-lock.json"} {
				verifyCommandL3(t, f, "verify-artifact", filepath.Join(run.Artifacts, "dist", a), "--provenance-path", bundle,
					"--predicate-type", tc.format, "--source-branch", "main")
			}
			if names := sbomPackages(t, f, lock, bundle, tc.format, tc.pkgs); !slices.Contains(names, "@sigstore/verify") {
				t.Errorf("the %s SBOM made in the signing job lists no @sigstore/verify: %v", tc.format, names)
			}
			other := filepath.Join(t.TempDir(), "package-lock.json")
			if err := os.WriteFile(other, []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(sandboxtest.Binary(t), "verify-artifact", other, "--provenance-path", bundle, "--predicate-type", tc.format,
				"--source-uri", "github.com/"+callerRepo, "--policy", f.policyPath, "--trusted-root", f.sb.TrustedRootPath()).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "FAILED") {
				t.Errorf("the %s SBOM bundle passes for another artifact: %v\n%s", tc.format, err, out)
			}
		})
	}

	// A file in the artifact that is not a subject: the SBOM would
	// describe more than was attested.
	files["web/extra.js"] = "console.log('not attested')\n"
	wf, err := os.ReadFile(filepath.Join("testdata", "callers", "generic-sbom.yml"))
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(t.TempDir(), "generic-sbom.yml")
	if err := os.WriteFile(extra, []byte(strings.Replace(string(wf), "cp web/package.json", "cp web/extra.js web/package.json", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	caller, sha = f.caller(t, extra, files)
	run = f.run(t, caller, sha, actCase{workflow: "generic-sbom.yml", jobWorkflow: jobWorkflow, wantFail: true})
	mustContain(t, run.Output, "the sbom-artifact holds files that are not subjects: extra.js")
	if strings.Contains(run.Output, "Success - Main Sign the provenance") {
		t.Error("the provenance was signed although the SBOM's artifact holds more than the subjects")
	}
}

// sbomPackages verifies bundle with --print-predicate and returns the
// names in the SBOM's list (SPDX packages, CycloneDX components).
func sbomPackages(t *testing.T, f *fixture, artifact, bundle, format, list string) []string {
	t.Helper()
	out, err := exec.Command(sandboxtest.Binary(t), "verify-artifact", artifact, "--provenance-path", bundle, "--predicate-type", format,
		"--print-predicate", "--source-uri", "github.com/"+callerRepo, "--policy", f.policyPath, "--trusted-root", f.sb.TrustedRootPath()).Output()
	if err != nil {
		t.Fatalf("verify-artifact --print-predicate: %v\n%s", err, out)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("the printed predicate is not one JSON document: %v", err)
	}
	var items []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(raw[list], &items); err != nil {
		t.Fatalf("the SBOM's %s: %v", list, err)
	}
	var names []string
	for _, p := range items {
		names = append(names, p.Name)
	}
	return names
}
