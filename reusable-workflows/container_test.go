package workflows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// TestContainerExample runs examples/container.yml under act against a
// real registry: Debian's docker-registry with a password and without the
// referrers API. The test pushes an image at the caller's commit first; the
// caller's build job names it and passes its digest on; Hallmark's
// container workflow logs in with the caller's credentials, signs, and
// pushes the attestation to the registry. `hallmark verify-image` then finds
// it there and verifies it at L3, and `hallmark verify-artifact` verifies
// the uploaded bundle against the image's manifest.
func TestContainerExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	const user, password = "acme-bot", "registry-secret-7d41"
	reg := ocitest.Distribution(t, ocitest.WithHtpasswd(user, password))
	f := newFixture(t)
	caller, sha := f.caller(t, "examples/container.yml", nil)
	img := reg.Image(t, "acme/app", sha)
	jobWorkflow, builder := hallmarkWorkflow("container.yml")
	run := f.run(t, caller, sha, actCase{
		workflow: "container.yml", jobWorkflow: jobWorkflow,
		actor:   user,
		vars:    map[string]string{"REGISTRY": reg.Host},
		secrets: map[string]string{"GITHUB_TOKEN": password},
		env: map[string]string{
			"HALLMARK_TEST_IMAGE":        reg.Repo("acme/app") + ":" + sha,
			"HALLMARK_TEST_IMAGE_DIGEST": img.DigestStr(),
		},
	})
	t.Logf("attest action: %s", run.ActionTime)
	mustContain(t, run.Output, "Logged in to "+reg.Host+" as "+user, "Pushed to:")
	if strings.Contains(run.Output, password) {
		t.Error("the registry password is in the log")
	}

	// verify-image reads the registry's credentials from a docker config,
	// as a deployment would; act ran without it.
	ocitest.DockerConfig(t, reg)
	verifyCommandL3(t, f, "verify-image", img.String(), "--allow-insecure-registry",
		"--builder-id", builder, sourceRefFlag("refs/heads/main"))

	manifest, err := remote.Get(img, remote.WithAuth(&authn.Basic{Username: user, Password: password}))
	if err != nil {
		t.Fatal(err)
	}
	manifestPath := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(manifestPath, manifest.Manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	verifyL3(t, f, manifestPath, filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json"), builder, "refs/heads/main")
}
