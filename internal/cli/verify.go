package cli

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/digest"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/verifier"
)

// verifyFlags are the flags verify-artifact and verify-image share:
// slsa-verifier's, gh attestation verify's identity flags, and Hallmark's.
type verifyFlags struct {
	sourceURI, sourceTag, sourceBranch, sourceVersionedTag string
	builderID                                              string
	workflowInputs                                         []string
	printProvenance                                        bool
	certIdentity, certIdentityRegex, certOIDCIssuer        string
	signerWorkflow, signerRepo, owner                      string
	denySelfHosted                                         bool
	minLevel                                               int
	trustedRoot, policy, format                            string
	spiffeBundles, spiffeIDs                               []string
	spiffeTrustDomain                                      string
	// pred selects an attestation other than provenance (verify-artifact
	// and verify-image register its flags).
	pred predicateFlags
	// stderr is told which trusted root was used.
	stderr io.Writer
}

func (f *verifyFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.sourceURI, "source-uri", "", "expected source repository, e.g. github.com/OWNER/REPO (required unless the policy names one)")
	fl.StringVar(&f.sourceTag, "source-tag", "", "expected tag the artifact was built from, e.g. v1.2.3")
	fl.StringVar(&f.sourceBranch, "source-branch", "", "expected branch the artifact was built from")
	fl.StringVar(&f.sourceVersionedTag, "source-versioned-tag", "", "expected semver tag prefix: v1 matches v1.x.y, v1.2 matches v1.2.y (pre-releases only by their full name)")
	fl.StringVar(&f.builderID, "builder-id", "", "expected builder, ID@REF, or ID for ID at a release tag vX.Y.Z; on the built-in policy it also trusts that builder")
	fl.StringArrayVar(&f.workflowInputs, "build-workflow-input", nil, "expected workflow_dispatch input, key=value (repeatable)")
	fl.BoolVar(&f.printProvenance, "print-provenance", false, "print the verified in-toto statement on stdout, one JSON document a line (verify-artifact and verify-npm-package then write PASSED/FAILED to stderr)")
	fl.StringVar(&f.certIdentity, "cert-identity", "", "expected certificate identity (SAN), exact")
	fl.StringVar(&f.certIdentityRegex, "cert-identity-regex", "", "expected certificate identity (SAN), a regular expression searched for as gh and cosign do (anchor it with ^ and $)")
	fl.StringVar(&f.certOIDCIssuer, "cert-oidc-issuer", "", "OIDC issuer to trust: replaces the built-in policy's (GitHub Actions); must be one a --policy file lists")
	fl.StringVar(&f.signerWorkflow, "signer-workflow", "", "workflow that must have signed, OWNER/REPO/.github/workflows/FILE[@REF]; on the built-in policy it is trusted for level 3 at REF, or at release tags vX.Y.Z")
	fl.BoolVar(&f.denySelfHosted, "deny-self-hosted-runners", false, "refuse provenance made on self-hosted runners")
	fl.StringVar(&f.signerRepo, "signer-repo", "", "repository whose workflow must have signed, OWNER/REPO (gh's flag; names no builder)")
	fl.StringVar(&f.owner, "owner", "", "owner of the source repository (gh's flag); with it, --source-uri may be left out")
	fl.IntVar(&f.minLevel, "min-level", 0, "lowest SLSA build level to accept, 0 to 3")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json to verify against, offline (default $HALLMARK_TRUSTED_ROOT, else the one hallmark trusted-root cached)")
	fl.StringVar(&f.policy, "policy", "", "policy file (YAML or JSON) instead of the built-in policy; the flags above only narrow it")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	fl.StringArrayVar(&f.spiffeBundles, "spiffe-trust-bundle", nil, "SPIFFE trust bundle (PEM, or SPIFFE bundle JSON with --spiffe-trust-domain) whose X.509-SVIDs may sign: factory mode (repeatable)")
	fl.StringVar(&f.spiffeTrustDomain, "spiffe-trust-domain", "", "trust domain of the CAs in --spiffe-trust-bundle that do not name their own (required for SPIFFE bundle JSON)")
	fl.StringArrayVar(&f.spiffeIDs, "spiffe-id", nil, "accepted signer: spiffe://TD/PATH exactly (on the built-in policy this trusts it as a builder), spiffe://TD/PATH/* by path prefix, or spiffe://TD (repeatable)")
}

// flags are the expectations the command line gives, for the verifier.
func (f *verifyFlags) flags() (verifier.Flags, error) {
	vf := verifier.Flags{
		Source: f.sourceURI, SourceBranch: f.sourceBranch, SourceTag: f.sourceTag, SourceVersionedTag: f.sourceVersionedTag,
		BuilderID: f.builderID, CertIdentity: f.certIdentity, CertIdentityRegex: f.certIdentityRegex,
		CertOIDCIssuer: f.certOIDCIssuer, SignerWorkflow: f.signerWorkflow, SignerRepo: f.signerRepo, Owner: f.owner,
		DenySelfHostedRunners: f.denySelfHosted,
		SPIFFEIDs:             f.spiffeIDs, MinLevel: f.minLevel,
	}
	for _, kv := range f.workflowInputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return vf, fmt.Errorf("--build-workflow-input %q: want key=value", kv)
		}
		if vf.WorkflowInputs == nil {
			vf.WorkflowInputs = map[string]string{}
		}
		vf.WorkflowInputs[k] = v
	}
	return vf, nil
}

// loadPolicy builds the verification policy: the policy file narrowed by
// the flags, or the built-in policy with the flags applied (where naming a
// builder trusts it). Contradictory flags are errors.
func (f *verifyFlags) loadPolicy() (*verifier.Policy, []byte, error) {
	vf, err := f.flags()
	if err != nil {
		return nil, nil, err
	}
	if f.policy == "" {
		if f.sourceURI == "" && f.owner == "" {
			return nil, nil, errors.New("--source-uri is required: name the repository the artifact must come from (e.g. github.com/OWNER/REPO), or at least its --owner")
		}
		p, err := verifier.DefaultPolicyWith(vf)
		return p, nil, err
	}
	data, err := os.ReadFile(f.policy)
	if err != nil {
		return nil, nil, fmt.Errorf("--policy: %w", err)
	}
	p, err := verifier.LoadPolicy(data)
	if err != nil {
		return nil, nil, fmt.Errorf("--policy %s: %w", f.policy, err)
	}
	if err := p.Narrow(vf); err != nil {
		return nil, nil, fmt.Errorf("--policy %s: %w", f.policy, err)
	}
	if p.Source == "" && f.owner == "" {
		return nil, nil, errors.New("--source-uri is required: name the repository the artifact must come from (e.g. github.com/OWNER/REPO), or give it in the policy, or at least its --owner")
	}
	return p, data, nil
}

func (f *verifyFlags) newVerifier() (*verifier.Verifier, *verifier.Policy, []byte, error) {
	if err := checkFormat(f.format); err != nil {
		return nil, nil, nil, err
	}
	tr, err := resolveTrustedRoot(f.trustedRoot, os.Getenv, f.stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	p, raw, err := f.loadPolicy()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := f.pred.resolve(); err != nil {
		return nil, nil, nil, err
	}
	f.pred.narrow(p)
	if f.spiffeTrustDomain != "" && len(f.spiffeBundles) == 0 {
		return nil, nil, nil, errors.New("--spiffe-trust-domain applies to --spiffe-trust-bundle: give the bundle")
	}
	var opts []verifier.Option
	if p.Source == "" {
		// --owner stands for the source: any repository of that owner.
		opts = append(opts, verifier.WithoutSourceUnsafe())
	}
	if len(f.spiffeBundles) > 0 {
		if p.SPIFFE == nil {
			return nil, nil, nil, errors.New("--spiffe-trust-bundle needs --spiffe-id (or a policy with a spiffe section): which SPIFFE IDs may sign?")
		}
		for _, path := range f.spiffeBundles {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("--spiffe-trust-bundle: %w", err)
			}
			bs, err := verifier.LoadSPIFFEBundle(f.spiffeTrustDomain, data)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("--spiffe-trust-bundle %s: %w", path, err)
			}
			opts = append(opts, verifier.WithSPIFFEBundles(bs...))
		}
	}
	v, err := verifier.New(tr, p, opts...)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("policy: %w", err)
	}
	return v, p, raw, nil
}

// verdict is one artifact's outcome, as --format json prints it.
type verdict = result.Verdict

// failure is why an artifact failed, as imageverify reports it for images.
type failure = result.Failure

func newVerdict(artifact string, d verifier.Digest, res *verifier.Result, err error) verdict {
	return result.NewVerdict(artifact, d, res, err)
}

// report prints verdicts and returns an exit error when any failed.
func report(stdout io.Writer, format string, printProvenance bool, verdicts []verdict) error {
	return reportTo(stdout, stdout, format, printProvenance, verdicts)
}

// reportTo is report with the text verdict lines on human, not stdout,
// when stdout carries the provenance (--print-provenance): stdout is then
// only the verified statements, one JSON document a line, for a pipe.
func reportTo(stdout, human io.Writer, format string, printProvenance bool, verdicts []verdict) error {
	if !printProvenance {
		human = stdout
	}
	failed := 0
	for _, v := range verdicts {
		if !v.Passed {
			failed++
		}
	}
	if format == "json" {
		out := result.Verify{Passed: failed == 0, Verdicts: verdicts}
		if printProvenance {
			var st, preds []json.RawMessage
			for _, v := range verdicts {
				if v.Result != nil {
					st = append(st, v.Result.Payload)
				}
				if v.Attestation != nil {
					doc, err := v.Attestation.PredicateJSON()
					if err != nil {
						return err
					}
					preds = append(preds, doc)
				}
			}
			if preds != nil {
				out.Predicates = preds
			} else {
				out.Provenance = &st
			}
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		for _, v := range verdicts {
			if v.Passed && v.Attestation != nil {
				if printProvenance {
					doc, err := v.Attestation.PredicateJSON()
					if err != nil {
						return err
					}
					fmt.Fprintln(stdout, string(doc))
				}
				fmt.Fprintf(human, "PASSED: %s (%s): %s attestation signed by %s (trusted as %s, level %d), source %s@%s\n",
					v.Artifact, v.Digest, v.PredicateType, v.Identity, v.TrustedBuilder, v.Level, v.Source, v.Ref)
			} else if v.Passed {
				if printProvenance {
					fmt.Fprintln(stdout, string(v.Result.Payload))
				}
				var unverified string
				if len(v.Unverified) > 0 {
					unverified = "; unverified (the certificate predates them): " + strings.Join(v.Unverified, ", ")
				}
				var with string
				if len(v.Attestations) > 0 {
					with = "; with " + strings.Join(v.Attestations, ", ") + " signed by the same builder"
				}
				fmt.Fprintf(human, "PASSED: %s (%s): SLSA build level %d, builder %s, source %s@%s, signed by %s%s%s\n",
					v.Artifact, v.Digest, v.Level, v.BuilderID, v.Source, v.Ref, v.Identity, unverified, with)
			} else {
				fmt.Fprintf(human, "FAILED: %s\n", v.Failure.Line(v.Artifact))
			}
		}
	}
	if failed > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("verification failed for %d of %d artifacts", failed, len(verdicts))}
	}
	return nil
}

func newVerifyArtifactCmd() *cobra.Command {
	var f verifyFlags
	var rekor rekorURLFlag
	var provenancePath string
	var attestationPaths []string
	var vsa vsaFlags
	var gh githubSource
	cmd := &cobra.Command{
		Use:   "verify-artifact ARTIFACT... --provenance-path P --source-uri URI --trusted-root FILE",
		Short: "Verify artifacts against their SLSA provenance, offline, with a policy",
		Long: `verify-artifact checks, in SLSA's order, that the provenance bundle is signed by a
certificate from the trusted root at a time a log or timestamp proves, that
the certificate's identity and issuer are trusted, that every claim the
certificate also records agrees with it, that each artifact's digest is a
subject, that the predicate is SLSA provenance from a builder the policy
trusts for a level, and that the source, ref, build type and parameters are
the expected ones.

--predicate-type spdx|cyclonedx|URI verifies an attestation of that type
instead (an SBOM, as attest --sbom and actions/attest-sbom make them): the
same signature, identity and trusted-signer rules, the source and ref the
certificate records, and --attestation-expression conditions over it;
--print-predicate prints the verified SBOM.

--provenance-path takes a Sigstore bundle (v0.1-v0.3) or a .intoto.jsonl file
of bundles. Nothing is fetched: verification is offline. The one online mode
is opt-in: --from-github OWNER/REPO fetches each artifact's bundles from the
repository's attestation store (GET /repos/OWNER/REPO/attestations/DIGEST,
where the attest action and actions/attest store them) and verifies them as
a file's.

Only you raise a level above what the evidence proves (2 for a GitHub-hosted
runner, 1 for a self-hosted one). The built-in policy trusts Hallmark's
reusable workflows and slsa-github-generator's at release tags vX.Y.Z for
level 3, and GitHub's actions/attest at level 2; on it, --builder-id
ID[@REF], --signer-workflow OWNER/REPO/PATH[@REF] and an exact --spiffe-id
name a builder you trust (at release tags when no ref is given). --policy
FILE replaces the built-in policy, and then every flag only narrows it.

A file of bare DSSE envelopes (slsa-github-generator up to v2.0.0) holds no
log entry and is refused offline. With --rekor-url URL
(https://rekor.sigstore.dev for those releases) the envelope's entry is
looked up on that Rekor v1 log, and envelope and entry are verified as one
bundle, with the same checks. Nothing else is asked of the log.

Exit status: 0 when every artifact passed; 1 when any failed (the line names
the failed check with what was wanted and what was found, and what to pin
where you can); 2 on usage errors and when the --rekor-url log cannot be asked.`,
		Example: `  hallmark verify-artifact dist/app --provenance-path dist/provenance.sigstore.json \
    --source-uri github.com/acme/app --source-tag v1.2.3 --trusted-root trusted_root.json
  hallmark verify-artifact app-linux-amd64 --provenance-path app-linux-amd64.intoto.jsonl \
    --source-uri github.com/acme/app --rekor-url https://rekor.sigstore.dev`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := gh.check(provenancePath, vsa); err != nil {
				return err
			}
			if err := vsa.check(); err != nil {
				return err
			}
			f.stderr = cmd.ErrOrStderr()
			v, policy, policyRaw, err := f.newVerifier()
			if err != nil {
				return err
			}
			var data []byte
			if provenancePath != "" {
				if data, err = os.ReadFile(provenancePath); err != nil {
					return fmt.Errorf("--provenance-path: %w", err)
				}
			}
			if f.pred.on() && vsa.out != "" {
				return errors.New("--vsa-output summarises provenance: leave out --predicate-type")
			}
			bundles, perr := f.pred.parseBundles(data)
			if rekor.client != nil && errors.Is(perr, verifier.ErrBareEnvelope) {
				if bundles, perr, err = bareEnvelopeBundles(cmd.Context(), rekor.client, data, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			switch {
			case len(attestationPaths) > 0 && f.pred.on():
				return errors.New("--attestation-path gives the attestations a policy requires beside provenance: leave out --predicate-type, or verify the attestation with --provenance-path")
			case len(attestationPaths) > 0 && len(v.RequiredAttestations()) == 0:
				return errors.New("--attestation-path: the policy requires no attestation beside the provenance (attestations.require), so none would be checked")
			}
			attested, err := readAttestations(attestationPaths, f.pred.attestationLimit())
			if err != nil {
				return err
			}
			algs := verifier.SubjectDigestAlgorithms(bundles)
			var verdicts []verdict
			for _, a := range args {
				if gh.repo != "" {
					sha, err := digestFile(a, []string{"sha256"})
					if err != nil {
						return err
					}
					if data, err = gh.fetch(cmd.Context(), "sha256:"+sha[0].Hex, githubGetenv, cmd.ErrOrStderr()); err != nil {
						return err
					}
					bundles, perr = f.pred.parseBundles(data)
					algs = verifier.SubjectDigestAlgorithms(bundles)
				}
				ds, err := digestFile(a, algs)
				if err != nil {
					return err
				}
				if perr != nil {
					verdicts = append(verdicts, newVerdict(a, ds[0], nil, perr))
					continue
				}
				if f.pred.on() {
					res, verr := v.VerifyAttestationAny(bundles, f.pred.predicateType, ds...)
					verdicts = append(verdicts, attestationVerdict(a, ds[0], res, verr))
					continue
				}
				res, verr := v.VerifyAny(bundles, ds...)
				var required []string
				if verr == nil && len(v.RequiredAttestations()) > 0 {
					var atts []*verifier.AttestationResult
					atts, verr = v.VerifyRequiredAttestations(res, append(slices.Clip(bundles), attested...), ds...)
					for _, a := range atts {
						required = append(required, a.PredicateType)
					}
				}
				vd := newVerdict(a, ds[0], res, verr)
				vd.Attestations = required
				verdicts = append(verdicts, vd)
			}
			if err := reportTo(cmd.OutOrStdout(), cmd.ErrOrStderr(), f.format, f.printProvenance || f.pred.printPredicate, verdicts); err != nil {
				return err
			}
			if vsa.out != "" {
				return writeVSA(cmd, vsa, policy, f.policy, policyRaw, provenancePath, data, verdicts)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	f.pred.register(cmd.Flags())
	vsa.register(cmd.Flags())
	gh.register(cmd.Flags())
	cmd.Flags().StringVar(&provenancePath, "provenance-path", "", "the provenance (or, with --predicate-type, the attestation): a Sigstore bundle or an .intoto.jsonl file of bundles")
	cmd.Flags().Var(&rekor, "rekor-url", rekorURLHelp)
	cmd.Flags().StringArrayVar(&attestationPaths, "attestation-path", nil, "a bundle (or .intoto.jsonl file of bundles) of an attestation the policy requires beside the provenance (attestations.require), such as the SBOM attest --sbom signed (repeatable)")
	return cmd
}

// digestFile hashes an artifact with each algorithm, in one streaming
// read.
func digestFile(path string, algs []string) ([]verifier.Digest, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	defer fh.Close()
	hs := make([]hash.Hash, len(algs))
	ws := make([]io.Writer, len(algs))
	for i, alg := range algs {
		if hs[i], err = digest.New(alg); err != nil {
			return nil, fmt.Errorf("artifact %s: no hash %s", path, alg)
		}
		ws[i] = hs[i]
	}
	if _, err := io.Copy(io.MultiWriter(ws...), fh); err != nil {
		return nil, fmt.Errorf("artifact %s: %w", path, err)
	}
	out := make([]verifier.Digest, len(algs))
	for i, h := range hs {
		out[i] = verifier.Digest{Algorithm: algs[i], Hex: hex.EncodeToString(h.Sum(nil))}
	}
	return out, nil
}
