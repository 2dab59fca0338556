package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/adversarial"
)

// TestAdversarialCorpusCommandLine runs the verifier's adversarial corpus
// through verify-artifact and verify-vsa as a person would: every attack
// exits 1 with "FAILED: <check>: …" and, where the user can act, says what
// to pin; every honest case exits 0 at its level. Offline, no servers.
func TestAdversarialCorpusCommandLine(t *testing.T) {
	m, err := adversarial.Load(filepath.Join("..", "..", "testdata", "adversarial"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Cases {
		t.Run(c.Name, func(t *testing.T) {
			args := corpusCommand(t, m, c)
			stdout, stderr, code := run(t, args...)
			if c.Expect.Check == "" {
				want := fmt.Sprintf("SLSA build level %d", c.Expect.Level)
				switch {
				case c.VSA != nil:
					want = fmt.Sprintf("SLSA_BUILD_LEVEL_%d", c.Expect.Level)
				case slices.Contains(c.Args, "--predicate-type"):
					want = fmt.Sprintf(", level %d), source", c.Expect.Level)
				}
				if code != 0 || !strings.Contains(stdout, "PASSED: ") || !strings.Contains(stdout, want) {
					t.Fatalf("want a pass with %q, got exit %d\nstdout: %s\nstderr: %s", want, code, stdout, stderr)
				}
				return
			}
			if code != 1 || !strings.HasPrefix(stdout, "FAILED: "+c.Expect.Check+": ") {
				t.Fatalf("want exit 1 and FAILED: %s: …, got exit %d\nstdout: %s\nstderr: %s", c.Expect.Check, code, stdout, stderr)
			}
			if c.Expect.Fix != "" && !strings.Contains(stdout, c.Expect.Fix) {
				t.Errorf("the FAILED line does not say %q:\n%s", c.Expect.Fix, stdout)
			}
		})
	}
}

// corpusCommand is the command line that verifies a corpus case.
func corpusCommand(t *testing.T, m *adversarial.Manifest, c adversarial.Case) []string {
	t.Helper()
	bundle := m.Path(c.Bundle)
	if c.Synthetic != "" {
		data, err := m.Input(c)
		if err != nil {
			t.Fatal(err)
		}
		bundle = filepath.Join(t.TempDir(), c.Name+".sigstore.json")
		if err := os.WriteFile(bundle, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	artifact, root := m.Path(m.Artifact), m.Path("trusted_root.json")
	if c.VSA != nil {
		return []string{"verify-vsa", artifact, "--vsa-path", bundle, "--trusted-root", root,
			"--verifier-issuer", m.Issuer, "--verifier-identity", c.VSA.SAN, "--min-level", fmt.Sprint(c.VSA.MinLevel)}
	}
	args := append([]string{"verify-artifact", artifact, "--provenance-path", bundle, "--trusted-root", root}, m.Args(c)...)
	if c.Policy != "" {
		data, err := m.Policy(c)
		if err != nil {
			t.Fatal(err)
		}
		policy := filepath.Join(t.TempDir(), c.Policy)
		if err := os.WriteFile(policy, data, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--policy", policy)
	}
	if c.SPIFFEBundle {
		args = append(args, "--spiffe-trust-bundle", m.Path("spiffe-bundle.pem"))
	}
	for _, a := range c.Attestations {
		args = append(args, "--attestation-path", m.Path(a))
	}
	return args
}
