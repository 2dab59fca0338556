package factory_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
)

// verifyWithCLI checks factory provenance with the same command a
// deployment pipeline runs for GitHub provenance: hallmark verify-artifact,
// given the SPIRE trust bundle and the controller's SPIFFE ID.
func verifyWithCLI(t *testing.T, w *world) {
	dir := t.TempDir()
	content := []byte("factory build output\n")
	art := filepath.Join(dir, "app.tar.gz")
	if err := os.WriteFile(art, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	// The source is believed only from a trusted fetcher: the catalog's
	// git-clone, in the same PipelineRun as the build.
	clone := factorytest.TaskRun("ci", "cli-release-clone")
	factorytest.Succeeded(clone, factorytest.StringResult("url", "https://github.com/acme/app"), factorytest.StringResult("commit", sourceCommit))
	factorytest.FromBundle(clone, catalogBundle, catalogDigest, gitCloneTask)
	build := factorytest.TaskRun("ci", "cli-release-build")
	factorytest.Succeeded(build, factorytest.ObjectResult("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "app.tar.gz", "digest": "sha256:" + hex.EncodeToString(sum[:]), "isBuildArtifact": "true"}))
	factorytest.FromBundle(build, catalogBundle, catalogDigest, "go-build")
	w.api.Create(t, clone)
	w.api.Create(t, build)
	pr := factorytest.PipelineRun("ci", "cli-release", catalogBundle, catalogDigest, clone, build)
	w.api.Create(t, pr)
	ann := w.waitState(t, pr)
	if ann[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("annotations %v", ann)
	}
	// The same build claiming its source only in its own results: signed,
	// but the source is unverified and --source-uri must not pass.
	claimed := factorytest.TaskRun("ci", "build-claiming-source")
	factorytest.Succeeded(claimed,
		factorytest.StringResult("CHAINS-GIT_URL", "https://github.com/acme/app"),
		factorytest.StringResult("CHAINS-GIT_COMMIT", sourceCommit),
		factorytest.ObjectResult("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "app.tar.gz", "digest": "sha256:" + hex.EncodeToString(sum[:]), "isBuildArtifact": "true"}),
	)
	w.api.Create(t, claimed)
	claimedAnn := w.waitState(t, claimed)
	if claimedAnn[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("annotations %v", claimedAnn)
	}
	var runBundle func(string, ...string) (string, int)
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bundlePath := write("provenance.sigstore.json", string(signedBundle(t, ann)))
	claimedPath := write("claimed.sigstore.json", string(signedBundle(t, claimedAnn)))
	trustBundle := write("spire-bundle.pem", string(w.srv.BundlePEM(t)))
	policy := write("policy.yaml", `builders:
  - name: hallmark-factory
    signer: "`+factoryID+`"
    buildTypes: ["https://tekton.dev/chains/v2/slsa"]
    maxLevel: 3
spiffe:
  ids: ["`+factoryID+`"]
`)
	run := func(extra ...string) (string, int) {
		return runBundle(bundlePath, extra...)
	}
	runBundle = func(bundlePath string, extra ...string) (string, int) {
		args := append([]string{"verify-artifact", art, "--provenance-path", bundlePath, "--trusted-root", w.trustedPath,
			"--policy", policy, "--spiffe-trust-bundle", trustBundle}, extra...)
		var out, errOut bytes.Buffer
		code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut)
		return out.String() + errOut.String(), code
	}

	out, code := run("--source-uri", "github.com/acme/app", "--format", "json")
	if code != 0 {
		t.Fatalf("verify-artifact: exit %d\n%s", code, out)
	}
	var res struct {
		Passed   bool
		Verdicts []struct {
			Level    int    `json:"slsaBuildLevel"`
			Identity string `json:"certificateIdentity"`
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Passed || res.Verdicts[0].Level != 3 || res.Verdicts[0].Identity != factoryID {
		t.Errorf("result = %+v", res)
	}

	for name, tc := range map[string]struct {
		args  []string
		check string
	}{
		"another source":     {[]string{"--source-uri", "github.com/acme/other"}, "FAILED: source"},
		"another SPIFFE ID":  {[]string{"--source-uri", "github.com/acme/app", "--spiffe-id", "spiffe://example.org/ns/ci/sa/default"}, "FAILED: identity"},
		"a ref Chains lacks": {[]string{"--source-uri", "github.com/acme/app", "--source-tag", "v1.0.0"}, "FAILED: ref"},
	} {
		t.Run(name, func(t *testing.T) {
			out, code := run(tc.args...)
			if code != 1 || !strings.Contains(out, tc.check) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, tc.check, out)
			}
		})
	}
	t.Run("unverified source claim", func(t *testing.T) {
		if out, code := runBundle(claimedPath, "--source-uri", "github.com/acme/app"); code != 1 || !strings.Contains(out, "FAILED: source") {
			t.Fatalf("exit %d, want 1 with FAILED: source:\n%s", code, out)
		}
	})
}
