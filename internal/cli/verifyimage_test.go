package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// imageClaims are acme/app's release job calling Hallmark's generic
// workflow at v1.0.0, as in verify_test.go.
var imageClaims = map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": testJobRef}

// attestImage signs provenance for img in the sandbox and pushes it, as
// `hallmark attest --subject-image img --push-to-registry` does.
func attestImage(t *testing.T, sb *sandbox.Sandbox, f attestFlags) (bundlePath, stderr string) {
	t.Helper()
	token, err := sb.Token(oidc.DefaultAudience, imageClaims)
	if err != nil {
		t.Fatal(err)
	}
	if f.bundlePath == "" {
		f.bundlePath = filepath.Join(t.TempDir(), "image.sigstore.json")
	}
	f.format, f.signingConfig, f.trustedRoot, f.identityToken = "text", sb.SigningConfigPath(), sb.TrustedRootPath(), token
	f.factsFromToken, f.timeout, f.pushToRegistry = true, 30*time.Second, true
	var out, errOut bytes.Buffer
	if err := runAttest(context.Background(), f, nil, &out, &errOut, attestEnv(nil)); err != nil {
		t.Fatalf("attest: %v\n%s", err, errOut.String())
	}
	return f.bundlePath, errOut.String()
}

func TestVerifyImageOnRegistries(t *testing.T) {
	sb := sandboxtest.Start(t)
	registries := []struct {
		name   string
		start  func(testing.TB) *ocitest.Registry
		source oci.Source
	}{
		{"distribution 2.8 with htpasswd", func(t testing.TB) *ocitest.Registry {
			return ocitest.Distribution(t, ocitest.WithHtpasswd("release-bot", "hunter2-registry"))
		}, oci.SourceReferrersTag},
		{"referrers API", func(t testing.TB) *ocitest.Registry { return ocitest.Referrers(t) }, oci.SourceReferrersAPI},
	}
	for _, rc := range registries {
		t.Run(rc.name, func(t *testing.T) {
			reg := rc.start(t)
			ocitest.DockerConfig(t, reg)
			img := reg.Image(t, "acme/app", "v1.4.2")
			bundlePath, pushLog := attestImage(t, sb, attestFlags{subjectImages: []string{img.String()}, pushLegacyTag: true})
			if !strings.Contains(pushLog, string(rc.source)) {
				t.Errorf("push log %q does not name %s", pushLog, rc.source)
			}
			if _, err := remote.Head(img.Context().Tag(strings.Replace(img.DigestStr(), ":", "-", 1)+".att"), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
				t.Errorf("--push-legacy-tag: %v", err)
			}
			base := []string{"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL}
			tests := []struct {
				name       string
				args       []string
				code       int
				stdout     string
				stderr     string
				json       bool
				wantPassed bool
			}{
				{name: "by digest", args: []string{img.String(), "--source-uri", "github.com/acme/app", "--source-tag", "v1.4.2"}, stdout: "PASSED: " + img.String()},
				{name: "versioned tag and builder", args: []string{img.String(), "--source-uri", "github.com/acme/app", "--source-versioned-tag", "v1",
					"--builder-id", "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@v1.0.0"}, stdout: "SLSA build level 3"},
				// A tag can move before the image runs: it fails, naming
				// the digest to pin.
				{name: "by tag", args: []string{img.Context().String() + ":v1.4.2", "--source-uri", "github.com/acme/app"}, code: 1,
					stdout: "FAILED: input: want an image named by digest (IMAGE@sha256:HEX), got a tag, now pointing to " + img.DigestStr() + " (" + img.Context().String() + ":v1.4.2); pin the digest: verify-image " + img.String()},
				{name: "json", args: []string{img.String(), "--source-uri", "github.com/acme/app", "--format", "json", "--print-provenance"}, json: true, wantPassed: true},
				{name: "wrong source", args: []string{img.String(), "--source-uri", "github.com/evil/app"}, code: 1, stdout: "FAILED: source: want "},
				{name: "wrong tag", args: []string{img.String(), "--source-uri", "github.com/acme/app", "--source-tag", "v9.9.9"}, code: 1, stdout: "FAILED: ref: want "},
				{name: "wrong identity", args: []string{img.String(), "--source-uri", "github.com/acme/app", "--cert-identity", "https://github.com/acme/app/.github/workflows/x.yml@refs/heads/main"}, code: 1, stdout: "FAILED: identity: "},
				{name: "missing source", args: []string{img.String()}, code: 2, stderr: "--source-uri is required"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					stdout, stderr, code := run(t, append(append([]string{"verify-image"}, tc.args...), base...)...)
					if code != tc.code || !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.stderr) {
						t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
					}
					if tc.json {
						var out struct {
							Passed     bool              `json:"passed"`
							Verdicts   []verdict         `json:"verdicts"`
							Provenance []json.RawMessage `json:"provenance"`
						}
						if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Passed != tc.wantPassed || len(out.Provenance) != 1 || out.Verdicts[0].Digest != img.DigestStr() {
							t.Fatalf("json: %v\n%s", err, stdout)
						}
					}
				})
			}

			t.Run("no provenance", func(t *testing.T) {
				bare := reg.Image(t, "acme/app", "unattested")
				stdout, _, code := run(t, append([]string{"verify-image", bare.String(), "--source-uri", "github.com/acme/app"}, base...)...)
				if code != 1 || !strings.Contains(stdout, "FAILED: attestation: want SLSA provenance (https://slsa.dev/provenance/v1 or https://slsa.dev/provenance/v0.2) attached to") {
					t.Fatalf("exit %d\n%s", code, stdout)
				}
			})

			t.Run("provenance of another image", func(t *testing.T) {
				other := reg.Image(t, "acme/app", "other")
				// Attach img's bundle to other: the signature is good, the subject is not.
				data, _ := os.ReadFile(bundlePath)
				if _, err := oci.Push(context.Background(), other, oci.Attestation{Bundle: data, PredicateType: predicateSLSAv1}); err != nil {
					t.Fatal(err)
				}
				stdout, _, code := run(t, append([]string{"verify-image", other.String(), "--source-uri", "github.com/acme/app"}, base...)...)
				if code != 1 || !strings.Contains(stdout, "FAILED: subject: ") {
					t.Fatalf("exit %d\n%s", code, stdout)
				}
			})
		})
	}
}

func TestVerifyImageRegistryFaults(t *testing.T) {
	sb := sandboxtest.Start(t)
	base := []string{"--source-uri", "github.com/acme/app", "--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL}

	t.Run("registry down", func(t *testing.T) {
		ocitest.DockerConfig(t, &ocitest.Registry{})
		ref := ocitest.DownAddr(t) + "/acme/app@sha256:" + strings.Repeat("a", 64)
		_, stderr, code := run(t, append([]string{"verify-image", ref}, base...)...)
		if code != 2 || !strings.Contains(stderr, oci.ErrUnreachable.Error()) {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
	})

	t.Run("401", func(t *testing.T) {
		reg := ocitest.Distribution(t, ocitest.WithHtpasswd("release-bot", "hunter2-registry"))
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		ocitest.DockerConfig(t, &ocitest.Registry{})
		_, stderr, code := run(t, append([]string{"verify-image", img.String()}, base...)...)
		if code != 2 || !strings.Contains(stderr, oci.ErrUnauthorized.Error()) {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
	})

	t.Run("referrer whose blob is missing", func(t *testing.T) {
		reg := ocitest.Distribution(t)
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		bundlePath, _ := attestImage(t, sb, attestFlags{subjectImages: []string{img.String()}})
		data, _ := os.ReadFile(bundlePath)
		h, _, _ := v1.SHA256(bytes.NewReader(data))
		reg.RemoveBlob(t, h)
		stdout, _, code := run(t, append([]string{"verify-image", img.String()}, base...)...)
		if code != 1 || !strings.Contains(stdout, "FAILED: attestation: ") || !strings.Contains(stdout, h.String()) {
			t.Fatalf("exit %d\n%s", code, stdout)
		}
	})

	t.Run("push to a registry returning 5xx", func(t *testing.T) {
		failing := false
		reg := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failing && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
					http.Error(w, "storage backend down", http.StatusBadGateway)
					return
				}
				h.ServeHTTP(w, r)
			})
		}))
		ocitest.DockerConfig(t, reg)
		img := reg.Image(t, "acme/app", "v1")
		failing = true
		token, _ := sb.Token(oidc.DefaultAudience, imageClaims)
		var out, errOut bytes.Buffer
		err := runAttest(context.Background(), attestFlags{
			subjectImages: []string{img.String()}, bundlePath: filepath.Join(t.TempDir(), "p.sigstore.json"), format: "text",
			signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
			factsFromToken: true, timeout: 30 * time.Second, pushToRegistry: true,
		}, nil, &out, &errOut, attestEnv(nil))
		if err == nil || !strings.Contains(err.Error(), oci.ErrRegistry.Error()) {
			t.Fatalf("attest: %v", err)
		}
		stdout, _, code := run(t, append([]string{"verify-image", img.String()}, base...)...)
		if code != 1 || !strings.Contains(stdout, "FAILED: attestation: ") {
			t.Fatalf("after a failed push: exit %d\n%s", code, stdout)
		}
	})
}

func TestAttestPlatformsPushesEachImage(t *testing.T) {
	sb := sandboxtest.Start(t)
	reg := ocitest.Referrers(t)
	ocitest.DockerConfig(t, reg)
	idx, platforms := reg.Index(t, "acme/multi", "v1.4.2")
	dir := t.TempDir()
	_, log := attestImage(t, sb, attestFlags{subjectImages: []string{idx.String()}, attestPlatforms: true, bundlePath: filepath.Join(dir, "multi.sigstore.json")})
	for _, p := range []string{"multi.linux-amd64.sigstore.json", "multi.linux-arm64.sigstore.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("platform bundle: %v\n%s", err, log)
		}
	}
	for _, d := range append([]name.Digest{idx}, platforms...) {
		stdout, stderr, code := run(t, "verify-image", d.String(), "--source-uri", "github.com/acme/app",
			"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL)
		if code != 0 {
			t.Errorf("%s: exit %d\n%s%s", d, code, stdout, stderr)
		}
	}
}

// TestAttestPlatformsSummary: --attest-platforms attests the index and
// each platform image in one run, and the JSON summary lists every bundle
// and every push, the platforms' included; each image carries exactly the
// bundle written for it.
func TestAttestPlatformsSummary(t *testing.T) {
	sb := sandboxtest.Start(t)
	reg := ocitest.Referrers(t)
	ocitest.DockerConfig(t, reg)
	idx, platforms := reg.Index(t, "acme/multi", "v2")
	f, dir := imagesFlags(t, sb)
	f.subjectImagesEach, f.subjectImages, f.attestPlatforms = nil, []string{idx.String()}, true
	var stdout, stderr bytes.Buffer
	if err := runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil)); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr.String())
	}
	resulttest.Check(t, resulttest.AttestSchema, stdout.Bytes())
	var sum result.Attest
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]name.Digest{filepath.Join(dir, "provenance.sigstore.json"): idx}
	for i, arch := range []string{"amd64", "arm64"} {
		want[filepath.Join(dir, "provenance.linux-"+arch+".sigstore.json")] = platforms[i]
	}
	if len(sum.Bundles) != len(want) || len(sum.Pushes) != len(want) {
		t.Fatalf("%d bundles and %d pushes, want %d of each:\n%s", len(sum.Bundles), len(sum.Pushes), len(want), stdout.String())
	}
	for _, b := range sum.Bundles {
		img, ok := want[b.Path]
		if !ok || len(b.Subjects) != 1 || "sha256:"+b.Subjects[0].Digest["sha256"] != img.DigestStr() {
			t.Errorf("bundle %s about %v: want one of %v, about its image", b.Path, b.Subjects, want)
		}
	}
	for _, p := range sum.Pushes {
		img, ok := want[p.Bundle]
		if !ok || p.Image != img.String() || p.Manifest == "" || p.Error != "" {
			t.Errorf("push %+v: want %s attached to its image", p, p.Bundle)
			continue
		}
		data, err := os.ReadFile(p.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		if got := attachedBundles(t, img); len(got) != 1 || got[0] != string(data) {
			t.Errorf("%s: %d bundles attached, want %s alone", img, len(got), p.Bundle)
		}
	}
}

// TestImageInteropWithCosign: cosign verifies what Hallmark pushed, and
// Hallmark verifies what cosign pushed, through the referrers tag schema of
// a registry without the referrers API.
func TestImageInteropWithCosign(t *testing.T) {
	sb := sandboxtest.Start(t)
	cosign := toolcachetest.Tool(t, toolcache.Cosign)
	reg := ocitest.Distribution(t, ocitest.WithHtpasswd("release-bot", "hunter2-registry"))
	ocitest.DockerConfig(t, reg)
	san := "https://github.com/" + testJobRef
	cosignCmd := func(args ...string) ([]byte, error) {
		cmd := exec.Command(cosign, args...)
		cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
		return cmd.CombinedOutput()
	}

	img := reg.Image(t, "acme/app", "hallmark-signed")
	bundlePath, _ := attestImage(t, sb, attestFlags{subjectImages: []string{img.String()}})

	t.Run("cosign verifies Hallmark's", func(t *testing.T) {
		out, err := cosignCmd("verify-attestation", "--new-bundle-format", "--trusted-root", sb.TrustedRootPath(),
			"--certificate-identity", san, "--certificate-oidc-issuer", sb.IssuerURL, "--type", "slsaprovenance1",
			"--insecure-ignore-sct", "--use-signed-timestamps", "--allow-insecure-registry", img.String())
		if err != nil {
			t.Fatalf("cosign verify-attestation: %v\n%s", err, out)
		}
	})

	t.Run("Hallmark verifies cosign's", func(t *testing.T) {
		other := reg.Image(t, "acme/app", "cosign-signed")
		// The same build, described by the provenance Hallmark made, signed
		// and pushed by cosign.
		_, st := statementOf(t, bundlePath)
		pred, _ := json.Marshal(st["predicate"])
		dir := t.TempDir()
		predPath := filepath.Join(dir, "predicate.json")
		if err := os.WriteFile(predPath, pred, 0o644); err != nil {
			t.Fatal(err)
		}
		// cosign v2.6.5 logs DSSE in Rekor v2 as a dsse entry, which
		// rekor-tiles v2.3.0 refuses (it takes hashedrekord only): cosign
		// signs with the sandbox's Fulcio and TSA, and the policy asks for
		// a signed timestamp instead of a log entry.
		var sc map[string]any
		raw, _ := os.ReadFile(sb.SigningConfigPath())
		if err := json.Unmarshal(raw, &sc); err != nil {
			t.Fatal(err)
		}
		delete(sc, "rekorTlogUrls")
		delete(sc, "rekorTlogConfig")
		raw, _ = json.Marshal(sc)
		scPath := filepath.Join(dir, "signing_config.json")
		os.WriteFile(scPath, raw, 0o644)
		policy := filepath.Join(dir, "policy.yaml")
		os.WriteFile(policy, []byte(`issuers: [`+sb.IssuerURL+`]
builders:
  - {name: hallmark, signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/{generic,container,go}.yml@refs/tags/v*", maxLevel: 3}
source: github.com/acme/app
thresholds: {transparencyLog: 0, signedTimestamps: 1}
`), 0o644)

		token, err := sb.Token(oidc.DefaultAudience, imageClaims)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cosignCmd("attest", "--new-bundle-format", "--yes", "--signing-config", scPath,
			"--trusted-root", sb.TrustedRootPath(), "--identity-token", token, "--predicate", predPath,
			"--type", "slsaprovenance1", "--allow-insecure-registry", other.String())
		if err != nil {
			t.Fatalf("cosign attest: %v\n%s", err, out)
		}
		stdout, stderr, code := run(t, "verify-image", other.String(), "--policy", policy, "--source-tag", "v1.4.2",
			"--trusted-root", sb.TrustedRootPath(), "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
	})
}

// BenchmarkVerifyImage measures verify-image against a local registry:
// cold (trusted root and policy loaded, new connections, every time) and
// warm (verifier and connections kept), with the registry round trips per
// verification. go test ./internal/cli -run '^$' -bench VerifyImage
func BenchmarkVerifyImage(b *testing.B) {
	sb := sandboxtest.Start(b)
	for _, rc := range []struct {
		name  string
		start func(testing.TB) *ocitest.Registry
	}{
		{"referrers-api", func(tb testing.TB) *ocitest.Registry { return ocitest.Referrers(tb) }},
		{"distribution-tag-schema", func(tb testing.TB) *ocitest.Registry { return ocitest.Distribution(tb) }},
	} {
		reg := rc.start(b)
		ocitest.DockerConfig(b, reg)
		img := reg.Image(b, "acme/app", "v1")
		token, err := sb.Token(oidc.DefaultAudience, imageClaims)
		if err != nil {
			b.Fatal(err)
		}
		var out, errOut bytes.Buffer
		if err := runAttest(context.Background(), attestFlags{
			subjectImages: []string{img.String()}, bundlePath: filepath.Join(b.TempDir(), "p.sigstore.json"), format: "text",
			signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
			factsFromToken: true, timeout: 30 * time.Second, pushToRegistry: true,
		}, nil, &out, &errOut, attestEnv(nil)); err != nil {
			b.Fatal(err)
		}
		f := verifyFlags{sourceURI: "github.com/acme/app", trustedRoot: sb.TrustedRootPath(), certOIDCIssuer: sb.IssuerURL, format: "text"}

		b.Run(rc.name+"/cold", func(b *testing.B) {
			var trips int64
			for b.Loop() {
				ct := &ocitest.CountingTransport{Base: remote.DefaultTransport.(*http.Transport).Clone()}
				if err := runVerifyImage(context.Background(), f, img.String(), io.Discard, io.Discard, oci.WithTransport(ct)); err != nil {
					b.Fatal(err)
				}
				trips += ct.Reset()
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
		})
		b.Run(rc.name+"/warm", func(b *testing.B) {
			v, _, _, err := f.newVerifier()
			if err != nil {
				b.Fatal(err)
			}
			ct := &ocitest.CountingTransport{Base: remote.DefaultTransport.(*http.Transport).Clone()}
			var trips int64
			for b.Loop() {
				vd, err := verifyImage(context.Background(), v, img.String(), io.Discard, oci.WithTransport(ct))
				if err != nil || !vd.Passed {
					b.Fatalf("%v %+v", err, vd.Failure)
				}
				trips += ct.Reset()
			}
			b.ReportMetric(float64(trips)/float64(b.N), "roundtrips/op")
		})
	}
}

func TestAttestJSONListsPushes(t *testing.T) {
	sb := sandboxtest.Start(t)
	reg := ocitest.Referrers(t)
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v2")
	token, err := sb.Token(oidc.DefaultAudience, imageClaims)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = runAttest(context.Background(), attestFlags{
		subjectImages: []string{img.String()}, bundlePath: filepath.Join(t.TempDir(), "p.sigstore.json"), format: "json",
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
		factsFromToken: true, timeout: 30 * time.Second, pushToRegistry: true,
	}, nil, &out, &errOut, attestEnv(nil))
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, errOut.String())
	}
	var sum attestSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(sum.Pushes) != 1 || sum.Pushes[0].Image != img.String() || !strings.HasPrefix(sum.Pushes[0].Manifest, "sha256:") || sum.Pushes[0].Via == "" {
		t.Fatalf("pushes = %+v", sum.Pushes)
	}
}
