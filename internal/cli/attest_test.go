package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// attestEnv is a getenv for runAttest: only the given variables exist.
func attestEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func sha256Hex(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

// statementOf decodes the in-toto statement inside a bundle file.
func statementOf(t *testing.T, path string) (*bundle.Bundle, map[string]any) {
	t.Helper()
	var b bundle.Bundle
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.UnmarshalJSON(data); err != nil {
		t.Fatalf("%s is not a Sigstore bundle: %v", path, err)
	}
	payload := b.GetDsseEnvelope().GetPayload()
	var st map[string]any
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	return &b, st
}

func verifyWithSigstoreGo(t *testing.T, sb *sandbox.Sandbox, b *bundle.Bundle, artifact, san string) {
	t.Helper()
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(sb.IssuerURL, "", san, "")
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := hex.DecodeString(sha256Hex(artifact))
	if _, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(id))); err != nil {
		t.Fatalf("sigstore-go rejects the bundle: %v", err)
	}
}

func TestAttestSignsVerifiableProvenance(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"dist/app-linux": "linux binary\n", "dist/app-darwin": "darwin binary\n"})
	overrides := map[string]string{
		"repository":       "acme/app",
		"ref":              "refs/tags/v1.2.3",
		"job_workflow_ref": "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
	}
	token, err := sb.Token(oidc.DefaultAudience, overrides)
	if err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(dir, "out", "provenance.sigstore.json")
	os.MkdirAll(filepath.Dir(bundlePath), 0o755)
	var stdout, stderr bytes.Buffer
	err = runAttest(context.Background(), attestFlags{
		subjectPaths: []string{filepath.Join(dir, "dist/*")}, bundlePath: bundlePath, format: "json",
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
		factsFromToken: true, timeout: 30 * time.Second,
	}, nil, &stdout, &stderr, attestEnv(nil))
	if err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Fatal("the identity token reached the output")
	}
	var sum attestSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("--format json: %v\n%s", err, stdout.String())
	}
	wantBuilder := "https://github.com/" + overrides["job_workflow_ref"]
	if sum.BuilderID != wantBuilder || len(sum.Bundles) != 1 || sum.Bundles[0].LogIndex == nil || !sum.Bundles[0].Timestamped {
		t.Fatalf("summary = %+v", sum)
	}
	resulttest.Check(t, resulttest.AttestSchema, stdout.Bytes())

	b, st := statementOf(t, bundlePath)
	verifyWithSigstoreGo(t, sb, b, "linux binary\n", wantBuilder)
	pred := st["predicate"].(map[string]any)
	if got := pred["runDetails"].(map[string]any)["builder"].(map[string]any)["id"]; got != wantBuilder {
		t.Errorf("builder.id = %v, want %v", got, wantBuilder)
	}
	deps := pred["buildDefinition"].(map[string]any)["resolvedDependencies"].([]any)
	if uri := deps[0].(map[string]any)["uri"]; uri != "git+https://github.com/acme/app@refs/tags/v1.2.3" {
		t.Errorf("source uri = %v", uri)
	}
	subjects := st["subject"].([]any)
	if len(subjects) != 2 {
		t.Fatalf("%d subjects, want 2", len(subjects))
	}

	t.Run("cosign agrees", func(t *testing.T) {
		cosign := toolcachetest.Tool(t, toolcache.Cosign)
		cmd := exec.Command(cosign, "verify-blob-attestation", "--new-bundle-format",
			"--bundle", bundlePath, "--trusted-root", sb.TrustedRootPath(),
			"--certificate-identity", wantBuilder, "--certificate-oidc-issuer", sb.IssuerURL,
			"--type", "slsaprovenance1", "--use-signed-timestamps", "--insecure-ignore-sct",
			filepath.Join(dir, "dist/app-darwin"))
		cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign: %v\n%s", err, out)
		}
	})
}

// TestAttestInGitHubActions runs attest as the action will: facts from the
// runner's environment, the token from the Actions token-request protocol.
func TestAttestInGitHubActions(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"app.tar.gz": "release tarball\n"})
	jobRef := "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"
	env, err := sb.ActionsEnv(map[string]string{
		"repository": "acme/app", "repository_id": "42", "repository_owner_id": "7",
		"ref": "refs/heads/main", "sha": strings.Repeat("a", 40), "job_workflow_ref": jobRef,
		"workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main", "run_id": "99",
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/app",
		"GITHUB_REPOSITORY_ID": "42", "GITHUB_REPOSITORY_OWNER_ID": "7", "GITHUB_REF": "refs/heads/main",
		"GITHUB_SHA": strings.Repeat("a", 40), "GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/heads/main",
		"GITHUB_EVENT_NAME": "push", "GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "1", "RUNNER_ENVIRONMENT": "github-hosted",
	} {
		env[k] = v
	}
	bundlePath := filepath.Join(dir, "app.sigstore.json")
	var stdout, stderr bytes.Buffer
	err = runAttest(context.Background(), attestFlags{
		subjectPaths: []string{filepath.Join(dir, "*.tar.gz")}, bundlePath: bundlePath, format: "text", timeout: 30 * time.Second,
	}, nil, &stdout, &stderr, attestEnv(env))
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	b, st := statementOf(t, bundlePath)
	verifyWithSigstoreGo(t, sb, b, "release tarball\n", "https://github.com/"+jobRef)
	meta := st["predicate"].(map[string]any)["runDetails"].(map[string]any)["metadata"].(map[string]any)
	if meta["invocationId"] != "https://github.com/acme/app/actions/runs/99/attempts/1" {
		t.Errorf("invocationId = %v", meta["invocationId"])
	}
	if !strings.Contains(stdout.String(), "wrote "+bundlePath) {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestAttestSplitsLargeSubjectSets(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	var sums strings.Builder
	for i := range 1030 {
		fmt.Fprintf(&sums, "%s  file-%04d\n", sha256Hex(fmt.Sprint(i)), i)
	}
	token, _ := sb.Token(oidc.DefaultAudience, nil)
	base := filepath.Join(dir, "release.sigstore.json")
	var stdout, stderr bytes.Buffer
	err := runAttest(context.Background(), attestFlags{
		subjectChecksums: []string{"-"}, bundlePath: base, format: "json", signingConfig: sb.SigningConfigPath(),
		trustedRoot: sb.TrustedRootPath(), identityToken: token, factsFromToken: true, timeout: 30 * time.Second,
	}, strings.NewReader(sums.String()), &stdout, &stderr, attestEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"release.1.sigstore.json": 1024, "release.2.sigstore.json": 6} {
		_, st := statementOf(t, filepath.Join(dir, name))
		if got := len(st["subject"].([]any)); got != want {
			t.Errorf("%s: %d subjects, want %d", name, got, want)
		}
	}
	if _, err := os.Stat(base); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("split run also wrote %s", base)
	}

	t.Run("per subject", func(t *testing.T) {
		err := runAttest(context.Background(), attestFlags{
			subjectNames: []string{"dist/a.bin", "dist/b.bin"}, subjectDigests: []string{"sha256:" + sha256Hex("a"), "sha256:" + sha256Hex("b")},
			bundlePath: filepath.Join(dir, "each.sigstore.json"), perSubject: true, format: "text", signingConfig: sb.SigningConfigPath(),
			trustedRoot: sb.TrustedRootPath(), identityToken: token, factsFromToken: true, timeout: 30 * time.Second,
		}, nil, &stdout, &stderr, attestEnv(nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"each.a.bin.sigstore.json", "each.b.bin.sigstore.json"} {
			if _, st := statementOf(t, filepath.Join(dir, name)); len(st["subject"].([]any)) != 1 {
				t.Errorf("%s: want one subject", name)
			}
		}
	})
}

// deadURL is an address where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// signingConfigWith writes a copy of the sandbox's signing config with one
// server's URL replaced.
func signingConfigWith(t *testing.T, sb *sandbox.Sandbox, key, url string) string {
	t.Helper()
	data, err := os.ReadFile(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(data, &sc); err != nil {
		t.Fatal(err)
	}
	sc[key].([]any)[0].(map[string]any)["url"] = url
	out, _ := json.Marshal(sc)
	p := filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAttestFailuresWriteNothing(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "a\n"})
	good, _ := sb.Token(oidc.DefaultAudience, nil)
	otherAud, _ := sb.Token("other", nil)
	now := time.Now()
	expired, _ := sb.Token(oidc.DefaultAudience, map[string]string{
		"iat": fmt.Sprint(now.Add(-20 * time.Minute).Unix()), "nbf": fmt.Sprint(now.Add(-30 * time.Minute).Unix()),
		"exp": fmt.Sprint(now.Add(-10 * time.Minute).Unix()),
	})
	fileAsDir := filepath.Join(dir, "a.txt", "provenance.sigstore.json")
	tests := []struct {
		name          string
		token         string
		signingConfig string
		bundlePath    string
		paths         []string
		want          error
	}{
		{name: "fulcio down", token: good, signingConfig: signingConfigWith(t, sb, "caUrls", deadURL(t)), want: signer.ErrCertificate},
		{name: "rekor down", token: good, signingConfig: signingConfigWith(t, sb, "rekorTlogUrls", deadURL(t)), want: signer.ErrLog},
		{name: "tsa down", token: good, signingConfig: signingConfigWith(t, sb, "tsaUrls", deadURL(t)+"/api/v1/timestamp"), want: signer.ErrTimestamp},
		{name: "wrong audience", token: otherAud, want: signer.ErrToken},
		{name: "expired token", token: expired, want: signer.ErrToken},
		{name: "unwritable output", token: good, bundlePath: fileAsDir, want: syscall.ENOTDIR},
		{name: "no file matches", token: good, paths: []string{filepath.Join(dir, "*.none")}, want: subject.ErrNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "provenance.sigstore.json")
			if tt.bundlePath != "" {
				out = tt.bundlePath
			}
			sc := sb.SigningConfigPath()
			if tt.signingConfig != "" {
				sc = tt.signingConfig
			}
			paths := []string{filepath.Join(dir, "*.txt")}
			if tt.paths != nil {
				paths = tt.paths
			}
			var stdout, stderr bytes.Buffer
			err := runAttest(context.Background(), attestFlags{
				subjectPaths: paths, bundlePath: out, format: "text", signingConfig: sc, trustedRoot: sb.TrustedRootPath(),
				identityToken: tt.token, factsFromToken: true, timeout: 5 * time.Second, retries: 1,
			}, nil, &stdout, &stderr, attestEnv(nil))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatal("the identity token is in the error")
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) && !errors.Is(serr, syscall.ENOTDIR) {
				t.Errorf("a bundle was written despite the failure (%v)", serr)
			}
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*"))
			if len(matches) > 0 {
				t.Errorf("temporary files left: %v", matches)
			}
		})
	}
}

// TestAttestRejectsPushFlagsBeforeSigning needs no servers: the signing
// config does not exist, so any error but the flags' means attest got as
// far as signing.
func TestAttestRejectsPushFlagsBeforeSigning(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "a\n"})
	for name, f := range map[string]attestFlags{
		"push without image":      {pushToRegistry: true},
		"legacy tag without push": {pushLegacyTag: true},
		"platforms without push":  {attestPlatforms: true, subjectImages: []string{"registry.example/app@sha256:" + strings.Repeat("a", 64)}},
	} {
		t.Run(name, func(t *testing.T) {
			f.subjectPaths = []string{filepath.Join(dir, "a.txt")}
			f.bundlePath, f.format, f.signingConfig = filepath.Join(dir, "out.sigstore.json"), "text", filepath.Join(dir, "missing.json")
			err := runAttest(context.Background(), f, nil, io.Discard, io.Discard, attestEnv(nil))
			if err == nil || !strings.Contains(err.Error(), "push-to-registry") {
				t.Fatalf("err = %v, want the push flags refused first", err)
			}
		})
	}
}

// BenchmarkAttestTenThousandSubjects signs 10,000 subjects (ten bundles)
// on the sandbox; it reports the wall time of one attest and its CPU time,
// so the ratio shows how much of it waits on the servers.
func BenchmarkAttestTenThousandSubjects(b *testing.B) {
	sb := sandboxtest.Start(b)
	var sums strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sums, "%s  file-%05d\n", sha256Hex(fmt.Sprint(i)), i)
	}
	var cpu time.Duration
	for b.Loop() {
		token, _ := sb.Token(oidc.DefaultAudience, nil)
		dir := b.TempDir()
		var stdout, stderr bytes.Buffer
		before := processCPU()
		err := runAttest(context.Background(), attestFlags{
			subjectChecksums: []string{"-"}, bundlePath: filepath.Join(dir, "release.sigstore.json"), format: "json",
			signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
			factsFromToken: true, timeout: 30 * time.Second,
		}, strings.NewReader(sums.String()), &stdout, &stderr, attestEnv(nil))
		cpu += processCPU() - before
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestAttestDigestAlgorithms: --digest-algorithm names the subjects' digests
// (sha512, as npm names packages, or both), and verify-artifact hashes the
// artifact with what the statement names.
func TestAttestDigestAlgorithms(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"pkg.tgz": "a package\n"})
	token, _ := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/app", "job_workflow_ref": testJobRef})
	for _, tc := range []struct {
		algs []string
		want []string
	}{
		{[]string{"sha512"}, []string{"sha512"}},
		{[]string{"sha256", "sha512"}, []string{"sha256", "sha512"}},
	} {
		t.Run(strings.Join(tc.algs, "+"), func(t *testing.T) {
			bundle := filepath.Join(dir, strings.Join(tc.algs, "-")+".sigstore.json")
			var stdout, stderr bytes.Buffer
			if err := runAttest(context.Background(), attestFlags{
				subjectPaths: []string{filepath.Join(dir, "pkg.tgz")}, digestAlgorithms: tc.algs, bundlePath: bundle, format: "text",
				signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
				factsFromToken: true, timeout: 30 * time.Second,
			}, nil, &stdout, &stderr, attestEnv(nil)); err != nil {
				t.Fatal(err)
			}
			_, st := statementOf(t, bundle)
			digest := st["subject"].([]any)[0].(map[string]any)["digest"].(map[string]any)
			var got []string
			for alg := range digest {
				got = append(got, alg)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("subject digests %v, want %v", got, tc.want)
			}
			out, errOut, code := run(t, "verify-artifact", filepath.Join(dir, "pkg.tgz"), "--provenance-path", bundle, "--trusted-root", sb.TrustedRootPath(),
				"--cert-oidc-issuer", sb.IssuerURL, "--source-uri", "github.com/acme/app")
			if code != 0 || !strings.Contains(out, "PASSED") {
				t.Fatalf("verify-artifact: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
	if _, errOut, code := run(t, "attest", "--subject-path", filepath.Join(dir, "pkg.tgz"), "--digest-algorithm", "md5"); code != 2 || !strings.Contains(errOut, "md5") {
		t.Fatalf("--digest-algorithm md5: exit %d, %s", code, errOut)
	}
}
