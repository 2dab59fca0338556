package ghaction_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/golden"
)

// hostileNames are subject names a build may produce that mean something
// in Markdown or to a shell.
var hostileNames = []string{
	"dist/app|evil | cell",
	"dist/`tick`",
	"``` fence",
	"dist/two\nlines\n```\n<img src=x onerror=alert(1)>",
	"*bold* _em_ [link](https://evil.example) <b>html</b>",
	"it's $(rm -rf ~)",
}

func hostileResult() *ghaction.AttestResult {
	idx := int64(12)
	b := ghaction.Bundle{
		Path: "provenance.sigstore.json", Identity: "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
		Issuer: "http://127.0.0.1:5556", LogIndex: &idx, LogURL: "http://127.0.0.1:3003",
	}
	for i, n := range hostileNames {
		b.Subjects = append(b.Subjects, ghaction.Subject{Name: n, Digest: map[string]string{"sha256": strings.Repeat(string(rune('a'+i)), 64)}})
	}
	return &ghaction.AttestResult{BuilderID: b.Identity, Bundles: []ghaction.Bundle{b}}
}

// unescapedPipe is a table cell separator: a | not preceded by \.
var unescapedPipe = regexp.MustCompile(`(^|[^\\])\|`)

// TestAttestSummaryEscapes renders subjects whose names hold Markdown and
// shell syntax: every name stays in its own table cell on one line, and
// no line of the verify commands can close their code block.
func TestAttestSummaryEscapes(t *testing.T) {
	s := ghaction.AttestSummary(hostileResult(), ghaction.SummaryContext{Repository: "acme/app", TrustedRoot: "trusted_root.json"})
	golden.Check(t, "summary-hostile-names.md", []byte(s))

	lines := strings.Split(s, "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "| `") {
			rows = append(rows, l)
		}
	}
	if len(rows) != len(hostileNames) {
		t.Fatalf("%d table rows, want %d:\n%s", len(rows), len(hostileNames), s)
	}
	for _, r := range rows {
		if n := len(unescapedPipe.FindAllString(r, -1)); n != 3 {
			t.Errorf("row has %d cell separators, want 3: %s", n, r)
		}
	}
	// The block opens with a fence longer than any backtick run inside it,
	// and only its last line closes it.
	start := strings.Index(s, "Verify with:\n\n")
	block := strings.Split(strings.TrimSuffix(s[start+len("Verify with:\n\n"):], "\n"), "\n")
	fence := strings.TrimSuffix(block[0], "sh")
	if !strings.HasPrefix(fence, "```") || strings.Trim(fence, "`") != "" {
		t.Fatalf("block opens with %q", block[0])
	}
	for i, l := range block[1 : len(block)-1] {
		if strings.HasPrefix(strings.TrimLeft(l, " "), fence) {
			t.Errorf("line %d of the block closes it: %q", i+1, l)
		}
	}
	if block[len(block)-1] != fence {
		t.Errorf("block ends with %q, want %q", block[len(block)-1], fence)
	}
}

func TestVerifyCommandQuotes(t *testing.T) {
	tests := []struct{ artifact, issuer, want string }{
		{"dist/app", ghaction.GitHubIssuer,
			"hallmark verify-artifact dist/app --provenance-path p.json --source-uri github.com/acme/app --builder-id B --trusted-root trusted_root.json"},
		{"it's $(x)", "http://127.0.0.1:5556",
			`hallmark verify-artifact 'it'\''s $(x)' --provenance-path p.json --source-uri github.com/acme/app --builder-id B --cert-oidc-issuer http://127.0.0.1:5556 --trusted-root trusted_root.json`},
	}
	for _, tt := range tests {
		if got := ghaction.VerifyCommand(tt.artifact, "p.json", "github.com/acme/app", "B", tt.issuer, ""); got != tt.want {
			t.Errorf("VerifyCommand(%q)\ngot  %s\nwant %s", tt.artifact, got, tt.want)
		}
	}
}

// TestAttestSummarySBOM: an SBOM bundle adds no subject row, and its
// verify command asks for its predicate type and names the signer.
func TestAttestSummarySBOM(t *testing.T) {
	res := hostileResult()
	sb := res.Bundles[0]
	sb.Path, sb.PredicateType, sb.Subjects = "provenance.spdx.sigstore.json", "https://spdx.dev/Document", sb.Subjects[:1]
	res.Bundles = append(res.Bundles, sb)
	out := ghaction.AttestSummary(res, ghaction.SummaryContext{Repository: "acme/app"})
	if got := strings.Count(out, "| `dist/app\\|evil \\| cell` |"); got != 1 {
		t.Fatalf("subject row %d times:\n%s", got, out)
	}
	want := "hallmark verify-artifact 'dist/app|evil | cell' --provenance-path provenance.spdx.sigstore.json --predicate-type https://spdx.dev/Document " +
		"--source-uri github.com/acme/app --signer-workflow github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"
	if !strings.Contains(out, want) || !strings.Contains(out, "SBOM bundle (`https://spdx.dev/Document`)") {
		t.Fatalf("summary:\n%s\nwant a line with %s", out, want)
	}
	image := "ghcr.io/acme/app@sha256:" + strings.Repeat("a", 64)
	img := ghaction.AttestSummary(res, ghaction.SummaryContext{Repository: "acme/app", Pushes: []ghaction.Push{
		{Image: image, Bundle: res.Bundles[0].Path, Manifest: "sha256:" + strings.Repeat("b", 64), Via: "referrers API"},
		{Image: image, Bundle: sb.Path, Manifest: "sha256:" + strings.Repeat("c", 64), Via: "referrers API"},
	}})
	if strings.Count(img, "hallmark verify-image") != 2 || !strings.Contains(img, "hallmark verify-image "+image+" --predicate-type https://spdx.dev/Document") ||
		strings.Contains(img, "verify-artifact") {
		t.Fatalf("image summary:\n%s", img)
	}
}
