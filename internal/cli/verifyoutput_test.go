package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestPrintProvenanceKeepsStdoutJSON: with --print-provenance, stdout is
// only the verified statements, one JSON document a line, so it pipes into
// jq; the verdicts go to stderr.
func TestPrintProvenanceKeepsStdoutJSON(t *testing.T) {
	dir, bundle, issuer, tr := attested(t)
	out, errOut, code := run(t, "verify-artifact", filepath.Join(dir, "app-linux"), filepath.Join(dir, "app-darwin"),
		"--provenance-path", bundle, "--trusted-root", tr, "--cert-oidc-issuer", issuer,
		"--source-uri", "github.com/acme/app", "--print-provenance")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want one statement per artifact:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var st struct {
			Type string `json:"_type"`
		}
		if err := json.Unmarshal([]byte(l), &st); err != nil || st.Type != "https://in-toto.io/Statement/v1" {
			t.Errorf("stdout line is not a statement (%v): %s", err, l)
		}
	}
	if strings.Count(errOut, "PASSED: ") != 2 {
		t.Errorf("stderr lacks the verdicts:\n%s", errOut)
	}
}

// TestPrivateBundleFailureExplainsTimestamps: a bundle signed with
// --private has no log entry; the default policy wants one, and the
// failure says how to let its signed timestamp stand in.
func TestPrivateBundleFailureExplainsTimestamps(t *testing.T) {
	sb := sandboxtest.Start(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"app": "private build\n"})
	tok, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/app", "job_workflow_ref": testJobRef})
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "p.sigstore.json")
	var stdout, stderr bytes.Buffer
	if err := runAttest(context.Background(), attestFlags{
		subjectPaths: []string{filepath.Join(dir, "app")}, bundlePath: bundle, format: "text", private: true,
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: tok, factsFromToken: true,
	}, nil, &stdout, &stderr, attestEnv(nil)); err != nil {
		t.Fatalf("attest --private: %v", err)
	}
	out, errOut, code := run(t, "verify-artifact", filepath.Join(dir, "app"), "--provenance-path", bundle,
		"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL, "--source-uri", "github.com/acme/app")
	if code != 1 || !strings.Contains(out, "FAILED: tlog") || !strings.Contains(out, "made with --private") ||
		!strings.Contains(out, "thresholds: {transparencyLog: 0, signedTimestamps: 1}") {
		t.Fatalf("exit %d, want a tlog failure explaining timestamps\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
