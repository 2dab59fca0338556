package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/realworld"
)

// The checks a slsa-verifier error stands for in Hallmark's verdicts.
var sourceErrorCheck = map[string]string{
	"serrors.ErrorUntrustedReusableWorkflow": "builder",
	"serrors.ErrorMismatchBuilderID":         "builder",
	"serrors.ErrorMismatchBranch":            "ref",
	"serrors.ErrorInvalidRef":                "ref",
	"serrors.ErrorMismatchSource":            "source",
}

// knownGaps are cases, by name prefix, whose evidence Hallmark cannot check
// yet, and the failure they get instead of their verdict: they must fail
// closed, at that check with that message, until the gap is closed.
var knownGaps = []struct {
	prefix, why, check, message string
}{{
	prefix:  "slsa-verifier/gha_generic_container/v1.4.0/",
	why:     "its Rekor entry is of kind intoto v0.0.1, which sigstore-go v1.3.0 neither parses nor checks against an envelope (it reads dsse v0.0.1 and intoto v0.0.2)",
	check:   "input",
	message: "intoto implementation for version '0.0.1' not found",
}}

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
	n, reached, gaps := 0, 0, 0
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
					for _, g := range knownGaps {
						if strings.HasPrefix(c.Name, g.prefix) {
							if code != 1 || v.Failure == nil || v.Failure.Check != g.check || !strings.Contains(v.Failure.Message, g.message) {
								t.Fatalf("known gap (%s): want a failure at %s with %q, got exit %d: %+v", g.why, g.check, g.message, code, v.Failure)
							}
							gaps++
							return
						}
					}
					reached++
					switch c.Expect {
					case realworld.Accept:
						if code != 0 || !v.Passed || v.PredicateType != "https://slsa.dev/provenance/v0.2" {
							t.Fatalf("want a pass (%s), got exit %d: %+v\nstderr: %s", c.Reason, code, v.Failure, stderr)
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
		t.Fatal("the corpus has no cosign legacy attestation cases, or all are known gaps")
	}
	t.Logf("%d case runs: %d reached the source's verdict, %d are known gaps that fail closed", n, reached, gaps)
}
