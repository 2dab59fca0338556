package cli

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"golang.org/x/crypto/ssh"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestVerifyNpmPackageRealWorld runs every npm case of the real-world
// corpus (packages the npm registry published with provenance, from
// slsa-verifier's tests) through verify-npm-package as a person would:
// accepted ones exit 0 with PASSED, rejected ones exit 1 with the failed
// check, or 2 when slsa-verifier's reason is a --builder-id it does not
// take. Offline, no servers.
func TestVerifyNpmPackageRealWorld(t *testing.T) {
	m, err := realworld.Load(filepath.Join("..", "..", "testdata", "realworld"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range m.Cases {
		if c.BundleFormat != realworld.FormatNPMAttestations {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			args := []string{"verify-npm-package", m.Path(c.Artifact), "--attestations-path", m.Path(c.Bundle),
				"--trusted-root", m.Path(m.Trust[c.TrustedRoot].File), "--npm-keys", m.Path(m.Trust["npm-registry-keys"].File)}
			stdout, stderr, code := run(t, append(args, c.Args()...)...)
			switch {
			case c.Expect == realworld.Accept:
				if code != 0 || !strings.HasPrefix(stdout, "PASSED: ") || !strings.Contains(stdout, "SLSA build level ") {
					t.Fatalf("source accepts; exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
			case c.SourceError == "serrors.ErrorInvalidBuilderID" && len(c.Flags["builder-id"]) == 0, c.SourceError == "serrors.ErrorNotSupported":
				if code != 2 || !strings.Contains(stderr, "--builder-id") {
					t.Fatalf("source refuses the builder id; want exit 2 naming --builder-id, got %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
			default:
				if code != 1 || !strings.HasPrefix(stdout, "FAILED: ") {
					t.Fatalf("source rejects (%s); want exit 1 and FAILED, got %d\nstdout: %s\nstderr: %s", c.Reason, code, stdout, stderr)
				}
			}
		})
	}
	if n != 54 {
		t.Errorf("%d npm cases in the corpus, want 54", n)
	}
}

// npmPackage is an npm package published on the sandbox as the npm CLI
// publishes one: provenance signed with the job's identity (GitHub's first
// build type, builder id the runner), and a publish attestation signed with
// a registry key of its own, both in the sandbox's Rekor v2 with a
// timestamp.
type npmPackage struct {
	dir, tarball, attestations, keys string
	keyID                            string
	key                              []byte // DER
}

const npmSource = "github.com/acme/app"

func publishOnSandbox(t *testing.T, runner string) npmPackage {
	t.Helper()
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	tarball := make([]byte, 4096)
	if _, err := rand.Read(tarball); err != nil {
		t.Fatal(err)
	}
	p := npmPackage{dir: dir, tarball: filepath.Join(dir, "acme-app-1.4.2.tgz")}
	writeFile(t, p.tarball, tarball)
	sum := sha512.Sum512(tarball)
	subject := []any{map[string]any{"name": "pkg:npm/%40acme/app@1.4.2", "digest": map[string]any{"sha512": hex.EncodeToString(sum[:])}}}

	overrides := map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2", "workflow": "npm-publish", "runner_environment": runner}
	c, err := oidc.Claims(sb.IssuerURL, oidc.DefaultAudience, time.Now(), overrides)
	if err != nil {
		t.Fatal(err)
	}
	claim := func(k string) string { return c[k].(string) }
	provenance := map[string]any{
		"_type": "https://in-toto.io/Statement/v1", "subject": subject, "predicateType": verifier.PredicateSLSAv1,
		"predicate": map[string]any{
			"buildDefinition": map[string]any{
				"buildType":            verifier.BuildTypeGitHubWorkflowV0,
				"externalParameters":   map[string]any{"workflow": map[string]any{"ref": claim("ref"), "repository": "https://github.com/acme/app", "path": ".github/workflows/npm-publish.yml"}},
				"internalParameters":   map[string]any{"github": map[string]any{"event_name": claim("event_name"), "repository_id": claim("repository_id"), "repository_owner_id": claim("repository_owner_id")}},
				"resolvedDependencies": []any{map[string]any{"uri": "git+https://github.com/acme/app@" + claim("ref"), "digest": map[string]any{"gitCommit": claim("sha")}}},
			},
			"runDetails": map[string]any{
				"builder":  map[string]any{"id": "https://github.com/actions/runner/" + runner},
				"metadata": map[string]any{"invocationId": "https://github.com/acme/app/actions/runs/" + claim("run_id") + "/attempts/" + claim("run_attempt")},
			},
		},
	}
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	token, err := sb.Token(oidc.DefaultAudience, overrides)
	if err != nil {
		t.Fatal(err)
	}
	res, err := signer.Sign(t.Context(), mustJSON(t, provenance), signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, IdentityToken: token, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("signing provenance: %v", err)
	}
	provBundle := bundleJSON(t, res.Bundle.Bundle)

	// The registry's key, named as npm names its keys.
	ek, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(ek.GetPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	p.keyID = ssh.FingerprintSHA256(sshPub)
	if p.key, err = x509.MarshalPKIXPublicKey(ek.GetPublicKey()); err != nil {
		t.Fatal(err)
	}
	kp := hintedKeypair{ek, []byte(p.keyID)}
	publish := map[string]any{
		"_type": "https://in-toto.io/Statement/v0.1", "subject": subject, "predicateType": verifier.PredicateNpmPublish,
		"predicate": map[string]any{"name": "@acme/app", "version": "1.4.2", "registry": "https://registry.npmjs.org"},
	}
	opts := sign.BundleOptions{Context: t.Context()}
	now := time.Now()
	logs, err := root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sign.RekorAPIVersions, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		opts.TransparencyLogs = append(opts.TransparencyLogs, sign.NewRekor(&sign.RekorOptions{BaseURL: l.URL, Version: l.MajorAPIVersion, Timeout: 30 * time.Second}))
	}
	tsas, err := root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tsas {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities, sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: s.URL, Timeout: 30 * time.Second}))
	}
	pb, err := sign.Bundle(&sign.DSSEData{Data: mustJSON(t, publish), PayloadType: signer.PayloadTypeInToto}, kp, opts)
	if err != nil {
		t.Fatalf("signing the publish attestation: %v", err)
	}
	p.attestations = filepath.Join(dir, "attestations.json")
	writeFile(t, p.attestations, mustJSON(t, map[string]any{"attestations": []any{
		map[string]any{"predicateType": verifier.PredicateSLSAv1, "bundle": json.RawMessage(provBundle)},
		map[string]any{"predicateType": verifier.PredicateNpmPublish, "bundle": json.RawMessage(bundleJSON(t, pb))},
	}}))
	p.keys = p.keysFile(t, now.Add(-time.Hour), time.Time{})
	return p
}

// keysFile writes npm's keys.json listing the package's registry key,
// valid from start to end (none when zero).
func (p npmPackage) keysFile(t *testing.T, start, end time.Time) string {
	t.Helper()
	valid := map[string]any{"start": start.UTC().Format(time.RFC3339)}
	if !end.IsZero() {
		valid["end"] = end.UTC().Format(time.RFC3339)
	}
	f, err := os.CreateTemp(p.dir, "keys-*.json")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeFile(t, f.Name(), mustJSON(t, map[string]any{"keys": []any{map[string]any{
		"keyId": p.keyID, "keyUsage": "npm:attestations",
		"publicKey": map[string]any{"rawBytes": base64.StdEncoding.EncodeToString(p.key), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
	}}}))
	return f.Name()
}

// TestVerifyNpmPackageSandbox publishes npm packages on the sandbox as the
// npm CLI and the registry would, from a GitHub-hosted and a self-hosted
// runner, and verifies them: the runner proves level 2 or 1 and names no
// builder beyond it; the registry key must be the one keys.json lists, at
// the time it signed.
func TestVerifyNpmPackageSandbox(t *testing.T) {
	sb := sandboxtest.Start(t)
	hosted, selfHosted := publishOnSandbox(t, "github-hosted"), publishOnSandbox(t, "self-hosted")
	other := hosted
	other.keyID, other.key = selfHosted.keyID, selfHosted.key
	tests := []struct {
		name      string
		pkg       npmPackage
		keys      string
		args      []string
		wantCode  int
		wantLevel string
		wantCheck string
	}{
		{name: "GitHub-hosted", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted, "--package-name", "@acme/app", "--package-version", "1.4.2"}, wantLevel: "SLSA build level 2"},
		{name: "self-hosted", pkg: selfHosted, args: []string{"--builder-id", verifier.NpmRunnerSelfHosted, "--package-name", "@acme/app"}, wantLevel: "SLSA build level 1"},
		{name: "self-hosted named GitHub-hosted", pkg: selfHosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted}, wantCode: 1, wantCheck: "builder"},
		{name: "GitHub-hosted named self-hosted", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerSelfHosted}, wantCode: 1, wantCheck: "builder"},
		{name: "legacy runner id for v1 provenance", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerLegacy}, wantCode: 1, wantCheck: "builder"},
		{name: "the runner is no level 3 builder", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted, "--min-level", "3"}, wantCode: 1, wantCheck: "builder"},
		{name: "signer named for level 3", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted, "--signer-workflow", "acme/app/.github/workflows/npm-publish.yml@refs/tags/v1.4.2"}, wantLevel: "SLSA build level 3"},
		{name: "self-hosted stays level 1 with its signer named", pkg: selfHosted, args: []string{"--builder-id", verifier.NpmRunnerSelfHosted, "--signer-workflow", "acme/app/.github/workflows/npm-publish.yml@refs/tags/v1.4.2", "--min-level", "2"}, wantCode: 1, wantCheck: "builder"},
		{name: "another registry key", pkg: other, keys: other.keysFile(t, time.Now().Add(-time.Hour), time.Time{}), args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted}, wantCode: 1, wantCheck: "publishAttestation"},
		{name: "registry key not yet valid", pkg: hosted, keys: hosted.keysFile(t, time.Now().Add(time.Hour), time.Time{}), args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted}, wantCode: 1, wantCheck: "publishAttestation"},
		{name: "registry key expired", pkg: hosted, keys: hosted.keysFile(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)), args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted}, wantCode: 1, wantCheck: "publishAttestation"},
		{name: "wrong version", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted, "--package-version", "1.4.3"}, wantCode: 1, wantCheck: "package"},
		{name: "wrong source", pkg: hosted, args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted, "--source-uri", "github.com/acme/other"}, wantCode: 1, wantCheck: "source"},
		{name: "no builder id", pkg: hosted, wantCode: 2},
		{name: "no npm keys", pkg: hosted, keys: "-", args: []string{"--builder-id", verifier.NpmRunnerGitHubHosted}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.pkg.keys
			if tt.keys != "" {
				keys = tt.keys
			}
			args := []string{"verify-npm-package", tt.pkg.tarball, "--attestations-path", tt.pkg.attestations,
				"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL}
			if keys != "-" {
				args = append(args, "--npm-keys", keys)
			}
			if !strings.Contains(strings.Join(tt.args, " "), "--source-uri") {
				args = append(args, "--source-uri", npmSource)
			}
			stdout, stderr, code := run(t, append(args, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			switch {
			case tt.wantCode == 0 && (!strings.HasPrefix(stdout, "PASSED: ") || !strings.Contains(stdout, tt.wantLevel)):
				t.Fatalf("want PASSED with %s, got %s", tt.wantLevel, stdout)
			case tt.wantCode == 1 && !strings.HasPrefix(stdout, "FAILED: "+tt.wantCheck+": "):
				t.Fatalf("want FAILED: %s: …, got %s", tt.wantCheck, stdout)
			}
		})
	}

	// --format json, as verify-artifact writes it.
	stdout, stderr, code := run(t, "verify-npm-package", hosted.tarball, "--attestations-path", hosted.attestations, "--npm-keys", hosted.keys,
		"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL, "--source-uri", npmSource,
		"--builder-id", verifier.NpmRunnerGitHubHosted, "--format", "json")
	var out struct {
		Passed   bool `json:"passed"`
		Verdicts []struct {
			Digest string `json:"digest"`
			Level  int    `json:"slsaBuildLevel"`
			Source string `json:"sourceRepository"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
		t.Fatalf("exit %d, %v\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
	}
	if !out.Passed || len(out.Verdicts) != 1 || out.Verdicts[0].Level != 2 || !strings.HasPrefix(out.Verdicts[0].Digest, "sha512:") || out.Verdicts[0].Source != "https://github.com/acme/app" {
		t.Fatalf("json verdict: %s", stdout)
	}
	resulttest.Check(t, resulttest.VerifySchema, []byte(stdout))
}

// hintedKeypair is a keypair whose bundles name it by hint, as npm's
// publish attestations name the registry key.
type hintedKeypair struct {
	*sign.EphemeralKeypair
	hint []byte
}

func (k hintedKeypair) GetHint() []byte { return k.hint }

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func bundleJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
