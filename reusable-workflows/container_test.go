package workflows_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/oci"
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
	mustContain(t, run.Output, "Logged in to "+reg.Host+" as "+user, "registry credentials for "+reg.Host+" (user "+user+")",
		" to "+img.String()+" as sha256:")
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

// TestContainerImages runs testdata/callers/container-images.yml under act:
// three images on two registries in one call of Hallmark's container
// workflow, named by subject-images. Two are on a docker-registry with a
// password, which the workflow logs in to (the registry input names it);
// one is on olareg, which takes no login. Each image gets a bundle of its
// own in the uploaded artifact, attached to it alone, and verify-image
// verifies each at L3; so with each image's SPDX SBOM, made from the image
// in the signing job and attached beside its provenance.
func TestContainerImages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	const user, password = "acme-bot", "registry-secret-0c93"
	locked := ocitest.Distribution(t, ocitest.WithHtpasswd(user, password))
	open := ocitest.Referrers(t)
	ocitest.DockerConfig(t, locked)
	f := newSBOMFixture(t)
	caller, sha := f.caller(t, "testdata/callers/container-images.yml", nil)
	images := []name.Digest{locked.Image(t, "acme/app", sha), locked.Image(t, "acme/tool", sha), open.Image(t, "acme/app", sha)}
	var refs []string
	for _, img := range images {
		refs = append(refs, img.String())
	}
	jobWorkflow, builder := hallmarkWorkflow("container.yml")
	run := f.run(t, caller, sha, actCase{
		workflow: "container-images.yml", jobWorkflow: jobWorkflow, actor: user,
		vars:    map[string]string{"REGISTRY": locked.Host, "IMAGES": strings.Join(refs, ",")},
		secrets: map[string]string{"GITHUB_TOKEN": password},
	})
	t.Logf("attest action: %s", run.ActionTime)
	if strings.Contains(run.Output, password) {
		t.Error("the registry password is in the log")
	}
	bundles, err := filepath.Glob(filepath.Join(run.Artifacts, "provenance.sigstore.json", "*.sigstore.json"))
	if err != nil || len(bundles) != 2*len(images) {
		t.Fatalf("uploaded bundles %v, want provenance and an SBOM for each of %d images", bundles, len(images))
	}
	ocitest.DockerConfig(t, locked)
	for _, img := range images {
		mustContain(t, run.Output, " to "+img.String()+" as sha256:")
		d, err := oci.Discover(context.Background(), img, "https://slsa.dev/provenance/v1")
		if err != nil || len(d.Attestations) != 1 {
			t.Fatalf("%s: %v attestations, err %v; want its own", img, d, err)
		}
		verifyCommandL3(t, f, "verify-image", img.String(), "--allow-insecure-registry", "--builder-id", builder, sourceRefFlag("refs/heads/main"))
		verifyCommandL3(t, f, "verify-image", img.String(), "--allow-insecure-registry", "--predicate-type", "spdx", sourceRefFlag("refs/heads/main"))
	}
}
