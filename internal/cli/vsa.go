package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// VerifierID names Hallmark's verifier in the summaries it signs.
const VerifierID = "https://github.com/hallmark-dev/hallmark/verifier"

// defaultPolicyURI names the built-in policy in summaries.
const defaultPolicyURI = VerifierID + "#default-policy"

type vsaFlags struct {
	out, signingConfig, identityToken, resourceURI string
}

func (v *vsaFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&v.out, "vsa-out", "", "on success, write a signed SLSA verification summary (VSA) here")
	fl.StringVar(&v.signingConfig, "vsa-signing-config", "", "Sigstore signing_config.json for signing the VSA (default $HALLMARK_SIGNING_CONFIG); checked against --trusted-root")
	fl.StringVar(&v.identityToken, "identity-token", "", "OIDC token to sign the VSA with (default $SIGSTORE_ID_TOKEN or the Actions token request)")
	fl.StringVar(&v.resourceURI, "vsa-resource-uri", "", "resourceUri of the VSA (default: the first artifact's name)")
}

// writeVSA signs a verification summary of verdicts (all passed) the way
// attest signs provenance, and writes it atomically.
func writeVSA(cmd *cobra.Command, v vsaFlags, policy *verifier.Policy, policyPath string, policyRaw []byte, provenancePath string, provenance []byte, verdicts []verdict) error {
	level := 3
	var subjects []map[string]any
	for _, vd := range verdicts {
		level = min(level, vd.Level)
		alg, hx, _ := strings.Cut(vd.Digest, ":")
		subjects = append(subjects, map[string]any{"name": vd.Artifact, "digest": map[string]string{alg: hx}})
	}
	policyURI, policyDigest := defaultPolicyURI, ""
	if policyRaw != nil {
		sum := sha256.Sum256(policyRaw)
		policyURI, policyDigest = "file:"+policyPath, hex.EncodeToString(sum[:])
	} else {
		data, _ := json.Marshal(policy)
		sum := sha256.Sum256(data)
		policyDigest = hex.EncodeToString(sum[:])
	}
	provSum := sha256.Sum256(provenance)
	resource := v.resourceURI
	if resource == "" {
		resource = verdicts[0].Artifact
	}
	levels := make([]string, 0, level+1)
	for l := level; l >= 1; l-- {
		levels = append(levels, fmt.Sprintf("SLSA_BUILD_LEVEL_%d", l))
	}
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       subjects,
		"predicateType": verifier.PredicateVSA,
		"predicate": map[string]any{
			"verifier":           map[string]any{"id": VerifierID, "version": map[string]string{"hallmark": version()}},
			"timeVerified":       time.Now().UTC().Format(time.RFC3339),
			"resourceUri":        resource,
			"policy":             map[string]any{"uri": policyURI, "digest": map[string]string{"sha256": policyDigest}},
			"inputAttestations":  []any{map[string]any{"uri": provenancePath, "digest": map[string]string{"sha256": hex.EncodeToString(provSum[:])}}},
			"verificationResult": "PASSED",
			"verifiedLevels":     levels,
			"slsaVersion":        "1.0",
		},
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	sc, tr, err := loadTrust(attestFlags{signingConfig: v.signingConfig, trustedRoot: cmd.Flag("trusted-root").Value.String()}, os.Getenv)
	if err != nil {
		return fmt.Errorf("signing the VSA: %w", err)
	}
	token, _, err := signer.IdentityToken(cmd.Context(), v.identityToken, os.Getenv, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return fmt.Errorf("signing the VSA: %w", err)
	}
	res, err := signer.Sign(cmd.Context(), payload, signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, TrustedRoot: tr, IdentityToken: token})
	if err != nil {
		return fmt.Errorf("signing the VSA: %w", err)
	}
	data, err := protojson.Marshal(res.Bundle)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(v.out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote verification summary %s (SLSA_BUILD_LEVEL_%d, signed by %s)\n", v.out, level, res.Identity)
	return nil
}

func newVerifyVSACmd() *cobra.Command {
	var vsaPath, trustedRoot, issuer, identity, identityRegex, resourceURI, format string
	var minLevel int
	cmd := &cobra.Command{
		Use:   "verify-vsa ARTIFACT... --vsa-path V --trusted-root FILE --verifier-issuer ISS --verifier-identity SAN",
		Short: "Check a signed SLSA verification summary (VSA) for artifacts",
		Long: `verify-vsa checks that a verification summary is signed by the expected verifier
(OIDC issuer and certificate identity) under the trusted root, names each
artifact's digest as a subject, says PASSED, and vouches for at least
--min-level. Offline. Exit 1 when a check fails.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if vsaPath == "" || issuer == "" || (identity == "") == (identityRegex == "") {
				return errors.New("give --vsa-path, --verifier-issuer, and one of --verifier-identity or --verifier-identity-regex")
			}
			tr, err := resolveTrustedRoot(trustedRoot, os.Getenv, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			data, err := os.ReadFile(vsaPath)
			if err != nil {
				return fmt.Errorf("--vsa-path: %w", err)
			}
			b, err := verifier.ParseBundle(data)
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("FAILED: %v (%s)", err, vsaPath)}
			}
			san := identity
			if identityRegex != "" {
				san = "regexp:" + identityRegex
			}
			p := verifier.VSAPolicy{Issuer: issuer, SAN: san, MinLevel: minLevel, ResourceURI: resourceURI}
			var verdicts []map[string]any
			failed := 0
			for _, a := range args {
				ds, err := digestFile(a, []string{"sha256"})
				if err != nil {
					return err
				}
				d := ds[0]
				res, verr := verifier.VerifyVSA(b, tr, p, d)
				vd := map[string]any{"artifact": a, "digest": d.Algorithm + ":" + d.Hex, "passed": verr == nil}
				if verr != nil {
					failed++
					vd["failure"] = verr.Error()
					if format == "text" {
						fmt.Fprintf(cmd.OutOrStdout(), "FAILED: %v (%s)\n", verr, a)
					}
				} else {
					vd["levels"], vd["verifier"], vd["timeVerified"] = res.Levels, res.Verifier, res.TimeVerified
					if format == "text" {
						fmt.Fprintf(cmd.OutOrStdout(), "PASSED: %s: verified %s by %s (%v)\n", a, res.TimeVerified.Format(time.RFC3339), res.Identity.SAN, res.Levels)
					}
				}
				verdicts = append(verdicts, vd)
			}
			if format == "json" {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"passed": failed == 0, "verdicts": verdicts}); err != nil {
					return err
				}
			}
			if failed > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("VSA check failed for %d of %d artifacts", failed, len(args))}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&vsaPath, "vsa-path", "", "the VSA bundle")
	fl.StringVar(&trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default $HALLMARK_TRUSTED_ROOT, else the one hallmark trusted-root cached)")
	fl.StringVar(&issuer, "verifier-issuer", "", "OIDC issuer of the verifier's identity")
	fl.StringVar(&identity, "verifier-identity", "", "certificate identity (SAN) of the verifier, exact")
	fl.StringVar(&identityRegex, "verifier-identity-regex", "", "certificate identity of the verifier, regular expression")
	fl.StringVar(&resourceURI, "resource-uri", "", "expected resourceUri")
	fl.IntVar(&minLevel, "min-level", 3, "SLSA build level the summary must vouch for")
	fl.StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}
