package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
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
