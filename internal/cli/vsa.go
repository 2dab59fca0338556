package cli

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/formats"
	"github.com/hallmark-dev/hallmark/internal/result"
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
	fl.StringVar(&v.resourceURI, "vsa-resource-uri", "", "with --vsa-out, the URI naming the artifacts where they are consumed: a purl (pkg:npm/app@1.2.3), an OCI reference (oci://ghcr.io/acme/app@sha256:...) or a URL")
}

// check refuses, before anything is verified, a summary that could not
// name its resource: SLSA's VSA names it by URI, never by a local path.
func (v *vsaFlags) check() error {
	if v.out == "" {
		if v.resourceURI != "" {
			return errors.New("--vsa-resource-uri is the resourceUri of the summary --vsa-out writes; give --vsa-out too")
		}
		return nil
	}
	if v.resourceURI == "" {
		return errors.New("--vsa-out needs --vsa-resource-uri: the URI naming the artifacts where they are consumed (a purl such as pkg:generic/app@1.2.3, an OCI reference, a URL); a local path is not one")
	}
	u, err := url.Parse(v.resourceURI)
	if err != nil || u.Scheme == "" || u.Scheme == "file" || len(u.Scheme) == 1 {
		return fmt.Errorf("--vsa-resource-uri %q is not a URI naming where the artifacts are consumed (a purl such as pkg:generic/app@1.2.3, an OCI reference, a URL); a local path is not one", v.resourceURI)
	}
	return nil
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
	// SLSA's VSA lists one level per track: the highest verified.
	levels := []string{fmt.Sprintf("SLSA_BUILD_LEVEL_%d", level)}
	// The predicate is not built with in-toto/attestation's vsa/v1 Go type:
	// in v1.2.0 it has no verifier.version and its inputAttestations have no
	// name, both of which SLSA's VSA v1.0 has and verifiers read. The
	// statement is checked with its go/v1 Statement below.
	st := map[string]any{
		"_type":         formats.StatementTypeV1,
		"subject":       subjects,
		"predicateType": verifier.PredicateVSA,
		"predicate": map[string]any{
			"verifier":           map[string]any{"id": VerifierID, "version": map[string]string{"hallmark": version()}},
			"timeVerified":       time.Now().UTC().Format(time.RFC3339),
			"resourceUri":        resource,
			"policy":             map[string]any{"uri": policyURI, "digest": map[string]string{"sha256": policyDigest}},
			"inputAttestations":  []any{map[string]any{"name": filepath.Base(provenancePath), "digest": map[string]string{"sha256": hex.EncodeToString(provSum[:])}}},
			"verificationResult": "PASSED",
			"verifiedLevels":     levels,
			"slsaVersion":        "1.0",
		},
	}
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var check intoto.Statement
	if err := protojson.Unmarshal(payload, &check); err != nil {
		return fmt.Errorf("building the VSA: %w", err)
	}
	if err := check.Validate(); err != nil {
		return fmt.Errorf("building the VSA: %w", err)
	}
	data, res, err := attest.SignStatement(cmd.Context(), attest.Statement{Payload: payload, SigningConfig: v.signingConfig,
		TrustedRoot: cmd.Flag("trusted-root").Value.String(), IdentityToken: v.identityToken}, os.Getenv)
	if err != nil {
		return fmt.Errorf("signing the VSA: %w", err)
	}
	if err := atomicfile.Write(v.out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote verification summary %s (SLSA_BUILD_LEVEL_%d, signed by %s)\n", v.out, level, res.Identity)
	return nil
}

func newVerifyVSACmd() *cobra.Command {
	var vsaPath, trustedRoot, issuer, identity, identityRegex, resourceURI, format string
	var publicKey, publicKeyID, verifierID string
	var subjectDigests, levels []string
	var minLevel int
	cmd := &cobra.Command{
		Use:   "verify-vsa [ARTIFACT...] --vsa-path V (--verifier-issuer ISS --verifier-identity SAN | --public-key FILE --public-key-id ID)",
		Short: "Check a signed SLSA verification summary (VSA) for artifacts",
		Long: `verify-vsa checks that a verification summary is signed by the expected verifier,
names each artifact's digest (or each --subject-digest) as a subject, says
PASSED, vouches for at least --min-level (and every --verified-level), and,
when given, names the expected --resource-uri and --verifier-id. Offline.
Exit 1 when a check fails.

The verifier is a Sigstore identity (--verifier-issuer and --verifier-identity,
under the trusted root; the summary must carry a log entry), or a key of its
own: --public-key and --public-key-id check a bare DSSE envelope signed with
that key, as slsa-verifier's verify-vsa does for Google's BCID summaries.`,
		Example: `  hallmark verify-vsa app.tar.gz --vsa-path app.vsa.sigstore.json \
    --verifier-issuer https://token.actions.githubusercontent.com \
    --verifier-identity https://github.com/acme/deploy/.github/workflows/verify.yml@refs/heads/main
  hallmark verify-vsa --vsa-path image.vsa.jsonl --subject-digest gce_image_id:8970095005306000053 \
    --public-key vsa_signing_public_key.pem --public-key-id keystore://76574:prod:vsa_signing_public_key \
    --verifier-id https://bcid.corp.google.com/verifier/bcid_package_enforcer/v0.1 --verified-level BCID_L1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			keyMode := publicKey != "" || cmd.Flags().Changed("public-key-id")
			switch {
			case vsaPath == "":
				return errors.New("--vsa-path is required: the summary to check")
			case len(args) == 0 && len(subjectDigests) == 0:
				return errors.New("name what the summary is about: artifacts, or --subject-digest ALG:VALUE")
			case keyMode && (publicKey == "" || issuer != "" || identity != "" || identityRegex != ""):
				return errors.New("--public-key and --public-key-id go together, without --verifier-issuer or --verifier-identity")
			case !keyMode && (issuer == "" || (identity == "") == (identityRegex == "")):
				return errors.New("give --verifier-issuer and one of --verifier-identity or --verifier-identity-regex (or --public-key and --public-key-id)")
			}
			if len(levels) > 0 && !cmd.Flags().Changed("min-level") {
				minLevel = 0 // the levels named are the expectation
			}
			p := verifier.VSAPolicy{MinLevel: minLevel, ResourceURI: resourceURI, VerifierID: verifierID, Levels: levels}
			data, err := os.ReadFile(vsaPath)
			if err != nil {
				return fmt.Errorf("--vsa-path: %w", err)
			}
			var verify func(verifier.Digest) (*verifier.VSA, error)
			var b *bundle.Bundle
			if keyMode {
				key, err := readPublicKey(publicKey)
				if err != nil {
					return err
				}
				if b, err = verifier.ParseEnvelope(data); err != nil {
					return &ExitError{Code: 1, Err: fmt.Errorf("FAILED: %v (%s)", err, vsaPath)}
				}
				verify = func(d verifier.Digest) (*verifier.VSA, error) {
					return verifier.VerifyVSAWithKey(b, verifier.VSAKey{ID: publicKeyID, Key: key}, p, d)
				}
			} else {
				tr, err := resolveTrustedRoot(trustedRoot, os.Getenv, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if b, err = verifier.ParseBundle(data); err != nil {
					return &ExitError{Code: 1, Err: fmt.Errorf("FAILED: %v (%s)", err, vsaPath)}
				}
				p.Issuer, p.SAN = issuer, identity
				if identityRegex != "" {
					p.SAN = "regexp:" + identityRegex
				}
				verify = func(d verifier.Digest) (*verifier.VSA, error) { return verifier.VerifyVSA(b, tr, p, d) }
			}
			type subjectRef struct {
				name   string
				digest verifier.Digest
			}
			var subjects []subjectRef
			for _, a := range args {
				ds, err := digestFile(a, []string{"sha256"})
				if err != nil {
					return err
				}
				subjects = append(subjects, subjectRef{a, ds[0]})
			}
			for _, sd := range subjectDigests {
				alg, value, ok := strings.Cut(sd, ":")
				if !ok || alg == "" || value == "" {
					return fmt.Errorf("--subject-digest %q: want ALG:VALUE", sd)
				}
				subjects = append(subjects, subjectRef{sd, verifier.Digest{Algorithm: alg, Hex: value}})
			}
			var verdicts []result.Verdict
			failed := 0
			for _, s := range subjects {
				res, verr := verify(s.digest)
				vd := result.Verdict{Artifact: s.name, Digest: s.digest.String(), Passed: verr == nil}
				if verr != nil {
					failed++
					vd.Failure = result.FailureOf(verr)
					if format == "text" {
						fmt.Fprintf(cmd.OutOrStdout(), "FAILED: %v (%s)\n", verr, s.name)
					}
				} else {
					vd.Levels, vd.Verifier, vd.TimeVerified = res.Levels, res.Verifier, &res.TimeVerified
					if format == "text" {
						fmt.Fprintf(cmd.OutOrStdout(), "PASSED: %s: verified %s by %s (%v)\n", s.name, res.TimeVerified.Format(time.RFC3339), res.Identity.SAN, res.Levels)
					}
				}
				verdicts = append(verdicts, vd)
			}
			if format == "json" {
				if err := writeJSON(cmd.OutOrStdout(), result.Verify{Passed: failed == 0, Verdicts: verdicts}); err != nil {
					return err
				}
			}
			if failed > 0 {
				return &ExitError{Code: 1, Err: fmt.Errorf("VSA check failed for %d of %d subjects", failed, len(subjects))}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&vsaPath, "vsa-path", "", "the VSA: a Sigstore bundle, or with --public-key a DSSE envelope")
	fl.StringVar(&trustedRoot, "trusted-root", "", "Sigstore trusted_root.json (default $HALLMARK_TRUSTED_ROOT, else the one hallmark trusted-root cached)")
	fl.StringVar(&issuer, "verifier-issuer", "", "OIDC issuer of the verifier's identity")
	fl.StringVar(&identity, "verifier-identity", "", "certificate identity (SAN) of the verifier, exact")
	fl.StringVar(&identityRegex, "verifier-identity-regex", "", "certificate identity of the verifier, regular expression")
	fl.StringVar(&publicKey, "public-key", "", "PEM public key the verifier signs its summaries with (instead of a Sigstore identity)")
	fl.StringVar(&publicKeyID, "public-key-id", "", "with --public-key: the key id the summary's signature must name")
	fl.StringArrayVar(&subjectDigests, "subject-digest", nil, "a subject the summary must name, ALG:VALUE, in place of an artifact (repeatable)")
	fl.StringVar(&verifierID, "verifier-id", "", "expected verifier.id of the summary")
	fl.StringArrayVar(&levels, "verified-level", nil, "a level the summary must list among its verifiedLevels, e.g. SLSA_BUILD_LEVEL_2 (repeatable)")
	fl.StringVar(&resourceURI, "resource-uri", "", "expected resourceUri")
	fl.IntVar(&minLevel, "min-level", 3, "SLSA build level the summary must vouch for (0 when --verified-level names the levels)")
	fl.StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// readPublicKey reads a PEM public key.
func readPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--public-key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("--public-key %s: not a PEM file", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("--public-key %s: %w", path, err)
	}
	return key, nil
}
