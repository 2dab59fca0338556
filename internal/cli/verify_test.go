package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// run executes a hallmark command line in-process.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

const testJobRef = "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"

// attested makes two artifacts and their provenance, as acme/app's release
// job calling Hallmark's generic workflow at v1.0.0 would.
func attested(t *testing.T) (dir, bundle, issuer, trustedRoot string) {
	t.Helper()
	sb := sandboxtest.Start(t)
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{"app-linux": "linux build\n", "app-darwin": "darwin build\n"})
	token, err := sb.Token(oidc.DefaultAudience, map[string]string{
		"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": testJobRef,
	})
	if err != nil {
		t.Fatal(err)
	}
	bundle = filepath.Join(dir, "provenance.sigstore.json")
	var out, errOut bytes.Buffer
	if err := runAttest(context.Background(), attestFlags{
		subjectPaths: []string{filepath.Join(dir, "app-*")}, bundlePath: bundle, format: "text",
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
		factsFromToken: true, timeout: 30 * time.Second,
	}, nil, &out, &errOut, attestEnv(nil)); err != nil {
		t.Fatalf("attest: %v", err)
	}
	return dir, bundle, sb.IssuerURL, sb.TrustedRootPath()
}

func TestVerifyArtifact(t *testing.T) {
	dir, bundle, issuer, tr := attested(t)
	art := filepath.Join(dir, "app-linux")
	base := []string{"verify-artifact", art, "--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer}
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantCheck string // in the FAILED line
	}{
		{name: "source and tag", args: []string{"--source-uri", "github.com/acme/app", "--source-tag", "v1.4.2"}},
		{name: "versioned tag", args: []string{"--source-uri", "github.com/acme/app", "--source-versioned-tag", "v1.4"}},
		{name: "builder id", args: []string{"--source-uri", "github.com/acme/app", "--builder-id", "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@v1.0.0"}},
		{name: "wrong source", args: []string{"--source-uri", "github.com/acme/other"}, wantCode: 1, wantCheck: "source"},
		{name: "wrong tag", args: []string{"--source-uri", "github.com/acme/app", "--source-tag", "v1.4.1"}, wantCode: 1, wantCheck: "ref"},
		{name: "branch on a tag build", args: []string{"--source-uri", "github.com/acme/app", "--source-branch", "main"}, wantCode: 1, wantCheck: "ref"},
		{name: "wrong builder", args: []string{"--source-uri", "github.com/acme/app", "--builder-id", "https://github.com/evil/x/.github/workflows/y.yml"}, wantCode: 1, wantCheck: "builder"},
		{name: "self-hosted denied passes on hosted", args: []string{"--source-uri", "github.com/acme/app", "--deny-self-hosted-runners"}},
		{name: "contradictory refs", args: []string{"--source-uri", "github.com/acme/app", "--source-tag", "v1", "--source-versioned-tag", "v1"}, wantCode: 2},
		{name: "no source", args: nil, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, append(append([]string(nil), base...), tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			switch {
			case tt.wantCode == 0 && !strings.HasPrefix(out, "PASSED: ") || tt.wantCode == 0 && !strings.Contains(out, "SLSA build level 3"):
				t.Errorf("stdout = %q", out)
			case tt.wantCheck != "" && !strings.HasPrefix(out, "FAILED: "+tt.wantCheck+": want "):
				t.Errorf("stdout = %q, want FAILED: %s: want ...", out, tt.wantCheck)
			}
		})
	}

	t.Run("other issuer", func(t *testing.T) {
		// The built-in policy trusts only GitHub's issuer: a sandbox bundle
		// must not pass without naming the sandbox's.
		out, _, code := run(t, "verify-artifact", art, "--provenance-path", bundle, "--trusted-root", tr, "--source-uri", "github.com/acme/app")
		if code != 1 || !strings.HasPrefix(out, "FAILED: identity") {
			t.Fatalf("exit %d, %q", code, out)
		}
	})

	t.Run("tampered artifact", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "app-linux")
		os.WriteFile(bad, []byte("linux build, patched\n"), 0o644)
		out, _, code := run(t, "verify-artifact", bad, "--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer, "--source-uri", "github.com/acme/app")
		if code != 1 || !strings.HasPrefix(out, "FAILED: subject") {
			t.Fatalf("exit %d, %q", code, out)
		}
	})

	t.Run("json", func(t *testing.T) {
		out, _, code := run(t, append(append([]string(nil), base...), "--source-uri", "github.com/acme/app", "--format", "json", "--print-provenance")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		var res struct {
			Passed   bool
			Verdicts []struct {
				Passed         bool
				SLSABuildLevel int    `json:"slsaBuildLevel"`
				BuilderID      string `json:"builderID"`
				SourceRef      string `json:"sourceRef"`
			}
			Provenance []map[string]any
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		v := res.Verdicts[0]
		if !res.Passed || v.SLSABuildLevel != 3 || v.BuilderID != "https://github.com/"+testJobRef || v.SourceRef != "refs/tags/v1.4.2" {
			t.Errorf("result = %+v", res)
		}
		if len(res.Provenance) != 1 || res.Provenance[0]["predicateType"] != "https://slsa.dev/provenance/v1" {
			t.Errorf("provenance = %v", res.Provenance)
		}
		resulttest.Check(t, resulttest.VerifySchema, []byte(out))
	})
}

func TestVerificationSummaryRoundTrip(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir, bundle, issuer, tr := attested(t)
	art := filepath.Join(dir, "app-linux")
	verifierRef := "acme/deploy/.github/workflows/deploy.yml@refs/heads/main"
	token, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/deploy", "job_workflow_ref": verifierRef})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HALLMARK_SIGNING_CONFIG", sb.SigningConfigPath())
	vsa := filepath.Join(dir, "app.vsa.sigstore.json")
	out, errOut, code := run(t, "verify-artifact", art, "--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer,
		"--source-uri", "github.com/acme/app", "--vsa-out", vsa, "--vsa-resource-uri", "pkg:generic/app@1.4.2", "--identity-token", token)
	if code != 0 {
		t.Fatalf("verify with --vsa-out: exit %d\n%s%s", code, out, errOut)
	}
	// One level per track, the resource named as given, the provenance
	// by its file name and digest, never a local path.
	pred := vsaPredicate(t, vsa)
	if got := fmt.Sprint(pred["verifiedLevels"]); got != "[SLSA_BUILD_LEVEL_3]" {
		t.Errorf("verifiedLevels %s, want [SLSA_BUILD_LEVEL_3]", got)
	}
	if pred["resourceUri"] != "pkg:generic/app@1.4.2" {
		t.Errorf("resourceUri %v", pred["resourceUri"])
	}
	if in := fmt.Sprint(pred["inputAttestations"]); strings.Contains(in, dir) {
		t.Errorf("inputAttestations name a local path: %s", in)
	}
	check := func(args ...string) (string, int) {
		out, _, code := run(t, append([]string{"verify-vsa", "--vsa-path", vsa, "--trusted-root", tr, "--verifier-issuer", issuer}, args...)...)
		return out, code
	}
	if out, code := check(art, "--verifier-identity", "https://github.com/"+verifierRef); code != 0 {
		t.Fatalf("verify-vsa: exit %d: %s", code, out)
	}
	if out, code := check(art, "--verifier-identity", "https://github.com/evil/x/.github/workflows/y.yml@refs/heads/main"); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("another verifier identity: exit %d: %s", code, out)
	}
	other := filepath.Join(dir, "app-darwin-not-in-vsa")
	os.WriteFile(other, []byte("something else\n"), 0o644)
	if out, code := check(other, "--verifier-identity", "https://github.com/"+verifierRef); code != 1 || !strings.Contains(out, "subject") {
		t.Errorf("artifact not in the VSA: exit %d: %s", code, out)
	}
	// --format json prints the verify result: a failure says its check,
	// as every verify command's does.
	out, code = check(art, other, "--verifier-identity", "https://github.com/"+verifierRef, "--format", "json")
	var res struct {
		Passed   bool `json:"passed"`
		Verdicts []struct {
			Passed       bool     `json:"passed"`
			Levels       []string `json:"levels"`
			TimeVerified string   `json:"timeVerified"`
			Failure      *struct {
				Check string `json:"check"`
			} `json:"failure"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 {
		t.Fatalf("verify-vsa --format json: exit %d, %v: %s", code, err, out)
	}
	if res.Passed || len(res.Verdicts) != 2 || !res.Verdicts[0].Passed || fmt.Sprint(res.Verdicts[0].Levels) != "[SLSA_BUILD_LEVEL_3]" || res.Verdicts[0].TimeVerified == "" ||
		res.Verdicts[1].Failure == nil || res.Verdicts[1].Failure.Check != string(verifier.CheckSubject) {
		t.Errorf("verify-vsa --format json: %s", out)
	}
	resulttest.Check(t, resulttest.VerifySchema, []byte(out))

	t.Run("a resource that is no URI is refused before verifying", func(t *testing.T) {
		for _, c := range []struct{ uri, want string }{
			{"", "--vsa-out needs --vsa-resource-uri"},
			{art, "is not a URI"},
			{"file://" + art, "is not a URI"},
			{`C:\dist\app`, "is not a URI"},
		} {
			vsa3 := filepath.Join(dir, "refused.vsa.sigstore.json")
			args := []string{"verify-artifact", art, "--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer,
				"--source-uri", "github.com/acme/app", "--vsa-out", vsa3, "--identity-token", token}
			if c.uri != "" {
				args = append(args, "--vsa-resource-uri", c.uri)
			}
			out, errOut, code := run(t, args...)
			if code != 2 || !strings.Contains(errOut, c.want) || strings.Contains(out, "PASSED") {
				t.Errorf("--vsa-resource-uri %q: exit %d, stdout %q, stderr %q: want exit 2 naming %q before verifying", c.uri, code, out, errOut, c.want)
			}
			if _, err := os.Stat(vsa3); !os.IsNotExist(err) {
				t.Errorf("--vsa-resource-uri %q: a VSA was written", c.uri)
			}
		}
	})

	t.Run("no VSA when verification fails", func(t *testing.T) {
		vsa2 := filepath.Join(dir, "fail.vsa.sigstore.json")
		_, _, code := run(t, "verify-artifact", art, "--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer,
			"--source-uri", "github.com/acme/other", "--vsa-out", vsa2, "--vsa-resource-uri", "pkg:generic/app@1.4.2", "--identity-token", token)
		if code != 1 {
			t.Fatalf("exit %d", code)
		}
		if _, err := os.Stat(vsa2); !os.IsNotExist(err) {
			t.Errorf("a VSA was written for a failed verification")
		}
	})
}

// vsaPredicate reads the predicate of the summary in a bundle file,
// unverified (the test verifies it with verify-vsa).
func vsaPredicate(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := verifier.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	env, err := b.Envelope()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate map[string]any `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	return st.Predicate
}
