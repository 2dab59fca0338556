package signer_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/spire"
	"github.com/hallmark-dev/hallmark/verifier"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const factoryID = "spiffe://example.org/ns/hallmark-system/sa/hallmark-factory"

var artifact = []byte("built by a tekton task\n")

func statement() []byte {
	d := sha256.Sum256(artifact)
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app.tar.gz","digest":{"sha256":"` + hex.EncodeToString(d[:]) +
		`"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://tekton.dev/chains/v2/slsa","externalParameters":{"runSpec":{}}},"runDetails":{"builder":{"id":"` + factoryID + `"}}}}`)
}

func fetchSVID(t *testing.T, agent *spire.Agent) *x509svid.SVID {
	t.Helper()
	svid, err := workloadapi.FetchX509SVID(t.Context(), workloadapi.WithAddr(agent.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	return svid
}

func policy(ids ...string) *verifier.Policy {
	return &verifier.Policy{
		SPIFFE:   &verifier.SPIFFEPolicy{IDs: ids},
		Builders: []verifier.TrustedBuilder{{Name: "factory", Signer: "glob:spiffe://example.org/ns/hallmark-system/**", MaxLevel: 3}},
	}
}

// TestSignWithSVID signs with an X.509-SVID from a real SPIRE agent, logs
// in the sandbox's Rekor v2 and timestamps with its TSA, and verifies with
// the SPIRE trust bundle, also long after the SVID expired.
func TestSignWithSVID(t *testing.T) {
	sb := sandboxtest.Start(t)
	srv := spire.StartServer(t, spire.ServerOptions{})
	srv.RegisterSelf(t, factoryID, 0)
	agent := srv.StartAgent(t)
	agent.WaitForSVID(t, factoryID)
	svid := fetchSVID(t, agent)
	if svid.ID.String() != factoryID {
		t.Fatalf("SVID %s, want %s", svid.ID, factoryID)
	}
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	spireBundle := loadBundle(t, "", srv.BundlePEM(t))
	res, err := signer.SignWithCertificate(t.Context(), statement(), signer.PayloadTypeInToto, svid.PrivateKey, svid.Certificates[0], signer.Options{
		SigningConfig: sc,
		TrustedRoot:   verifier.SPIFFETrustedMaterial(tr, spireBundle),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity != factoryID || !res.Timestamped || res.LogIndex < 0 {
		t.Fatalf("result %+v: want the SPIFFE ID, a timestamp and a log entry", res)
	}
	if got := res.Bundle.GetVerificationMaterial().GetCertificate().GetRawBytes(); string(got) != string(svid.Certificates[0].Raw) {
		t.Fatal("the bundle does not carry the SVID certificate")
	}

	jsonBundle := loadBundle(t, "example.org", srv.BundleJSON(t))
	other := otherTrustDomainBundle(t)
	later := func() time.Time { return svid.Certificates[0].NotAfter.Add(2 * time.Hour) }
	for _, tc := range []struct {
		name    string
		bundles []*x509bundle.Bundle
		policy  *verifier.Policy
		opts    []verifier.Option
		check   verifier.Check
		is      error
	}{
		{name: "pem-bundle-exact-id", bundles: []*x509bundle.Bundle{spireBundle}, policy: policy(factoryID)},
		{name: "json-bundle-path-prefix", bundles: []*x509bundle.Bundle{jsonBundle}, policy: policy("spiffe://example.org/ns/hallmark-system/*")},
		{name: "trust-domain", bundles: []*x509bundle.Bundle{spireBundle}, policy: policy("spiffe://example.org")},
		{name: "after-svid-expiry", bundles: []*x509bundle.Bundle{spireBundle}, policy: policy(factoryID), opts: []verifier.Option{verifier.WithClock(later)}},
		{name: "wrong-spiffe-id", bundles: []*x509bundle.Bundle{spireBundle}, policy: policy("spiffe://example.org/ns/ci/sa/default"), check: verifier.CheckIdentity, is: verifier.ErrSPIFFEID},
		{name: "other-trust-domain-bundle", bundles: []*x509bundle.Bundle{other}, policy: policy(factoryID), check: verifier.CheckSignature},
		{name: "untrusted-builder", bundles: []*x509bundle.Bundle{spireBundle}, policy: &verifier.Policy{SPIFFE: &verifier.SPIFFEPolicy{IDs: []string{factoryID}}, Builders: []verifier.TrustedBuilder{{ID: "https://tekton.dev/chains/v2", MaxLevel: 3}}}, check: verifier.CheckBuilder, is: verifier.ErrUntrustedBuilder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verifier.NewSPIFFE(tr, tc.bundles, tc.policy, append(tc.opts, verifier.WithoutSourceUnsafe())...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(res.Bundle, verifier.SHA256(artifact))
			if tc.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				// The statement carries no factory record: nothing says
				// what the signer verified, so no more than level 2.
				if got.Identity.SAN != factoryID || got.Level != 2 {
					t.Errorf("identity %q level %d, want %s at level 2", got.Identity.SAN, got.Level, factoryID)
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check {
				t.Fatalf("err = %v, want a %s CheckError", err, tc.check)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
		})
	}

	t.Run("no-timestamp", func(t *testing.T) {
		// Rekor v2 gives no signing time: without the TSA nothing proves
		// the one-hour SVID was valid when it signed.
		onlyLog, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
		if err != nil {
			t.Fatal(err)
		}
		onlyLog = onlyLog.WithTimestampAuthorityURLs()
		res, err := signer.SignWithCertificate(t.Context(), statement(), signer.PayloadTypeInToto, svid.PrivateKey, svid.Certificates[0], signer.Options{SigningConfig: onlyLog})
		if err != nil {
			t.Fatal(err)
		}
		v, err := verifier.NewSPIFFE(tr, []*x509bundle.Bundle{spireBundle}, policy(factoryID), verifier.WithClock(later), verifier.WithoutSourceUnsafe())
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(res.Bundle, verifier.SHA256(artifact))
		var ce *verifier.CheckError
		if !errors.As(err, &ce) || ce.Check != verifier.CheckTimestamp {
			t.Fatalf("err = %v, want a timestamp CheckError", err)
		}
	})

	t.Run("expired-certificate-refused", func(t *testing.T) {
		_, err := signer.SignWithCertificate(t.Context(), statement(), signer.PayloadTypeInToto, svid.PrivateKey, svid.Certificates[0], signer.Options{SigningConfig: sc, Now: later})
		if !errors.Is(err, signer.ErrKey) {
			t.Fatalf("err = %v, want ErrKey", err)
		}
	})
}

// otherTrustDomainBundle is the trust bundle of a second SPIRE server, for
// another trust domain.
func otherTrustDomainBundle(t *testing.T) *x509bundle.Bundle {
	t.Helper()
	srv := spire.StartServer(t, spire.ServerOptions{TrustDomain: "other.example"})
	return loadBundle(t, "", srv.BundlePEM(t))
}

// loadBundle loads a trust bundle of one trust domain.
func loadBundle(t *testing.T, td string, data []byte) *x509bundle.Bundle {
	t.Helper()
	bs, err := verifier.LoadSPIFFEBundle(td, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 {
		t.Fatalf("%d trust domains in the bundle, want 1", len(bs))
	}
	return bs[0]
}
