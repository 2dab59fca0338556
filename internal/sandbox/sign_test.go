package sandbox_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// artifact and statement are what the tests attest: an in-toto statement
// about one file, as any SLSA producer would write it.
var artifact = []byte("hello from the hallmark sandbox\n")

var artifactSHA256 = func() string { d := sha256.Sum256(artifact); return hex.EncodeToString(d[:]) }()

func statement(t *testing.T) []byte {
	t.Helper()
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"hello.txt","digest":{"sha256":"` + artifactSHA256 + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://github.com/hallmark-dev/example/.github/workflows/release.yml@refs/heads/main"}}}}`)
}

// signDSSE signs payload through the sandbox with sigstore-go only: Fulcio
// for the certificate, Rekor v2 for the log entry, the TSA for a timestamp.
func signDSSE(t *testing.T, sb *sandbox.Sandbox, token string, payload []byte) (*protobundle.Bundle, error) {
	t.Helper()
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca, err := root.SelectService(sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now)
	if err != nil {
		t.Fatal(err)
	}
	rekor, err := root.SelectService(sc.RekorLogURLs(), sign.RekorAPIVersions, now)
	if err != nil {
		t.Fatal(err)
	}
	if rekor.MajorAPIVersion != 2 {
		t.Fatalf("signing config offers Rekor API v%d, want v2", rekor.MajorAPIVersion)
	}
	tsa, err := root.SelectService(sc.TimestampAuthorityURLs(), sign.TimestampAuthorityAPIVersions, now)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: "application/vnd.in-toto+json"}, kp, sign.BundleOptions{
		CertificateProvider:        sign.NewFulcio(&sign.FulcioOptions{BaseURL: ca.URL, Retries: 0}),
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: token},
		TransparencyLogs:           []sign.Transparency{sign.NewRekor(&sign.RekorOptions{BaseURL: rekor.URL, Version: rekor.MajorAPIVersion})},
		TimestampAuthorities:       []*sign.TimestampAuthority{sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: tsa.URL})},
		TrustedRoot:                tr,
	})
}

func TestSignedDSSEVerifiesWithSigstoreGo(t *testing.T) {
	sb := sandboxtest.Start(t)
	overrides := map[string]string{
		"repository":         "acme/app",
		"ref":                "refs/tags/v1.2.3",
		"job_workflow_ref":   "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
		"job_workflow_sha":   "1111111111111111111111111111111111111111",
		"runner_environment": "github-hosted",
	}
	token, err := sb.Token(oidc.DefaultAudience, overrides)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := signDSSE(t, sb, token, statement(t))
	if err != nil {
		t.Fatalf("signing through the sandbox: %v", err)
	}

	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	claims := tokenClaims(t, token)
	san := "https://github.com/" + claims["job_workflow_ref"].(string)
	id, err := verify.NewShortCertificateIdentity(sb.IssuerURL, "", san, "")
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{Bundle: pb}
	res, err := v.Verify(b, verify.NewPolicy(verify.WithArtifactDigest("sha256", mustHex(t)), verify.WithCertificateIdentity(id)))
	if err != nil {
		t.Fatalf("sigstore-go verification against trusted_root.json: %v", err)
	}
	if res.Signature.Certificate.SubjectAlternativeName != san {
		t.Errorf("SAN = %q, want %q", res.Signature.Certificate.SubjectAlternativeName, san)
	}

	// The leaf carries the token's values in Fulcio's GitHub extensions.
	leaf := sandboxtest.LeafCert(t, b)
	url := "https://github.com/"
	want := map[int]string{
		8:  sb.IssuerURL,
		9:  url + claims["job_workflow_ref"].(string),
		10: claims["job_workflow_sha"].(string),
		11: claims["runner_environment"].(string),
		12: url + claims["repository"].(string),
		13: claims["sha"].(string),
		14: claims["ref"].(string),
		15: claims["repository_id"].(string),
		16: url + claims["repository_owner"].(string),
		17: claims["repository_owner_id"].(string),
		18: url + claims["workflow_ref"].(string),
		19: claims["workflow_sha"].(string),
		20: claims["event_name"].(string),
		21: fmt.Sprintf("%s%s/actions/runs/%s/attempts/%s", url, claims["repository"], claims["run_id"], claims["run_attempt"]),
		22: claims["repository_visibility"].(string),
	}
	got := fulcioExtensions(t, leaf)
	for n := 8; n <= 22; n++ {
		if got[n] != want[n] {
			t.Errorf("extension 1.3.6.1.4.1.57264.1.%d = %q, want %q", n, got[n], want[n])
		}
	}

	// A bundle is only as good as its media type: v0.3, single leaf cert.
	if pb.MediaType != "application/vnd.dev.sigstore.bundle.v0.3+json" {
		t.Errorf("media type %q", pb.MediaType)
	}
	if pb.GetVerificationMaterial().GetCertificate() == nil {
		t.Error("bundle does not carry a single leaf certificate")
	}
	if n := len(pb.GetVerificationMaterial().GetTlogEntries()); n != 1 {
		t.Errorf("%d tlog entries, want 1", n)
	}
	if e := pb.GetVerificationMaterial().GetTlogEntries()[0]; e.GetKindVersion().GetVersion() != "0.0.2" {
		t.Errorf("tlog entry kind version %q, want Rekor v2's dsse 0.0.2", e.GetKindVersion().GetVersion())
	}

	// Write it for the cosign test.
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	signedBundle = data
	signedIdentity = san
}

var (
	signedBundle   []byte
	signedIdentity string
)

func TestCosignVerifiesSandboxBundle(t *testing.T) {
	sb := sandboxtest.Start(t)
	if signedBundle == nil {
		t.Run("sign", TestSignedDSSEVerifiesWithSigstoreGo)
		if signedBundle == nil {
			t.Fatal("no bundle to verify")
		}
	}
	cosign := toolcachetest.Tool(t, toolcache.Cosign)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bundlePath := write("hello.sigstore.json", signedBundle)
	blob := write("hello.txt", artifact)
	run := func(blobPath, identity string) (string, error) {
		cmd := exec.Command(cosign, "verify-blob-attestation",
			"--new-bundle-format",
			"--bundle", bundlePath,
			"--trusted-root", sb.TrustedRootPath(),
			"--certificate-identity", identity,
			"--certificate-oidc-issuer", sb.IssuerURL,
			"--type", "slsaprovenance1",
			// Rekor v2 entries carry no integrated time: the signing time
			// comes from the TSA's RFC 3161 timestamp.
			"--use-signed-timestamps",
			// The sandbox runs no CT log, so its certificates have no SCT.
			"--insecure-ignore-sct",
			blobPath)
		cmd.Env = append(os.Environ(), "SIGSTORE_NO_CACHE=1", "TUF_ROOT="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(blob, signedIdentity); err != nil {
		t.Fatalf("cosign verify-blob-attestation: %v\n%s", err, out)
	}
	// The same command must fail when something is off, or passing means
	// nothing.
	other := write("other.txt", []byte("not the attested artifact\n"))
	if out, err := run(other, signedIdentity); err == nil {
		t.Errorf("cosign accepted a different artifact:\n%s", out)
	}
	if out, err := run(blob, "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main"); err == nil {
		t.Errorf("cosign accepted another identity:\n%s", out)
	}
}

func TestFulcioRefusesBadTokens(t *testing.T) {
	sb := sandboxtest.Start(t)
	now := time.Now()
	expired, err := sb.Token(oidc.DefaultAudience, map[string]string{
		"iat": fmt.Sprint(now.Add(-20 * time.Minute).Unix()),
		"nbf": fmt.Sprint(now.Add(-30 * time.Minute).Unix()),
		"exp": fmt.Sprint(now.Add(-10 * time.Minute).Unix()),
	})
	if err != nil {
		t.Fatal(err)
	}
	otherAudience, err := sb.Token("not-sigstore", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Same issuer URL, same claims, but a key the issuer never published.
	strangerDir := t.TempDir()
	stranger, err := oidc.LoadKeys(strangerDir)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := oidc.Claims(sb.IssuerURL, oidc.DefaultAudience, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	unknownKey, err := stranger.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	fulcioLog := ""
	for _, p := range sb.Processes {
		if p.Name == "fulcio" {
			fulcioLog = p.Log
		}
	}
	for _, tc := range []struct {
		name, token string
		reason      string // what Fulcio logs when it refuses this token
	}{
		{"expired", expired, "oidc: token is expired"},
		{"wrong audience", otherAudience, "oidc: expected audience"},
		{"unknown key", unknownKey, "failed to verify signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := readFile(t, fulcioLog)
			_, err := signDSSE(t, sb, tc.token, statement(t))
			if err == nil {
				t.Fatal("Fulcio issued a certificate")
			}
			if !strings.Contains(err.Error(), "error processing the identity token") {
				t.Fatalf("want Fulcio's identity token refusal, got: %v", err)
			}
			// Fulcio says why only in its log: make sure it is this case's reason.
			if added := strings.TrimPrefix(readFile(t, fulcioLog), before); !strings.Contains(added, tc.reason) {
				t.Fatalf("Fulcio's log does not give the reason %q; it added:\n%s", tc.reason, added)
			}
		})
	}
	// The good token still works, so the refusals above are about the tokens.
	good, err := sb.Token(oidc.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signDSSE(t, sb, good, statement(t)); err != nil {
		t.Fatalf("good token refused: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// fulcioExtensions decodes the 1.3.6.1.4.1.57264.1.N extensions (N >= 8 are
// DER UTF8Strings).
func fulcioExtensions(t *testing.T, c *x509.Certificate) map[int]string {
	t.Helper()
	base := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1}
	out := map[int]string{}
	for _, e := range c.Extensions {
		if len(e.Id) != len(base)+1 || !e.Id[:len(base)].Equal(base) {
			continue
		}
		n := e.Id[len(base)]
		if n < 8 {
			continue
		}
		var s string
		if _, err := asn1.UnmarshalWithParams(e.Value, &s, "utf8"); err != nil {
			t.Fatalf("extension %v: %v", e.Id, err)
		}
		out[n] = s
	}
	return out
}

func mustHex(t *testing.T) []byte {
	t.Helper()
	b, err := hex.DecodeString(artifactSHA256)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
