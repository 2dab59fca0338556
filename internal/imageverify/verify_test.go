package imageverify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/imageverify"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const verifierRef = "acme/verifier/.github/workflows/verify.yml@refs/heads/main"

// TestVerify runs the flow on a real registry with provenance and
// verification summaries signed on the sandbox.
func TestVerify(t *testing.T) {
	sb := sandboxtest.Start(t)
	reg := ocitest.Referrers(t)
	ctx := context.Background()
	trData, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(trData)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := verifier.DefaultPolicyWith(verifier.Flags{Source: "github.com/acme/app", CertOIDCIssuer: sb.IssuerURL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(tr, policy)
	if err != nil {
		t.Fatal(err)
	}
	attested := reg.Image(t, "acme/app", "attested")
	attest(t, sb, attested)
	bare := reg.Image(t, "acme/app", "bare")
	summarized := reg.Image(t, "acme/app", "summarized")
	verified := time.Now().UTC().Truncate(time.Second)
	pushVSA(t, sb, summarized, verified)
	trusted := imageverify.SummaryPolicy{VSAPolicy: verifier.VSAPolicy{Issuer: sb.IssuerURL, SAN: "https://github.com/" + verifierRef, MinLevel: 3}}
	dayOld := trusted
	dayOld.MaxAge = 24 * time.Hour
	tooYoung := trusted
	tooYoung.MaxAge = time.Minute

	tests := []struct {
		name    string
		ref     string
		opts    []imageverify.Option
		check   string
		err     error
		passed  bool
		summary bool
		expires time.Time
	}{
		{name: "provenance passes", ref: attested.String(), passed: true},
		{name: "a tag is an input failure", ref: attested.Context().String() + ":attested", check: imageverify.CheckInput},
		{name: "nothing attached", ref: bare.String(), check: imageverify.CheckAttestation},
		{name: "a summary is not looked for unless asked", ref: summarized.String(), check: imageverify.CheckAttestation},
		{name: "a trusted summary passes", ref: summarized.String(), opts: []imageverify.Option{imageverify.WithVSA(tr, trusted)}, passed: true, summary: true},
		{name: "a summary within its maxAge passes until it expires", ref: summarized.String(), opts: []imageverify.Option{imageverify.WithVSA(tr, dayOld)},
			passed: true, summary: true, expires: verified.Add(24 * time.Hour)},
		{name: "a summary older than its maxAge fails", ref: summarized.String(),
			opts:  []imageverify.Option{imageverify.WithVSA(tr, tooYoung), imageverify.WithClock(func() time.Time { return verified.Add(time.Hour) })},
			check: string(verifier.CheckVSA), err: imageverify.ErrSummaryTooOld},
		{name: "a summary by another verifier fails", ref: summarized.String(),
			opts:  []imageverify.Option{imageverify.WithVSA(tr, imageverify.SummaryPolicy{VSAPolicy: verifier.VSAPolicy{Issuer: sb.IssuerURL, SAN: "https://github.com/evil/v/.github/workflows/v.yml@refs/heads/main"}})},
			check: string(verifier.CheckIdentity)},
		{name: "no provenance and no summary", ref: bare.String(), opts: []imageverify.Option{imageverify.WithVSA(tr, trusted)}, check: imageverify.CheckAttestation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vd, err := imageverify.Verify(ctx, v, tc.ref, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if vd.Passed() != tc.passed {
				t.Fatalf("passed %v, want %v: %+v", vd.Passed(), tc.passed, vd.Failure)
			}
			if tc.passed {
				if (vd.VSA != nil) != tc.summary || !vd.ExpiresAt.Equal(tc.expires) {
					t.Fatalf("summary %v expires %v; want %v, %v", vd.VSA != nil, vd.ExpiresAt, tc.summary, tc.expires)
				}
				return
			}
			if vd.Failure.Check != tc.check {
				t.Fatalf("check %q, want %q: %s", vd.Failure.Check, tc.check, vd.Failure.Line(tc.ref))
			}
			if tc.err != nil && !strings.Contains(vd.Failure.Message, tc.err.Error()) {
				t.Fatalf("message %q does not carry %v", vd.Failure.Message, tc.err)
			}
		})
	}

	t.Run("an unreachable registry is an error, not a verdict", func(t *testing.T) {
		_, err := imageverify.Verify(ctx, v, ocitest.DownAddr(t)+"/acme/app@"+attested.DigestStr())
		if !errors.Is(err, oci.ErrUnreachable) {
			t.Fatalf("err %v, want ErrUnreachable", err)
		}
	})
	t.Run("required attestations", func(t *testing.T) {
		withSBOM := reg.Image(t, "acme/app", "with-sbom")
		sbomPath := filepath.Join(t.TempDir(), "sbom.spdx.json")
		doc := `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0",` +
			`"documentNamespace":"https://example.com/app","creationInfo":{"created":"2025-01-01T00:00:00Z","creators":["Tool: test"]},` +
			`"packages":[{"SPDXID":"SPDXRef-Package-zlib","name":"zlib","versionInfo":"1.3"}]}`
		if err := os.WriteFile(sbomPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		attest(t, sb, withSBOM, "--sbom-path", sbomPath)
		required := *policy
		required.Attestations.Require = []string{verifier.PredicateSPDX}
		rv, err := verifier.New(tr, &required)
		if err != nil {
			t.Fatal(err)
		}
		vd, err := imageverify.Verify(ctx, rv, withSBOM.String())
		if err != nil || !vd.Passed() || len(vd.Attestations) != 1 || vd.Attestations[0].PredicateType != verifier.PredicateSPDX {
			t.Fatalf("with its SBOM: %+v, %v", vd, err)
		}
		// Provenance alone no longer passes.
		vd, err = imageverify.Verify(ctx, rv, attested.String())
		if err != nil || vd.Passed() || vd.Failure.Check != imageverify.CheckAttestation || !strings.Contains(vd.Failure.Want, "attestations.require") {
			t.Fatalf("without an SBOM: %+v, %v", vd.Failure, err)
		}
		// A trusted summary does not stand in for the required SBOM: it
		// cannot show who signed one.
		vd, err = imageverify.Verify(ctx, rv, summarized.String(), imageverify.WithVSA(tr, trusted))
		if err != nil || vd.Passed() || vd.VSA != nil || !strings.Contains(vd.Failure.Message, "cannot stand in") {
			t.Fatalf("a summary for a policy requiring an SBOM: %+v, %v", vd.Failure, err)
		}
		// The bound on an attestation's bundle holds.
		vd, err = imageverify.Verify(ctx, rv, withSBOM.String(), imageverify.WithMaxAttestationBundleSize(1024))
		if err != nil || vd.Passed() || !strings.Contains(vd.Failure.Message, "1024") {
			t.Fatalf("beyond the bound: %+v, %v", vd.Failure, err)
		}
	})
	t.Run("summaries need trusted material", func(t *testing.T) {
		if _, err := imageverify.Verify(ctx, v, summarized.String(), imageverify.WithVSA(nil, trusted)); err == nil {
			t.Fatal("accepted")
		}
	})
}

// attest signs provenance for img on the sandbox and pushes it, as
// `hallmark attest --subject-image --push-to-registry` does.
func attest(t *testing.T, sb *sandbox.Sandbox, img name.Digest, more ...string) {
	t.Helper()
	token, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2",
		"job_workflow_ref": "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), append([]string{"attest", "--facts-from-token", "--identity-token", token, "--push-to-registry",
		"--signing-config", sb.SigningConfigPath(), "--trusted-root", sb.TrustedRootPath(),
		"--bundle-path", filepath.Join(t.TempDir(), "p.sigstore.json"), "--subject-image", img.String()}, more...), nil, &out, &errOut); code != 0 {
		t.Fatalf("attest: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

// pushVSA signs a summary that img passed at level 3, verified at
// verified, and attaches it to img.
func pushVSA(t *testing.T, sb *sandbox.Sandbox, img name.Digest, verified time.Time) {
	t.Helper()
	_, hexDigest, _ := strings.Cut(img.DigestStr(), ":")
	payload, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": img.Context().String(), "digest": map[string]string{"sha256": hexDigest}}},
		"predicateType": verifier.PredicateVSA,
		"predicate": map[string]any{
			"verifier": map[string]any{"id": "https://github.com/acme/verifier"}, "timeVerified": verified.Format(time.RFC3339),
			"resourceUri": img.String(), "policy": map[string]any{"uri": "https://github.com/acme/verifier/policy.yaml"},
			"verificationResult": "PASSED", "verifiedLevels": []string{"SLSA_BUILD_LEVEL_3"}, "slsaVersion": "1.0",
		},
	})
	token, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/verifier", "ref": "refs/heads/main", "job_workflow_ref": verifierRef})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	res, err := signer.Sign(context.Background(), payload, signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, IdentityToken: token})
	if err != nil {
		t.Fatal(err)
	}
	data, err := protojson.Marshal(res.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Push(context.Background(), img, oci.Attestation{Bundle: data, PredicateType: verifier.PredicateVSA}); err != nil {
		t.Fatal(err)
	}
}
