package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// sbomWorld is a sandbox, the generator and cosign, and an identity token of
// acme/app's release job calling Hallmark's generic workflow at v1.0.0.
type sbomWorld struct {
	sb        *sandbox.Sandbox
	generator string
	cosign    string
	token     string
	san       string
}

func newSBOMWorld(t *testing.T) *sbomWorld {
	t.Helper()
	sb := sandboxtest.Start(t)
	token, err := sb.Token(oidc.DefaultAudience, map[string]string{
		"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": testJobRef,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &sbomWorld{
		sb: sb, generator: sandboxtest.SBOMGenerator(t), cosign: toolcachetest.Tool(t, toolcache.Cosign),
		token: token, san: "https://github.com/" + testJobRef,
	}
}

func (w *sbomWorld) flags(bundlePath string) attestFlags {
	return attestFlags{
		bundlePath: bundlePath, format: "json",
		signingConfig: w.sb.SigningConfigPath(), trustedRoot: w.sb.TrustedRootPath(), identityToken: w.token,
		factsFromToken: true, timeout: 30 * time.Second,
		sbom: sbomFlags{generator: w.generator},
	}
}

func (w *sbomWorld) attest(t *testing.T, f attestFlags) *attestSummary {
	t.Helper()
	var stderr bytes.Buffer
	sum, err := f.run(context.Background(), nil, &stderr, attestEnv(nil))
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr.String())
	}
	return sum
}

// verifyArgs are verify-artifact's flags for the sandbox's identity.
func (w *sbomWorld) verifyArgs(predicateType, bundle string) []string {
	return []string{"--predicate-type", predicateType, "--provenance-path", bundle, "--trusted-root", w.sb.TrustedRootPath(),
		"--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app"}
}

// cosignVerify runs cosign verify-blob-attestation; subject is a file, or
// sha256:HEX for an image.
func (w *sbomWorld) cosignVerify(t *testing.T, bundle, cosignType, san, subject string) (string, error) {
	t.Helper()
	args := []string{"verify-blob-attestation", "--bundle", bundle, "--new-bundle-format", "--trusted-root", w.sb.TrustedRootPath(),
		"--certificate-identity", san, "--certificate-oidc-issuer", w.sb.IssuerURL, "--type", cosignType,
		"--use-signed-timestamps", "--insecure-ignore-sct"}
	if d, ok := strings.CutPrefix(subject, "sha256:"); ok {
		args = append(args, "--digest", d, "--digestAlg", "sha256")
	} else {
		args = append(args, subject)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, w.cosign, args...).CombinedOutput()
	return string(out), err
}

// packagesOf lists the package (SPDX) or component (CycloneDX) names of
// the SBOM in a bundle file, checking the statement's predicate type.
func packagesOf(t *testing.T, path, predicateType string) []string {
	t.Helper()
	_, st := statementOf(t, path)
	if st["predicateType"] != predicateType {
		t.Fatalf("%s: predicateType %v, want %s", path, st["predicateType"], predicateType)
	}
	pred, _ := st["predicate"].(map[string]any)
	key := "packages"
	if predicateType == verifier.PredicateCycloneDX {
		key = "components"
	}
	var names []string
	list, _ := pred[key].([]any)
	for _, p := range list {
		if m, ok := p.(map[string]any); ok {
			name, _ := m["name"].(string)
			names = append(names, name)
		}
	}
	return names
}

// TestSBOMAttestations: a file, a directory and an image get SPDX and
// CycloneDX SBOM attestations beside their provenance, under its
// certificate, that hallmark's verifiers and cosign accept, and that fail
// for another artifact or another identity.
func TestSBOMAttestations(t *testing.T) {
	w := newSBOMWorld(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	// A file: a real Go binary, whose modules syft reads from its build
	// information.
	bin := filepath.Join(dir, "dist", "hallmark")
	copyFile(t, sandboxtest.Binary(t), bin)
	// A directory: a real npm project (the lock file pins sigstore-js).
	src := filepath.Join(dir, "web")
	for _, name := range []string{"package.json", "package-lock.json"} {
		copyFile(t, filepath.Join("..", "toolcache", "sigstorejs", name), filepath.Join(src, name))
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, []byte("not the artifact\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	fileFlags := w.flags(filepath.Join(out, "file.sigstore.json"))
	fileFlags.subjectPaths = []string{bin}
	fileFlags.sbom.generate, fileFlags.sbom.formats = true, []string{"spdx", "cyclonedx"}
	fileSum := w.attest(t, fileFlags)

	dirFlags := w.flags(filepath.Join(out, "dir.sigstore.json"))
	dirFlags.subjectPaths = []string{filepath.Join(src, "*")}
	dirFlags.sbom.source, dirFlags.sbom.formats = src, []string{"spdx", "cyclonedx"}
	dirSum := w.attest(t, dirFlags)

	for _, sum := range []*attestSummary{fileSum, dirSum} {
		if len(sum.Bundles) != 3 {
			t.Fatalf("%d bundles, want provenance, SPDX and CycloneDX: %+v", len(sum.Bundles), sum.Bundles)
		}
		// One signing session: one certificate for all three.
		first := sandboxtest.LeafCert(t, mustBundle(t, sum.Bundles[0].Path)).Raw
		for _, b := range sum.Bundles[1:] {
			if !bytes.Equal(first, sandboxtest.LeafCert(t, mustBundle(t, b.Path)).Raw) {
				t.Fatalf("%s is signed under another certificate than %s", b.Path, sum.Bundles[0].Path)
			}
		}
	}
	if got := packagesOf(t, filepath.Join(out, "file.spdx.sigstore.json"), verifier.PredicateSPDX); !slices.Contains(got, "github.com/sigstore/sigstore-go") {
		t.Fatalf("the binary's SPDX SBOM lists no sigstore-go module: %v", got)
	}
	if got := packagesOf(t, filepath.Join(out, "dir.cyclonedx.sigstore.json"), verifier.PredicateCycloneDX); !slices.Contains(got, "@sigstore/verify") {
		t.Fatalf("the directory's CycloneDX SBOM lists no @sigstore/verify: %v", got)
	}

	// The image: Debian's package database and copyright files of this
	// machine, pushed to a registry with the referrers API.
	reg := ocitest.Referrers(t)
	img := reg.Write(t, "acme/app", "v1.4.2", ocitest.FilesImage(t, debianFiles(t)))
	imgFlags := w.flags(filepath.Join(out, "image.sigstore.json"))
	imgFlags.subjectImages, imgFlags.pushToRegistry, imgFlags.allowInsecureRegistry = []string{img.String()}, true, true
	imgFlags.sbom.generate, imgFlags.sbom.formats = true, []string{"spdx", "cyclonedx"}
	imgSum := w.attest(t, imgFlags)
	if len(imgSum.Pushes) != 3 {
		t.Fatalf("%d pushes, want the provenance and both SBOMs: %+v", len(imgSum.Pushes), imgSum.Pushes)
	}
	firstPackage := firstDebianPackage(t)
	if got := packagesOf(t, filepath.Join(out, "image.spdx.sigstore.json"), verifier.PredicateSPDX); !slices.Contains(got, firstPackage) {
		t.Fatalf("the image's SPDX SBOM lists no %s: %v", firstPackage, got)
	}

	type artifactCase struct {
		name, artifact, bundleBase string
	}
	files := []artifactCase{{"file", bin, "file"}, {"directory", filepath.Join(src, "package-lock.json"), "dir"}}
	formats := []struct {
		name, cosignType, predicateType string
	}{{"spdx", "spdxjson", verifier.PredicateSPDX}, {"cyclonedx", "cyclonedx", verifier.PredicateCycloneDX}}
	for _, a := range files {
		for _, f := range formats {
			bundle := filepath.Join(out, a.bundleBase+"."+f.name+".sigstore.json")
			t.Run(a.name+"/"+f.name, func(t *testing.T) {
				stdout, stderr, code := run(t, append([]string{"verify-artifact", a.artifact}, w.verifyArgs(f.name, bundle)...)...)
				if code != 0 || !strings.HasPrefix(stdout, "PASSED: ") || !strings.Contains(stdout, f.predicateType+" attestation") {
					t.Fatalf("verify-artifact: exit %d\n%s%s", code, stdout, stderr)
				}
				if out, err := w.cosignVerify(t, bundle, f.cosignType, w.san, a.artifact); err != nil {
					t.Fatalf("cosign refuses it: %v\n%s", err, out)
				}
				// Another artifact, another identity, another type.
				if stdout, _, code := run(t, append([]string{"verify-artifact", other}, w.verifyArgs(f.name, bundle)...)...); code != 1 || !strings.HasPrefix(stdout, "FAILED: subject") {
					t.Fatalf("another artifact: exit %d, %s", code, stdout)
				}
				args := append(append([]string{"verify-artifact", a.artifact}, w.verifyArgs(f.name, bundle)...), "--signer-workflow", "evil/app/.github/workflows/sbom.yml")
				if stdout, _, code := run(t, args...); code != 1 || !strings.HasPrefix(stdout, "FAILED: identity") {
					t.Fatalf("another identity: exit %d, %s", code, stdout)
				}
				args = append([]string{"verify-artifact", a.artifact}, w.verifyArgs(f.name, bundle)...)
				args[len(args)-1] = "github.com/acme/other"
				if stdout, _, code := run(t, args...); code != 1 || !strings.HasPrefix(stdout, "FAILED: source") {
					t.Fatalf("another source: exit %d, %s", code, stdout)
				}
				otherType := "cyclonedx"
				if f.name == "cyclonedx" {
					otherType = "spdx"
				}
				if stdout, _, code := run(t, append([]string{"verify-artifact", a.artifact}, w.verifyArgs(otherType, bundle)...)...); code != 1 || !strings.HasPrefix(stdout, "FAILED: predicateType") {
					t.Fatalf("another predicate type: exit %d, %s", code, stdout)
				}
				if out, err := w.cosignVerify(t, bundle, f.cosignType, w.san, other); err == nil {
					t.Fatalf("cosign accepts another artifact:\n%s", out)
				}
				if out, err := w.cosignVerify(t, bundle, f.cosignType, "https://github.com/evil/app/.github/workflows/sbom.yml@refs/heads/main", a.artifact); err == nil {
					t.Fatalf("cosign accepts another identity:\n%s", out)
				}
			})
		}
	}
	for _, f := range formats {
		t.Run("image/"+f.name, func(t *testing.T) {
			args := []string{"verify-image", img.String(), "--predicate-type", f.name, "--allow-insecure-registry", "--trusted-root", w.sb.TrustedRootPath(),
				"--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app"}
			stdout, stderr, code := run(t, args...)
			if code != 0 || !strings.Contains(stdout, "PASSED: ") {
				t.Fatalf("verify-image: exit %d\n%s%s", code, stdout, stderr)
			}
			if stdout, _, code := run(t, append(args, "--signer-workflow", "evil/app/.github/workflows/sbom.yml")...); code != 1 || !strings.Contains(stdout, "FAILED: identity") {
				t.Fatalf("another identity: exit %d, %s", code, stdout)
			}
			bundle := filepath.Join(out, "image."+f.name+".sigstore.json")
			if out, err := w.cosignVerify(t, bundle, f.cosignType, w.san, img.DigestStr()); err != nil {
				t.Fatalf("cosign refuses it: %v\n%s", err, out)
			}
			otherImage := reg.Image(t, "acme/app", "other")
			if out, err := w.cosignVerify(t, bundle, f.cosignType, w.san, otherImage.DigestStr()); err == nil {
				t.Fatalf("cosign accepts another image:\n%s", out)
			}
			otherArgs := append([]string{"verify-image", otherImage.String()}, args[2:]...)
			if stdout, _, code := run(t, otherArgs...); code != 1 || !strings.Contains(stdout, "FAILED: attestation") {
				t.Fatalf("another image: exit %d, %s", code, stdout)
			}
		})
	}

	t.Run("print-predicate", func(t *testing.T) {
		bundle := filepath.Join(out, "image.spdx.sigstore.json")
		stdout, stderr, code := run(t, "verify-image", img.String(), "--predicate-type", "spdx", "--print-predicate", "--allow-insecure-registry",
			"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app")
		if code != 0 || !strings.HasPrefix(stderr, "PASSED: ") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		doc, err := sbom.Parse([]byte(strings.TrimSpace(stdout)))
		if err != nil || doc.Format != sbom.SPDX {
			t.Fatalf("stdout is no SPDX document: %v\n%.300s", err, stdout)
		}
		var printed, signed map[string]any
		_, st := statementOf(t, bundle)
		signed = st["predicate"].(map[string]any)
		if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
			t.Fatal(err)
		}
		if printed["documentNamespace"] != signed["documentNamespace"] {
			t.Fatalf("printed %v, signed %v", printed["documentNamespace"], signed["documentNamespace"])
		}
	})

	t.Run("expressions", func(t *testing.T) {
		base := []string{"verify-image", img.String(), "--predicate-type", "spdx", "--allow-insecure-registry",
			"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app"}
		deny := `!statement.predicate.packages.exists(p, p.name == "` + firstPackage + `")`
		if stdout, _, code := run(t, append(base, "--attestation-expression", deny)...); code != 1 || !strings.Contains(stdout, "FAILED: policyExpression") {
			t.Fatalf("a denied package: exit %d, %s", code, stdout)
		}
		allow := `!statement.predicate.packages.exists(p, p.name == "log4j-core")`
		if stdout, stderr, code := run(t, append(base, "--attestation-expression", allow)...); code != 0 {
			t.Fatalf("no denied package: exit %d, %s%s", code, stdout, stderr)
		}
	})

	t.Run("policy requires an SBOM from the same builder", func(t *testing.T) {
		policy := func(extra string) string {
			p := filepath.Join(t.TempDir(), "policy.yaml")
			body := fmt.Sprintf(`issuers: [%q]
builders:
  - name: hallmark
    signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/*.yml@refs/tags/v*"
    maxLevel: 3
source: github.com/acme/app
attestations:
  require: ["https://spdx.dev/Document"]
%s`, w.sb.IssuerURL, extra)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		requires := policy("")
		image := func(ref, pol string) []string {
			return []string{"verify-image", ref, "--allow-insecure-registry", "--trusted-root", w.sb.TrustedRootPath(), "--policy", pol}
		}
		stdout, stderr, code := run(t, append(image(img.String(), requires), "--format", "json")...)
		var res struct {
			Passed   bool
			Verdicts []struct {
				Level        int      `json:"slsaBuildLevel"`
				Attestations []string `json:"requiredAttestations"`
			}
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 || !res.Passed || len(res.Verdicts) != 1 ||
			!slices.Equal(res.Verdicts[0].Attestations, []string{verifier.PredicateSPDX}) {
			t.Fatalf("verify-image: exit %d, %v\n%s%s", code, err, stdout, stderr)
		}

		// An image with provenance and no SBOM.
		bare := reg.Write(t, "acme/app", "bare", ocitest.FilesImage(t, map[string]string{"/etc/os-release": "/etc/os-release"}))
		bareFlags := w.flags(filepath.Join(out, "bare.sigstore.json"))
		bareFlags.subjectImages, bareFlags.pushToRegistry, bareFlags.allowInsecureRegistry = []string{bare.String()}, true, true
		w.attest(t, bareFlags)
		if stdout, _, code := run(t, image(bare.String(), requires)...); code != 1 || !strings.Contains(stdout, "FAILED: attestation") ||
			!strings.Contains(stdout, "attestations.require") {
			t.Fatalf("an image without an SBOM: exit %d, %s", code, stdout)
		}
		// The policy's expressions hold for the required SBOM too.
		deny := policy(`  expressions: ['!statement.predicate.packages.exists(p, p.name == "` + firstPackage + `")']` + "\n")
		if stdout, _, code := run(t, image(img.String(), deny)...); code != 1 || !strings.Contains(stdout, "FAILED: policyExpression") {
			t.Fatalf("a denied package: exit %d, %s", code, stdout)
		}

		// verify-artifact finds the SBOM with --attestation-path.
		artifact := []string{"verify-artifact", bin, "--provenance-path", filepath.Join(out, "file.sigstore.json"),
			"--trusted-root", w.sb.TrustedRootPath(), "--policy", requires}
		if stdout, _, code := run(t, artifact...); code != 1 || !strings.Contains(stdout, "--attestation-path") {
			t.Fatalf("verify-artifact without the SBOM: exit %d, %s", code, stdout)
		}
		stdout, stderr, code = run(t, append(artifact, "--attestation-path", filepath.Join(out, "file.spdx.sigstore.json"))...)
		if code != 0 || !strings.Contains(stdout, "with https://spdx.dev/Document signed by the same builder") {
			t.Fatalf("verify-artifact with the SBOM: exit %d\n%s%s", code, stdout, stderr)
		}
		// Usage errors: nothing to check it against, or another mode.
		for _, args := range [][]string{
			{"verify-artifact", bin, "--provenance-path", filepath.Join(out, "file.sigstore.json"), "--trusted-root", w.sb.TrustedRootPath(),
				"--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app", "--attestation-path", filepath.Join(out, "file.spdx.sigstore.json")},
			append(append([]string{"verify-artifact", bin}, w.verifyArgs("spdx", filepath.Join(out, "file.spdx.sigstore.json"))...),
				"--attestation-path", filepath.Join(out, "file.spdx.sigstore.json")),
		} {
			if _, stderr, code := run(t, args...); code != 2 || !strings.Contains(stderr, "--attestation-path") {
				t.Fatalf("%v: exit %d, %s", args, code, stderr)
			}
		}
		// Another artifact's SBOM is not this one's.
		if stdout, _, code := run(t, append(artifact, "--attestation-path", filepath.Join(out, "image.spdx.sigstore.json"))...); code != 1 ||
			!strings.HasPrefix(stdout, "FAILED: subject") {
			t.Fatalf("verify-artifact with another artifact's SBOM: exit %d, %s", code, stdout)
		}
	})

	t.Run("provenance still verifies", func(t *testing.T) {
		stdout, stderr, code := run(t, "verify-artifact", bin, "--provenance-path", filepath.Join(out, "file.sigstore.json"),
			"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app")
		if code != 0 || !strings.Contains(stdout, "SLSA build level 3") {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		// An SBOM bundle is no provenance.
		stdout, _, code = run(t, "verify-artifact", bin, "--provenance-path", filepath.Join(out, "file.spdx.sigstore.json"),
			"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.sb.IssuerURL, "--source-uri", "github.com/acme/app")
		if code != 1 || !strings.HasPrefix(stdout, "FAILED: predicateType") {
			t.Fatalf("exit %d, %s", code, stdout)
		}
	})
}

// TestAttestSBOMPath: an SBOM the user has is checked before anything is
// signed, and a good one is attested as it reads.
func TestAttestSBOMPath(t *testing.T) {
	w := newSBOMWorld(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"app":           "app\n",
		"good.cdx":      `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"zlib","version":"1.3"}]}`,
		"spdx3.json":    `{"spdxVersion":"SPDX-3.0","SPDXID":"SPDXRef-DOCUMENT","name":"x","creationInfo":{"created":"2025-01-01T00:00:00Z"}}`,
		"tagvalue.spdx": "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n",
		"nameless.json": `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library"}]}`,
	})
	cases := []struct {
		name, file string
		formats    []string
		wantErr    error
		wantMsg    string
	}{
		{name: "SPDX 3", file: "spdx3.json", wantErr: verifier.ErrMalformed, wantMsg: "spdxVersion"},
		{name: "tag-value", file: "tagvalue.spdx", wantErr: verifier.ErrMalformed, wantMsg: "JSON"},
		{name: "component without a name", file: "nameless.json", wantErr: verifier.ErrMalformed, wantMsg: "components[0].name"},
		{name: "format differs", file: "good.cdx", formats: []string{"spdx"}, wantMsg: "not the --sbom-format spdx"},
		{name: "missing", file: "absent.json", wantErr: os.ErrNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bp := filepath.Join(dir, tc.name, "provenance.sigstore.json")
			if err := os.MkdirAll(filepath.Dir(bp), 0o755); err != nil {
				t.Fatal(err)
			}
			f := w.flags(bp)
			f.subjectPaths = []string{filepath.Join(dir, "app")}
			f.sbom.path, f.sbom.formats = filepath.Join(dir, tc.file), tc.formats
			before := rekorSize(t, w.sb)
			_, err := f.run(context.Background(), nil, &bytes.Buffer{}, attestEnv(nil))
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, tc.wantMsg)
			}
			entries, _ := os.ReadDir(filepath.Dir(bp))
			if len(entries) != 0 {
				t.Fatalf("files left behind: %v", entries)
			}
			if after := rekorSize(t, w.sb); after != before {
				t.Fatalf("log grew from %s to %s on a refused SBOM", before, after)
			}
		})
	}
	t.Run("good", func(t *testing.T) {
		bp := filepath.Join(dir, "good", "provenance.sigstore.json")
		if err := os.MkdirAll(filepath.Dir(bp), 0o755); err != nil {
			t.Fatal(err)
		}
		f := w.flags(bp)
		f.subjectPaths = []string{filepath.Join(dir, "app")}
		f.sbom.path = filepath.Join(dir, "good.cdx")
		sum := w.attest(t, f)
		if len(sum.Bundles) != 2 || sum.Bundles[1].PredicateType != verifier.PredicateCycloneDX || sum.Bundles[1].Path != filepath.Join(dir, "good", "provenance.cyclonedx.sigstore.json") {
			t.Fatalf("bundles = %+v", sum.Bundles)
		}
		if got := packagesOf(t, sum.Bundles[1].Path, verifier.PredicateCycloneDX); !slices.Contains(got, "zlib") {
			t.Fatalf("components %v", got)
		}
		stdout, stderr, code := run(t, append([]string{"verify-artifact", filepath.Join(dir, "app")}, w.verifyArgs("cyclonedx", sum.Bundles[1].Path)...)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
	})
	t.Run("contradictions", func(t *testing.T) {
		for _, s := range []sbomFlags{
			{path: "x.json", generate: true},
			{path: "x.json", source: "dir"},
			{formats: []string{"spdx"}},
			{generate: true, formats: []string{"swid"}},
			{generate: true, formats: []string{"spdx", "spdx-json"}},
		} {
			f := w.flags(filepath.Join(dir, "never.sigstore.json"))
			f.subjectPaths = []string{filepath.Join(dir, "app")}
			f.sbom = s
			if _, err := f.run(context.Background(), nil, &bytes.Buffer{}, attestEnv(nil)); err == nil {
				t.Errorf("%+v: no error", s)
			}
		}
	})
}

// rekorSize is the sandbox log's size, from its checkpoint.
func rekorSize(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sb.Dir, "rekor", "tiles", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 3)
	if len(lines) < 2 {
		t.Fatalf("checkpoint %q", data)
	}
	return lines[1]
}

func mustBundle(t *testing.T, path string) *bundle.Bundle {
	t.Helper()
	b, _ := statementOf(t, path)
	return b
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// debianFiles are this machine's os-release, dpkg database and the
// copyright files of its packages, as image paths to host files.
func debianFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{"/etc/os-release": "/etc/os-release", "/var/lib/dpkg/status": "/var/lib/dpkg/status"}
	for _, p := range []string{"/etc/os-release", "/var/lib/dpkg/status"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s: this test builds its image from a Debian system's package database", p)
		}
	}
	docs, _ := filepath.Glob("/usr/share/doc/*/copyright")
	for _, d := range docs {
		if fi, err := os.Stat(d); err == nil && fi.Mode().IsRegular() {
			files[d] = d
		}
	}
	return files
}

// firstDebianPackage is the first package of this machine's dpkg database.
func firstDebianPackage(t *testing.T) string {
	t.Helper()
	fh, err := os.Open("/var/lib/dpkg/status")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "Package: "); ok {
			return name
		}
	}
	t.Fatal("no package in /var/lib/dpkg/status")
	return ""
}
