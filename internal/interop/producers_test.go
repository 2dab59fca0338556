package interop_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// cosignMade: cosign signs the provenance of the same build, as a blob
// attestation and as image attestations on both registries, and Hallmark
// verifies them; each also against a tampered artifact or another image.
// cosign v2.6.5 cannot write a Rekor v2 entry the sandbox's log takes, so
// it signs with the timestamp-only signing config, and its attempt with
// the full one is a cell of its own.
func (w *world) cosignMade(t *testing.T) {
	ctx := context.Background()
	predicate := w.write(t, "predicate.json", predicateOf(t, filepath.Join(w.dir, "app.rekor.sigstore.json")))
	signArgs := func(sc string) []string {
		return []string{"--new-bundle-format", "--yes", "--signing-config", sc, "--trusted-root", w.sb.TrustedRootPath(),
			"--identity-token", w.token(t, buildClaims), "--predicate", predicate, "--type", "slsaprovenance1"}
	}
	tsaFlag := "--signing-config " + sandbox.SigningConfigTSAOnlyFile

	// Signing with the full signing config: Rekor v2.
	{
		out := filepath.Join(w.dir, "cosign-rekor.sigstore.json")
		stdout, stderr, code := w.r.run(t, w.tl.cosign, append(append([]string{"attest-blob"}, signArgs(w.sb.SigningConfigPath())...), "--bundle", out, w.artifact)...)
		w.record("cosign signs a blob attestation, Rekor v2 + TSA", cosign, false, verdict(stdout, stderr, code, cosignReason, nil))
	}

	blob := filepath.Join(w.dir, "cosign-tsa.sigstore.json")
	stdout, stderr, code := w.r.run(t, w.tl.cosign, append(append([]string{"attest-blob"}, signArgs(w.sb.SigningConfigTSAOnlyPath())...), "--bundle", blob, w.artifact)...)
	w.record("cosign signs a blob attestation, TSA only", cosign, false, verdict(stdout, stderr, code, cosignReason, []string{tsaFlag}))
	if code != 0 {
		t.Fatalf("cosign attest-blob: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, tampered := range []bool{false, true} {
		c, caseName := w.artifact, "cosign blob attestation, TSA only"
		if tampered {
			c, caseName = w.tampered, caseName+", tampered artifact"
		}
		stdout, stderr, code := w.r.run(t, w.tl.hallmark, "verify-artifact", c, "--provenance-path", blob,
			"--trusted-root", w.sb.TrustedRootPath(), "--policy", w.policyTSA)
		w.record(caseName, hallmark, tampered, verdict(stdout, stderr, code, hallmarkReason, []string{policyTSAFlag}))
	}

	for _, reg := range []struct {
		name string
		img  name.Digest
		oth  name.Digest
	}{
		{"referrers API", w.refReg.Image(t, "acme/cosigned", "v1"), w.refReg.Image(t, "acme/cosigned", "other")},
		{"referrers tag schema", w.tagReg.Image(t, "acme/cosigned", "v1"), w.tagReg.Image(t, "acme/cosigned", "other")},
	} {
		caseName := "cosign image attestation, TSA only, " + reg.name
		stdout, stderr, code := w.r.run(t, w.tl.cosign, append(append([]string{"attest"}, signArgs(w.sb.SigningConfigTSAOnlyPath())...),
			"--allow-insecure-registry", reg.img.String())...)
		if code != 0 {
			t.Fatalf("cosign attest %s: exit %d\n%s%s", reg.img, code, stdout, stderr)
		}
		// The attacker takes cosign's bundle to another image (fetched with
		// oras: Hallmark's own discovery is what the cell tests; and not by
		// artifactType, which cosign's referrers tag index leaves out).
		bundle, _, found := w.r.orasReferrer(t, w.tl, reg.img.String(), t.TempDir(), false)
		if !found.ok {
			t.Fatalf("reading cosign's attestation back: %s", found.reason)
		}
		data, err := os.ReadFile(bundle)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oci.Push(ctx, reg.oth, oci.Attestation{Bundle: data, PredicateType: slsaV1}); err != nil {
			t.Fatal(err)
		}
		w.record(caseName, hallmark, false, w.hallmarkVerifyImage(t, reg.img.String(), true))
		w.record(caseName+", attached to another image", hallmark, true, w.hallmarkVerifyImage(t, reg.oth.String(), true))
	}
}

// realWorld is the real-world corpus folder.
const realWorld = "../../testdata/realworld"

// actionsAttest: bundles GitHub's actions/attest made in real workflows
// (copied from gh's tests; testdata/realworld/SOURCES.md), verified by
// Hallmark offline against the trusted root they were made with; each
// also against another artifact.
func (w *world) actionsAttest(t *testing.T) {
	realWorld, err := filepath.Abs(realWorld)
	if err != nil {
		t.Fatal(err)
	}
	publicGood := filepath.Join(realWorld, "trusted-roots/public-good-sigstore-tuf-5.0.1.json")
	github := w.write(t, "github-trusted-root.json", jsonLine(t, filepath.Join(realWorld, "trusted-roots/gh-attestation-trusted-root-2026-05-24.jsonl"), 2))
	// GitHub's Sigstore has no transparency log: its timestamp proves the
	// signing time, as gh's verifier for it requires.
	githubPolicy := w.write(t, "policy-github.yaml", []byte(`issuers: [https://token.actions.githubusercontent.com]
builders:
  - name: github-actions-attest
    signer: "glob:https://github.com/**"
    buildTypes: [https://actions.github.io/buildtypes/workflow/v1, https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1]
    maxLevel: 2
source: github.com/actions/attest-demo
thresholds: {transparencyLog: 0, signedTimestamps: 1}
`))
	for _, c := range []struct {
		name, bundle, artifact, other, root string
		args                                []string
	}{
		{"actions/attest, public-good Sigstore", "gh/custom-issuer.sigstore.json", "gh/custom-issuer-artifact", "gh/reusable-workflow-artifact", publicGood,
			[]string{"--source-uri", "github.com/too-legit/attest", "--cert-oidc-issuer", "https://token.actions.githubusercontent.com/hammer-time"}},
		{"actions/attest, reusable workflow", "gh/reusable-workflow-attestation.sigstore.json", "gh/reusable-workflow-artifact", "gh/custom-issuer-artifact", publicGood,
			[]string{"--source-uri", "github.com/malancas/attest-demo", "--signer-workflow", "github/artifact-attestations-workflows/.github/workflows/attest.yml"}},
		{"actions/attest, GitHub's Sigstore (TSA only)", "gh/github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl", "gh/github_provenance_demo-0.0.12-py3-none-any.whl", "gh/custom-issuer-artifact", github,
			[]string{"--policy", githubPolicy}},
	} {
		for _, tampered := range []bool{false, true} {
			art, caseName := c.artifact, c.name
			if tampered {
				art, caseName = c.other, c.name+", another artifact"
			}
			args := append([]string{"verify-artifact", filepath.Join(realWorld, art), "--provenance-path", filepath.Join(realWorld, c.bundle),
				"--trusted-root", c.root}, c.args...)
			var flags []string
			if slices.Contains(c.args, "--policy") {
				flags = []string{policyTSAFlag}
			}
			stdout, stderr, code := w.r.run(t, w.tl.hallmark, args...)
			w.record(caseName, hallmark, tampered, verdict(stdout, stderr, code, hallmarkReason, flags))
		}
	}
}

// jsonLine is line n (from 1) of a JSON-lines file.
func jsonLine(t *testing.T, path string, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for i := 1; sc.Scan(); i++ {
		if i == n {
			return append([]byte(nil), sc.Bytes()...)
		}
	}
	t.Fatalf("%s has no line %d", path, n)
	return nil
}
