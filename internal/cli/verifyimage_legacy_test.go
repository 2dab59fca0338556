package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// The checks a slsa-verifier error stands for in Hallmark's verdicts.
var sourceErrorCheck = map[string]string{
	"serrors.ErrorUntrustedReusableWorkflow": "builder",
	"serrors.ErrorMismatchBuilderID":         "builder",
	"serrors.ErrorMismatchBranch":            "ref",
	"serrors.ErrorInvalidRef":                "ref",
	"serrors.ErrorMismatchSource":            "source",
}

// imageVerdict runs verify-image with --format json and returns its exit
// code and the one verdict.
func imageVerdict(t *testing.T, args ...string) (int, verdict, string) {
	t.Helper()
	stdout, stderr, code := run(t, append(append([]string{"verify-image"}, args...), "--format", "json")...)
	var out struct {
		Verdicts []verdict `json:"verdicts"`
	}
	if code == 2 || json.Unmarshal([]byte(stdout), &out) != nil || len(out.Verdicts) != 1 {
		t.Fatalf("verify-image %v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
	}
	return code, out.Verdicts[0], stderr
}

// slsa-github-generator's container workflow attaches its provenance with
// cosign's legacy .att tag. The published images of slsa-verifier's
// regression test, pushed to real registries, get the verdicts its test
// states, verified offline against the public-good trusted root.
func TestVerifyImageCosignLegacyRealWorld(t *testing.T) {
	m, err := realworld.Load("../../testdata/realworld")
	if err != nil {
		t.Fatal(err)
	}
	registries := []struct {
		name  string
		start func(testing.TB) *ocitest.Registry
	}{
		{"distribution", func(tb testing.TB) *ocitest.Registry { return ocitest.Distribution(tb) }},
		{"referrers", func(tb testing.TB) *ocitest.Registry { return ocitest.Referrers(tb) }},
	}
	roots := map[string]string{}
	rootFile := func(id string) string {
		if p, ok := roots[id]; ok {
			return p
		}
		data, err := m.TrustedRoot(id)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "trusted_root.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		roots[id] = p
		return p
	}
	n, reached := 0, 0
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			r := reg.start(t)
			layouts := map[string]*ocitest.Layout{}
			for _, c := range m.Cases {
				if c.BundleFormat != realworld.FormatCosignAttestation {
					continue
				}
				l := layouts[c.OCILayout]
				if l == nil {
					l = r.PushLayout(t, m.Path(c.OCILayout), "slsa/"+strings.ToLower(strings.ReplaceAll(filepath.Base(filepath.Dir(c.OCILayout)), ".", "-")))
					layouts[c.OCILayout] = l
					want, err := os.ReadFile(m.Path(c.DigestFile))
					if err != nil {
						t.Fatal(err)
					}
					if l.Image.DigestStr() != strings.TrimSpace(string(want)) {
						t.Fatalf("%s: image %s, the source's digest file says %s", c.OCILayout, l.Image.DigestStr(), want)
					}
					t.Logf("%s: pushed %d manifests, refused %d (image layers not in the fixture), tags %v", c.OCILayout, len(l.Pushed), len(l.Refused), l.Tags)
				}
				n++
				t.Run(strings.TrimPrefix(c.Name, "slsa-verifier/gha_generic_container/"), func(t *testing.T) {
					args := append([]string{l.Image.String(), "--trusted-root", rootFile(c.TrustedRoot)}, c.Args()...)
					code, v, stderr := imageVerdict(t, args...)
					reached++
					switch c.Expect {
					case realworld.Accept:
						if code != 0 || !v.Passed || v.PredicateType != "https://slsa.dev/provenance/v0.2" {
							t.Fatalf("want a pass (%s), got exit %d: %+v\nstderr: %s", c.Reason, code, v.Failure, stderr)
						}
						// Certificates Fulcio issued before 2023 do not
						// record the workflow file: the claim is passed on
						// as unverified, and only for them.
						old := strings.Contains(c.Name, "/v1.4.0/")
						if got := slices.Contains(v.Unverified, "invocation.configSource.entryPoint"); got != old {
							t.Fatalf("unverified claims %v: want the entry point among them: %v", v.Unverified, old)
						}
					case realworld.Reject:
						want := sourceErrorCheck[c.SourceError]
						if code != 1 || v.Passed || v.Failure == nil || v.Failure.Check != want {
							t.Fatalf("want a failure at %s (%s, %s), got exit %d: %+v", want, c.SourceError, c.Reason, code, v.Failure)
						}
					}
				})
			}
		})
	}
	if n == 0 || reached == 0 {
		t.Fatal("the corpus has no cosign legacy attestation cases")
	}
	t.Logf("%d case runs: %d reached the source's verdict", n, reached)
}

// cosign attest without --new-bundle-format writes the legacy .att tag.
// cosign v2.6.5 logs it only through the Rekor v1 API, which the sandbox's
// Rekor v2 does not serve; without a log, cosign can only timestamp it with
// a TSA, and its legacy timestamp covers the whole envelope, which no
// Sigstore bundle carries. Such an attestation is found and not trusted.
func TestVerifyImageCosignLegacyAttest(t *testing.T) {
	sb := sandboxtest.Start(t)
	cosign := toolcachetest.Tool(t, toolcache.Cosign)
	reg := ocitest.Distribution(t)
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "cosign-legacy")

	// The provenance Hallmark makes for a build, signed and attached by
	// cosign instead.
	bundlePath, _ := attestImage(t, sb, attestFlags{subjectImages: []string{reg.Image(t, "acme/app", "hallmark").String()}})
	_, st := statementOf(t, bundlePath)
	pred, _ := json.Marshal(st["predicate"])
	dir := t.TempDir()
	predPath := filepath.Join(dir, "predicate.json")
	if err := os.WriteFile(predPath, pred, 0o644); err != nil {
		t.Fatal(err)
	}
	token, err := sb.Token(oidc.DefaultAudience, imageClaims)
	if err != nil {
		t.Fatal(err)
	}
	cosignCmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
		return cmd.CombinedOutput()
	}
	common := []string{"attest", "--yes", "--fulcio-url", sb.FulcioURL, "--insecure-skip-verify", "--predicate", predPath,
		"--type", "slsaprovenance1", "--identity-token", token, "--allow-insecure-registry", img.String()}
	if out, err := cosignCmd(append(common, "--rekor-url", sb.RekorURL)...); err == nil || !strings.Contains(string(out), "/api/v1/log/entries") {
		t.Fatalf("cosign attest with a log: want it refused by the sandbox's Rekor v2 (no Rekor v1 API), got %v:\n%s", err, out)
	}
	out, err := cosignCmd(append(common, "--tlog-upload=false", "--timestamp-server-url", sb.TSAURL+"/api/v1/timestamp")...)
	if err != nil {
		t.Fatalf("cosign attest: %v\n%s", err, out)
	}
	att, err := remote.Get(img.Context().Tag(strings.Replace(img.DigestStr(), ":", "-", 1)+".att"), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		t.Fatalf("cosign wrote no legacy tag: %v", err)
	}
	if !strings.Contains(string(att.Manifest), "dev.sigstore.cosign/certificate") || !strings.Contains(string(att.Manifest), "dev.sigstore.cosign/rfc3161timestamp") {
		t.Fatalf("cosign's legacy layer lacks the certificate or timestamp:\n%s", att.Manifest)
	}
	policy := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policy, []byte(`issuers: [`+sb.IssuerURL+`]
builders:
  - {name: hallmark, signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/{generic,container,go}.yml@refs/tags/v*", maxLevel: 3}
source: github.com/acme/app
thresholds: {transparencyLog: 0, signedTimestamps: 1}
`), 0o644)
	code, v, _ := imageVerdict(t, img.String(), "--policy", policy, "--source-tag", "v1.4.2", "--trusted-root", sb.TrustedRootPath())
	if code != 1 || v.Failure.Check != "attestation" || !strings.Contains(v.Failure.Got, "no signing certificate with a Rekor entry") {
		t.Fatalf("exit %d: %+v; want a failure at attestation naming the missing Rekor entry", code, v.Failure)
	}
}

// What an attacker can put under an image's legacy tag, built from the real
// v2.1.0 attestation, must never pass: the buildkit provenance the image
// index carries unsigned, that statement under the real certificate and log
// entry, a tampered statement, and the real attestation on another image.
func TestVerifyImageCosignLegacyForgeries(t *testing.T) {
	const layout = "../../testdata/realworld/slsa-verifier/gha_generic_container/v2.1.0/container_workflow_dispatch"
	const (
		attManifest = "21454caf3a160dfbe6359f0501aa8401c6c0f2c7a8b71380ea21f8c4b48b64fe"
		platform    = "sha256:d1fc0de9c6a33e502c488221644de1736c53d8ddb59b0e41b4946fb26af50e69"
		// The buildkit attestation manifest in the index, and its in-toto
		// statement (SLSA v0.2 provenance about the platform image).
		buildkitStatement = "8d63b5e440cc7cfa68622b4a3cae2dbe215f8f8dcc9f2fa4ffd3078d40d61a84"
	)
	blob := func(hex string) []byte { return mustRead(t, filepath.Join(layout, "blobs", "sha256", hex)) }
	var m v1.Manifest
	if err := json.Unmarshal(blob(attManifest), &m); err != nil {
		t.Fatal(err)
	}
	realAnn := m.Layers[0].Annotations
	realEnv := blob(m.Layers[0].Digest.Hex)
	var env map[string]any
	if err := json.Unmarshal(realEnv, &env); err != nil {
		t.Fatal(err)
	}
	envelope := func(payload []byte, withSig bool) []byte {
		e := map[string]any{"payloadType": env["payloadType"], "payload": base64.StdEncoding.EncodeToString(payload)}
		if withSig {
			e["signatures"] = env["signatures"]
		}
		b, _ := json.Marshal(e)
		return b
	}
	realPayload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	tampered := bytes.Replace(realPayload, []byte("refs/heads/main"), []byte("refs/heads/mair"), 1)
	if bytes.Equal(tampered, realPayload) {
		t.Fatal("the statement names no refs/heads/main to tamper with")
	}

	reg := ocitest.Referrers(t)
	l := reg.PushLayout(t, layout, "slsa/example-package")
	tr := "../../testdata/realworld/trusted-roots/public-good-sigstore-tuf-5.0.1.json"
	flags := []string{"--trusted-root", tr, "--source-uri", "github.com/slsa-framework/example-package"}
	if code, v, _ := imageVerdict(t, append([]string{l.Image.String()}, flags...)...); code != 0 {
		t.Fatalf("the real attestation: exit %d: %+v", code, v.Failure)
	}
	// Nothing is attached to the platform image: the buildkit provenance
	// in the index that names it is not an attestation of it.
	plat := l.Image.Context().Digest(platform)
	if code, v, _ := imageVerdict(t, append([]string{plat.String()}, flags...)...); code != 1 || v.Failure.Check != "attestation" {
		t.Fatalf("platform image: exit %d: %+v; want no attestation found", code, v.Failure)
	}

	noSig := map[string]string{"predicateType": "https://slsa.dev/provenance/v0.2"}
	tests := []struct {
		name    string
		subject string
		layer   []byte
		ann     map[string]string
		checks  []string // any of these
		got     string   // in the failure's Got, if set
	}{
		{name: "buildkit provenance in an unsigned envelope", subject: platform, layer: envelope(blob(buildkitStatement), false), ann: noSig,
			checks: []string{"attestation"}, got: "no signing certificate with a Rekor entry"},
		{name: "buildkit provenance with the real certificate and log entry", subject: platform, layer: envelope(blob(buildkitStatement), true), ann: realAnn,
			checks: []string{"signature", "tlog"}},
		{name: "tampered statement", subject: l.Image.DigestStr(), layer: envelope(tampered, true), ann: realAnn,
			checks: []string{"signature", "tlog"}},
		{name: "the real attestation on another image", subject: platform, layer: realEnv, ann: realAnn,
			checks: []string{"subject"}},
		{name: "a log entry its signed entry timestamp does not cover", subject: l.Image.DigestStr(), layer: realEnv,
			ann:    map[string]string{oci.AnnotationCosignCertificate: realAnn[oci.AnnotationCosignCertificate], oci.AnnotationCosignBundle: strings.Replace(realAnn[oci.AnnotationCosignBundle], `"logIndex":`, `"logIndex":1`, 1)},
			checks: []string{"tlog"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := l.Image.Context().Registry.Repo(fmt.Sprintf("forgery/%d", i))
			subject := repo.Digest(tt.subject)
			img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
				mutate.Addendum{Layer: static.NewLayer(tt.layer, oci.MediaTypeDSSE), Annotations: tt.ann})
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(repo.Tag(strings.Replace(tt.subject, ":", "-", 1)+".att"), img); err != nil {
				t.Fatal(err)
			}
			code, v, _ := imageVerdict(t, append([]string{subject.String()}, flags...)...)
			if code != 1 || v.Passed || v.Failure == nil || !slices.Contains(tt.checks, v.Failure.Check) || !strings.Contains(v.Failure.Got+v.Failure.Message, tt.got) {
				t.Fatalf("exit %d: %+v; want a failure at %v", code, v.Failure, tt.checks)
			}
			t.Logf("%s: %s", v.Failure.Check, v.Failure.Message)
		})
	}
}
