package verifier_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/adversarial"
	"github.com/hallmark-dev/hallmark/verifier"
)

// sentinels names the errors the corpus's expectations refer to.
var sentinels = map[string]error{
	"ErrMalformed": verifier.ErrMalformed, "ErrTooLarge": verifier.ErrTooLarge, "ErrSignatureCount": verifier.ErrSignatureCount,
	"ErrIssuer": verifier.ErrIssuer, "ErrCertificateIdentity": verifier.ErrCertificateIdentity, "ErrSPIFFEID": verifier.ErrSPIFFEID,
	"ErrNotApplicable": verifier.ErrNotApplicable, "ErrSubjectMismatch": verifier.ErrSubjectMismatch, "ErrWeakDigest": verifier.ErrWeakDigest,
	"ErrPredicateType": verifier.ErrPredicateType, "ErrPayloadCertificateMismatch": verifier.ErrPayloadCertificateMismatch,
	"ErrUntrustedBuilder": verifier.ErrUntrustedBuilder, "ErrBuilderMismatch": verifier.ErrBuilderMismatch, "ErrLevelTooLow": verifier.ErrLevelTooLow,
	"ErrSourceMismatch": verifier.ErrSourceMismatch, "ErrSourceUnverified": verifier.ErrSourceUnverified, "ErrTenant": verifier.ErrTenant,
	"ErrRefKind": verifier.ErrRefKind, "ErrMissingAttestation": verifier.ErrMissingAttestation, "ErrVersionedTagMismatch": verifier.ErrVersionedTagMismatch, "ErrWorkflowInput": verifier.ErrWorkflowInput,
}

// loadCorpus reads ../testdata/adversarial/cases.json.
func loadCorpus(t testing.TB) *adversarial.Manifest {
	t.Helper()
	m, err := adversarial.Load(adversarialDir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// corpusFlags parses a case's verify-artifact flags into verifier.Flags,
// and the predicate type and attestation expressions of --predicate-type
// and --attestation-expression.
func corpusFlags(t testing.TB, args []string) (verifier.Flags, string, []string) {
	t.Helper()
	var f verifier.Flags
	var inputs, spiffeIDs, expressions multiFlag
	var predicateType string
	fs := flag.NewFlagSet("verify-artifact", flag.ContinueOnError)
	fs.StringVar(&predicateType, "predicate-type", "", "")
	fs.Var(&expressions, "attestation-expression", "")
	fs.StringVar(&f.Source, "source-uri", "", "")
	fs.StringVar(&f.SourceTag, "source-tag", "", "")
	fs.StringVar(&f.SourceBranch, "source-branch", "", "")
	fs.StringVar(&f.SourceVersionedTag, "source-versioned-tag", "", "")
	fs.StringVar(&f.BuilderID, "builder-id", "", "")
	fs.StringVar(&f.CertIdentity, "cert-identity", "", "")
	fs.StringVar(&f.CertIdentityRegex, "cert-identity-regex", "", "")
	fs.StringVar(&f.CertOIDCIssuer, "cert-oidc-issuer", "", "")
	fs.StringVar(&f.SignerWorkflow, "signer-workflow", "", "")
	fs.BoolVar(&f.DenySelfHostedRunners, "deny-self-hosted-runners", false, "")
	fs.IntVar(&f.MinLevel, "min-level", 0, "")
	fs.Var(&inputs, "build-workflow-input", "")
	fs.Var(&spiffeIDs, "spiffe-id", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	f.SPIFFEIDs = spiffeIDs
	for _, kv := range inputs {
		k, v, _ := strings.Cut(kv, "=")
		if f.WorkflowInputs == nil {
			f.WorkflowInputs = map[string]string{}
		}
		f.WorkflowInputs[k] = v
	}
	switch predicateType {
	case "spdx":
		predicateType = verifier.PredicateSPDX
	case "cyclonedx":
		predicateType = verifier.PredicateCycloneDX
	}
	return f, predicateType, expressions
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// corpusVerifier builds the verifier a case's flags and policy make, as
// the CLI does.
func corpusVerifier(t testing.TB, m *adversarial.Manifest, c adversarial.Case) (*verifier.Verifier, error) {
	t.Helper()
	tr, err := verifier.LoadTrustedRoot(readAdversarial(t, "trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	f, _, expressions := corpusFlags(t, m.Args(c))
	var p *verifier.Policy
	if c.Policy != "" {
		data, err := m.Policy(c)
		if err != nil {
			t.Fatal(err)
		}
		if p, err = verifier.LoadPolicy(data); err != nil {
			t.Fatal(err)
		}
		if err := p.Narrow(f); err != nil {
			return nil, err
		}
	} else if p, err = verifier.DefaultPolicyWith(f); err != nil {
		return nil, err
	}
	p.Attestations.Expressions = append(p.Attestations.Expressions, expressions...)
	opts := []verifier.Option{verifier.WithClock(func() time.Time { return m.Generated.Add(time.Hour) })}
	if c.SPIFFEBundle {
		bs, err := verifier.LoadSPIFFEBundle("", readAdversarial(t, "spiffe-bundle.pem"))
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, verifier.WithSPIFFEBundles(bs...))
	}
	return verifier.New(tr, p, opts...)
}

func readAdversarial(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(adversarialDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestAdversarialCorpus runs every case of ../testdata/adversarial: each
// attack fails at the check that should catch it, with the sentinel named
// and, where the verifying user can act, a fix saying what to pin; each
// honest case passes at its level.
func TestAdversarialCorpus(t *testing.T) {
	m := loadCorpus(t)
	if len(m.Cases) == 0 {
		t.Fatal("empty corpus")
	}
	for _, c := range m.Cases {
		t.Run(c.Name, func(t *testing.T) {
			lvl, err := verifyCorpusCase(t, m, c)
			if c.Expect.Check == "" {
				if err != nil {
					t.Fatalf("want a pass at level %d, got %v", c.Expect.Level, err)
				}
				if lvl != c.Expect.Level {
					t.Fatalf("level %d, want %d", lvl, c.Expect.Level)
				}
				return
			}
			if err == nil {
				t.Fatalf("want %s failure, got a pass at level %d", c.Expect.Check, lvl)
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *CheckError, got %T: %v", err, err)
			}
			if string(ce.Check) != c.Expect.Check {
				t.Errorf("check %s, want %s: %v", ce.Check, c.Expect.Check, err)
			}
			if c.Expect.Error != "" {
				want, ok := sentinels[c.Expect.Error]
				if !ok {
					t.Fatalf("unknown sentinel %s", c.Expect.Error)
				}
				if !errors.Is(err, want) {
					t.Errorf("want errors.Is %s, got %v", c.Expect.Error, err)
				}
			}
			if c.Expect.Fix != "" && !strings.Contains(ce.Fix, c.Expect.Fix) {
				t.Errorf("fix %q does not say %q", ce.Fix, c.Expect.Fix)
			}
		})
	}
}

// verifyCorpusCase verifies one case as the CLI would and returns the
// level granted.
func verifyCorpusCase(t *testing.T, m *adversarial.Manifest, c adversarial.Case) (int, error) {
	t.Helper()
	data, err := m.Input(c)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := m.Digests(c)
	if err != nil {
		t.Fatal(err)
	}
	var digests []verifier.Digest
	for _, d := range ds {
		digests = append(digests, verifier.Digest{Algorithm: d.Algorithm, Hex: d.Hex})
	}
	_, predicateType, _ := corpusFlags(t, m.Args(c))
	limit := verifier.MaxBundleSize
	if predicateType != "" {
		limit = verifier.DefaultMaxAttestationBundleSize
	}
	bundles, err := verifier.ParseBundlesLimit(data, limit)
	if err != nil {
		return 0, err
	}
	if c.VSA != nil {
		tr, err := verifier.LoadTrustedRoot(readAdversarial(t, "trusted_root.json"))
		if err != nil {
			t.Fatal(err)
		}
		vsa, err := verifier.VerifyVSA(bundles[0], tr, verifier.VSAPolicy{Issuer: m.Issuer, SAN: c.VSA.SAN, MinLevel: c.VSA.MinLevel}, digests...)
		if err != nil {
			return 0, err
		}
		best := 0
		for _, l := range vsa.Levels {
			if n, ok := strings.CutPrefix(l, "SLSA_BUILD_LEVEL_"); ok && len(n) == 1 && n[0]-'0' > byte(best) && n[0] <= '3' {
				best = int(n[0] - '0')
			}
		}
		return best, nil
	}
	v, err := corpusVerifier(t, m, c)
	if err != nil {
		t.Fatalf("flags refused: %v", err)
	}
	if predicateType != "" {
		res, err := v.VerifyAttestationAny(bundles, predicateType, digests...)
		if err != nil {
			return 0, err
		}
		return res.Level, nil
	}
	res, err := v.VerifyAny(bundles, digests...)
	if err != nil {
		return 0, err
	}
	if len(v.RequiredAttestations()) > 0 {
		// As verify-artifact: the provenance file's bundles, then each
		// --attestation-path file's.
		for _, name := range c.Attestations {
			bs, err := verifier.ParseBundlesLimit(readAdversarial(t, name), verifier.DefaultMaxAttestationBundleSize)
			if err != nil {
				return 0, err
			}
			bundles = append(bundles, bs...)
		}
		if _, err := v.VerifyRequiredAttestations(res, bundles, digests...); err != nil {
			return 0, err
		}
	}
	return res.Level, nil
}

// TestWrongTrustedRoot: a bundle checked against another Sigstore's root
// fails naming the trusted root, not as a log or signature failure of the
// bundle, both ways: the corpus's sandbox bundle against the public-good
// root, and a public-good bundle against the sandbox's.
func TestWrongTrustedRoot(t *testing.T) {
	m := loadCorpus(t)
	sandboxRoot, err := verifier.LoadTrustedRoot(readAdversarial(t, "trusted_root.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		trusted root.TrustedMaterial
		bundles func() []*bundle.Bundle
		digest  verifier.Digest
	}{
		{"sandbox bundle, public-good root", publicGoodRoot(t), func() []*bundle.Bundle {
			bs, err := verifier.ParseBundles(readAdversarial(t, "honest-hallmark-reusable-workflow.sigstore.json"))
			if err != nil {
				t.Fatal(err)
			}
			return bs
		}, func() verifier.Digest {
			ds, err := m.Digests(m.Cases[0])
			if err != nil {
				t.Fatal(err)
			}
			return verifier.Digest{Algorithm: ds[0].Algorithm, Hex: ds[0].Hex}
		}()},
		{"public-good bundle, sandbox root", sandboxRoot, func() []*bundle.Bundle {
			return realBundles(t, "generic-v2.1.0-push-v13.0.30.intoto.jsonl")
		}, realDigest(t, "generic-v2.1.0-push-v13.0.30")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := verifier.DefaultPolicyWith(verifier.Flags{Source: "github.com/acme/app"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := verifier.New(tc.trusted, p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.VerifyAny(tc.bundles(), tc.digest)
			var ce *verifier.CheckError
			if !errors.Is(err, verifier.ErrUnknownAuthority) || !errors.As(err, &ce) || !strings.Contains(ce.Fix, "trusted root") {
				t.Fatalf("want ErrUnknownAuthority with a fix naming the trusted root, got %v", err)
			}
		})
	}
}
