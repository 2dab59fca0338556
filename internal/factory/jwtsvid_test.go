package factory_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/spire"
	"github.com/hallmark-dev/hallmark/verifier"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// jwtWorld is a world whose Fulcio also accepts the SPIRE server's
// JWT-SVIDs: SPIRE's oidc-discovery-provider serves the server's JWT keys
// at its jwt_issuer, and a sandbox of the test's own lists that issuer as
// a Fulcio spiffe issuer.
type jwtWorld struct {
	*world
	issuer string // the JWT-SVIDs' iss, Fulcio's issuer extension
}

func setupJWT(t *testing.T) *jwtWorld {
	t.Helper()
	srv, disc := spire.StartServerWithDiscovery(t, spire.ServerOptions{})
	srv.RegisterSelf(t, factoryID, 0)
	agent := srv.StartAgent(t)
	agent.WaitForSVID(t, factoryID)
	sb := spiffeSandbox(t, sandbox.SPIFFEIssuer{TrustDomain: srv.TrustDomain.Name(), IssuerURL: disc.IssuerURL})

	w := &world{api: factorytest.Start(t), srv: srv, agent: agent, trustedPath: sb.TrustedRootPath()}
	var err error
	if w.sc, err = root.NewSigningConfigFromPath(sb.SigningConfigPath()); err != nil {
		t.Fatal(err)
	}
	if w.trusted, err = root.NewTrustedRootFromPath(sb.TrustedRootPath()); err != nil {
		t.Fatal(err)
	}
	w.spireBundle = spireBundle(t, srv.BundlePEM(t))
	return &jwtWorld{world: w, issuer: disc.IssuerURL}
}

// spiffeSandbox starts a sandbox of the test's own (the package's shared
// one knows no SPIFFE issuer), stopped in t.Cleanup.
func spiffeSandbox(t *testing.T, issuers ...sandbox.SPIFFEIssuer) *sandbox.Sandbox {
	t.Helper()
	parent, err := os.MkdirTemp("", "hallmark-sandbox-")
	if err != nil {
		t.Fatal(err)
	}
	opts := sandboxtest.Options(t)
	opts.SPIFFEIssuers = issuers
	sb, err := sandbox.Up(context.Background(), filepath.Join(parent, "sb"), opts)
	if err != nil {
		os.RemoveAll(parent)
		t.Fatalf("starting sandbox: %v", err)
	}
	t.Cleanup(func() {
		if _, err := sandbox.Down(context.Background(), sb.Dir); err != nil {
			t.Errorf("stopping sandbox: %v", err)
		}
		os.RemoveAll(parent)
	})
	return sb
}

// jwtSigner is the controller's keyless signer: JWT-SVIDs for audience
// (Fulcio's "sigstore" when empty), each bundle checked against the
// sandbox's trusted root alone, as --identity=jwt-svid does.
func (w *jwtWorld) jwtSigner(t *testing.T, audience string) *factory.JWTSVIDSigner {
	t.Helper()
	s, err := factory.NewJWTSVIDSigner(t.Context(), w.agent.Addr(), signer.Options{
		SigningConfig: w.sc,
		TrustedRoot:   w.trusted,
		Retries:       -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Audience = audience
	t.Cleanup(func() { s.Close() })
	return s
}

// jwtController runs the factory on ns with s, naming itself as
// hallmark-factory does: the signer's SPIFFE ID.
func (w *jwtWorld) jwtController(t *testing.T, ns string, s *factory.JWTSVIDSigner, backoff time.Duration) {
	t.Helper()
	id, err := s.ID(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if id != factoryID {
		t.Fatalf("signer ID %s, want %s", id, factoryID)
	}
	w.startManager(t, factory.Config{
		Signer:      s,
		SignerID:    id,
		Stores:      []factory.Store{factory.FileStore{Dir: t.TempDir()}},
		Namespaces:  []string{ns},
		Workers:     2,
		MaxRetries:  2,
		Backoff:     backoff,
		MetricsAddr: "0",
		Log:         slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// keylessVerifier accepts Fulcio certificates from the SPIRE issuer whose
// SAN is one of ids. It takes no SPIFFE trust bundle: the certificate
// chains to Fulcio.
func (w *jwtWorld) keylessVerifier(t *testing.T, issuers []string, ids ...string) *verifier.Verifier {
	t.Helper()
	v, err := verifier.NewSPIFFE(w.trusted, nil, &verifier.Policy{
		Issuers:    issuers,
		SPIFFE:     &verifier.SPIFFEPolicy{IDs: ids},
		Builders:   []verifier.TrustedBuilder{{Name: "hallmark-factory", Signer: factoryID, BuildTypes: []string{"https://tekton.dev/chains/v2/slsa"}, MaxLevel: 3}},
		BuildTypes: []string{"https://tekton.dev/chains/v2/slsa"},
	}, verifier.WithoutSourceUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFactoryJWTSVID runs the controller in its keyless mode: it exchanges
// a JWT-SVID at Fulcio for a certificate of a key that never leaves it,
// and the provenance verifies as signed by its SPIFFE ID.
func TestFactoryJWTSVID(t *testing.T) {
	w := setupJWT(t)

	t.Run("taskrun-signed-keyless", func(t *testing.T) {
		w.api.Namespace(t, "jwt")
		w.jwtController(t, "jwt", w.jwtSigner(t, ""), 100*time.Millisecond)
		tr := factorytest.TaskRun("jwt", "build")
		factorytest.Succeeded(tr,
			factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1.0.0", artifactDigest))
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		if ann[factory.AnnotationSigner] != factoryID || !strings.Contains(ann[factory.AnnotationTransparency], "logIndex=") {
			t.Errorf("signer %q transparency %q", ann[factory.AnnotationSigner], ann[factory.AnnotationTransparency])
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
			t.Fatal(err)
		}

		// The certificate is Fulcio's, for the SPIFFE ID, naming the
		// SPIRE issuer; not the X.509-SVID.
		leaf := sandboxtest.LeafCert(t, b)
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != factoryID {
			t.Errorf("certificate URI SANs %v, want [%s]", leaf.URIs, factoryID)
		}
		sum, err := certificate.SummarizeCertificate(leaf)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Extensions.Issuer != w.issuer {
			t.Errorf("certificate issuer %q, want %q", sum.Extensions.Issuer, w.issuer)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: spireRoots(w.spireBundle), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: leaf.NotBefore}); err == nil {
			t.Error("the certificate chains to the SPIRE CA: the X.509-SVID signed, not a Fulcio certificate")
		}

		digest, err := verifier.ParseDigest(artifactDigest)
		if err != nil {
			t.Fatal(err)
		}
		res, err := w.keylessVerifier(t, []string{w.issuer}, factoryID).Verify(b, digest)
		if err != nil {
			t.Fatal(err)
		}
		if res.Identity.SAN != factoryID || res.Identity.Issuer != w.issuer || res.BuilderID != factoryID {
			t.Errorf("result: SAN %s issuer %s builder %s", res.Identity.SAN, res.Identity.Issuer, res.BuilderID)
		}

		t.Run("wrong-spiffe-id", func(t *testing.T) {
			_, err := w.keylessVerifier(t, []string{w.issuer}, "spiffe://example.org/ns/ci/sa/default").Verify(b, digest)
			if !errors.Is(err, verifier.ErrSPIFFEID) {
				t.Errorf("err = %v, want %v", err, verifier.ErrSPIFFEID)
			}
		})
		t.Run("other-trust-domain", func(t *testing.T) {
			_, err := w.keylessVerifier(t, []string{w.issuer}, "spiffe://other.example").Verify(b, digest)
			if !errors.Is(err, verifier.ErrSPIFFEID) {
				t.Errorf("err = %v, want %v", err, verifier.ErrSPIFFEID)
			}
		})
		t.Run("issuer-not-trusted", func(t *testing.T) {
			_, err := w.keylessVerifier(t, []string{verifier.GitHubIssuer}, factoryID).Verify(b, digest)
			if !errors.Is(err, verifier.ErrIssuer) {
				t.Errorf("err = %v, want %v", err, verifier.ErrIssuer)
			}
		})
	})

	t.Run("hallmark-verify-artifact", func(t *testing.T) {
		// The same command as for GitHub provenance, with the keyless
		// certificate's issuer and the controller's SPIFFE ID.
		w.api.Namespace(t, "jwt-cli")
		w.jwtController(t, "jwt-cli", w.jwtSigner(t, ""), 100*time.Millisecond)
		dir := t.TempDir()
		content := []byte("keyless factory output\n")
		art := filepath.Join(dir, "app.tar.gz")
		if err := os.WriteFile(art, content, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		// A Task of the trusted catalog that fetches the source (and says
		// so in its results) and builds it.
		tr := factorytest.TaskRun("jwt-cli", "build")
		factorytest.Succeeded(tr,
			factorytest.StringResult("url", "https://github.com/acme/app"),
			factorytest.StringResult("commit", sourceCommit),
			factorytest.ObjectResult("bin_ARTIFACT_OUTPUTS", map[string]string{"uri": "app.tar.gz", "digest": "sha256:" + hex.EncodeToString(sum[:]), "isBuildArtifact": "true"}))
		factorytest.FromBundle(tr, catalogBundle, catalogDigest, "clone-and-build")
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned {
			t.Fatalf("annotations %v", ann)
		}
		bundlePath := filepath.Join(dir, "provenance.sigstore.json")
		policy := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(bundlePath, []byte(ann[factory.AnnotationBundle]), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(policy, []byte(`issuers: ["`+w.issuer+`"]
builders:
  - {name: hallmark-factory, id: "`+factoryID+`", buildTypes: ["https://tekton.dev/chains/v2/slsa"], maxLevel: 3}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		run := func(extra ...string) (string, int) {
			var out bytes.Buffer
			args := append([]string{"verify-artifact", art, "--provenance-path", bundlePath, "--trusted-root", w.trustedPath, "--policy", policy}, extra...)
			code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &out)
			return out.String(), code
		}
		// An entry naming only the builder id trusts no SPIFFE signer: the
		// signer wrote that id itself.
		if out, code := run("--spiffe-id", factoryID, "--source-uri", "github.com/acme/app"); code != 1 || !strings.Contains(out, "FAILED: builder") {
			t.Fatalf("builder id only: exit %d, want FAILED: builder:\n%s", code, out)
		}
		// A policy names the controller as the signer, as for X.509-SVIDs.
		bySigner := filepath.Join(dir, "policy-signer.yaml")
		if err := os.WriteFile(bySigner, []byte(`issuers: ["`+w.issuer+`"]
builders:
  - {name: hallmark-factory, signer: "`+factoryID+`", maxLevel: 3}
minLevel: 3
`), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run("--spiffe-id", factoryID, "--source-uri", "github.com/acme/app", "--policy", bySigner); code != 0 || !strings.Contains(out, "PASSED") || !strings.Contains(out, factoryID) || !strings.Contains(out, "SLSA build level 3") {
			t.Fatalf("policy by signer: exit %d, want PASSED at level 3:\n%s", code, out)
		}
		otherSigner := filepath.Join(dir, "policy-other-signer.yaml")
		if err := os.WriteFile(otherSigner, []byte(`issuers: ["`+w.issuer+`"]
builders:
  - {name: someone-else, signer: "spiffe://example.org/ns/ci/sa/default", maxLevel: 3}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, code := run("--spiffe-id", factoryID, "--source-uri", "github.com/acme/app", "--policy", otherSigner); code != 1 || !strings.Contains(out, "FAILED: builder") {
			t.Fatalf("untrusted signer: exit %d, want FAILED: builder:\n%s", code, out)
		}
		for name, tc := range map[string]struct {
			args  []string
			check string
		}{
			"another source":    {[]string{"--spiffe-id", factoryID, "--source-uri", "github.com/acme/other"}, "FAILED: source"},
			"another SPIFFE ID": {[]string{"--spiffe-id", "spiffe://example.org/ns/ci/sa/default", "--source-uri", "github.com/acme/app"}, "FAILED: identity"},
			"a ref":             {[]string{"--spiffe-id", factoryID, "--source-uri", "github.com/acme/app", "--source-tag", "v1"}, "FAILED: ref"},
		} {
			t.Run(name, func(t *testing.T) {
				if out, code := run(append(tc.args, "--policy", bySigner)...); code != 1 || !strings.Contains(out, tc.check) {
					t.Fatalf("exit %d, want 1 with %q:\n%s", code, tc.check, out)
				}
			})
		}
	})

	t.Run("wrong-audience", func(t *testing.T) {
		// Fulcio takes only JWT-SVIDs for its audience: one the agent
		// minted for another relying party buys no certificate.
		s := w.jwtSigner(t, "not-sigstore")
		_, err := s.Sign(t.Context(), factoryID, []byte(`{}`))
		if !errors.Is(err, signer.ErrCertificate) {
			t.Fatalf("err = %v, want %v", err, signer.ErrCertificate)
		}

		w.api.Namespace(t, "jwt-audience")
		w.jwtController(t, "jwt-audience", s, time.Second)
		tr := factorytest.TaskRun("jwt-audience", "build")
		factorytest.Succeeded(tr,
			factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1.0.0", artifactDigest))
		w.api.Create(t, tr)
		// Fulcio refuses at once, so only the backoff (1 s, doubling)
		// spaces the attempts: once the first failure is counted, the count
		// must hold for the backoff, not race to the end.
		retries := func() string {
			var got pipelinev1.TaskRun
			if err := w.api.Client.Get(t.Context(), client.ObjectKeyFromObject(tr), &got); err != nil {
				t.Fatal(err)
			}
			return got.Annotations[factory.AnnotationRetries]
		}
		deadline := time.Now().Add(30 * time.Second)
		for retries() != "1" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(600 * time.Millisecond)
		if got := retries(); got != "1" {
			t.Errorf("retries = %q 0.6 s after the first failure, want 1: the backoff was not waited for", got)
		}
		ann := w.waitState(t, tr)
		// The reason names what Fulcio had to match: the audience.
		if ann[factory.AnnotationState] != factory.StateFailed || ann[factory.AnnotationRetries] != "3" || !strings.Contains(ann[factory.AnnotationReason], `aud "not-sigstore"`) {
			t.Fatalf("annotations %v", ann)
		}
		w.waitEvent(t, "jwt-audience", "build", "SigningFailed")
	})

	t.Run("tenant-identity", func(t *testing.T) {
		// Per tenant, keyless: a JWT-SVID for the namespace's own
		// SPIFFE ID buys a Fulcio certificate naming it. (Last: from here
		// on the agent holds two identities for this process.)
		tenantID, err := factory.TenantSPIFFEID(factoryID, "jwt-tenant")
		if err != nil {
			t.Fatal(err)
		}
		w.srv.RegisterSelf(t, tenantID, 0)
		w.agent.WaitForSVID(t, tenantID)
		w.api.Namespace(t, "jwt-tenant")
		w.startManager(t, factory.Config{
			Signer: w.jwtSigner(t, ""), SignerID: factoryID, TenantIdentity: true,
			Namespaces: []string{"jwt-tenant"}, Workers: 2, MaxRetries: 2, Backoff: 100 * time.Millisecond, MetricsAddr: "0",
			Log: slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		tr := factorytest.TaskRun("jwt-tenant", "build")
		factorytest.Succeeded(tr,
			factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/app@1.0.0", artifactDigest))
		w.api.Create(t, tr)
		ann := w.waitState(t, tr)
		if ann[factory.AnnotationState] != factory.StateSigned || ann[factory.AnnotationSigner] != tenantID {
			t.Fatalf("annotations %v", ann)
		}
		b := &bundle.Bundle{}
		if err := b.UnmarshalJSON([]byte(ann[factory.AnnotationBundle])); err != nil {
			t.Fatal(err)
		}
		if leaf := sandboxtest.LeafCert(t, b); len(leaf.URIs) != 1 || leaf.URIs[0].String() != tenantID {
			t.Errorf("certificate URI SANs %v, want [%s]", leaf.URIs, tenantID)
		}
		v, err := verifier.NewSPIFFE(w.trusted, nil, &verifier.Policy{
			Issuers:  []string{w.issuer},
			SPIFFE:   &verifier.SPIFFEPolicy{IDs: []string{tenantID}},
			Builders: []verifier.TrustedBuilder{{Name: "jwt-tenant's factory", Signer: tenantID, MaxLevel: 3}},
		}, verifier.WithoutSourceUnsafe())
		if err != nil {
			t.Fatal(err)
		}
		digest, _ := verifier.ParseDigest(artifactDigest)
		if _, err := v.Verify(b, digest); err != nil {
			t.Errorf("pinned to %s: %v", tenantID, err)
		}
		if _, err := w.keylessVerifier(t, []string{w.issuer}, factoryID).Verify(b, digest); !errors.Is(err, verifier.ErrSPIFFEID) {
			t.Errorf("pinned to the controller's own ID: err = %v, want %v", err, verifier.ErrSPIFFEID)
		}
	})
}

func spireRoots(b *x509bundle.Bundle) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range b.X509Authorities() {
		p.AddCert(c)
	}
	return p
}
