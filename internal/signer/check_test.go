package signer

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/proto"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// checkFixture is one bundle the sandbox signed (Rekor v2 and its TSA),
// with the trusted root, the services it was signed with and the identity
// its certificate was checked to name.
type checkFixture struct {
	pb  *protobundle.Bundle
	tr  root.TrustedMaterial
	svc services
	id  verify.CertificateIdentity
}

func newCheckFixture(tb testing.TB) checkFixture {
	tb.Helper()
	sb := sandboxtest.Start(tb)
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		tb.Fatal(err)
	}
	token, err := sb.Token(oidc.DefaultAudience, nil)
	if err != nil {
		tb.Fatal(err)
	}
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` +
		string(bytes.Repeat([]byte("a"), 64)) + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`)
	res, err := Sign(tb.Context(), payload, PayloadTypeInToto, Options{SigningConfig: sc, TrustedRoot: tr, IdentityToken: token})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := chooseServices(sc, time.Now(), false, true)
	if err != nil {
		tb.Fatal(err)
	}
	if len(svc.rekor) == 0 || len(svc.tsa) == 0 {
		tb.Fatalf("the sandbox's signing config lists %d logs and %d TSAs, want both", len(svc.rekor), len(svc.tsa))
	}
	id, err := verify.NewShortCertificateIdentity(res.Issuer, "", res.Identity, "")
	if err != nil {
		tb.Fatal(err)
	}
	return checkFixture{pb: res.Bundle.Bundle, tr: tr, svc: svc, id: id}
}

// TestSharedChecks: one shared verifier checks bundles from many
// goroutines at once with the verdicts of a verifier of their own: the
// honest bundle passes, a bundle with another payload, or checked for
// another identity, fails; over linked chains alike.
func TestSharedChecks(t *testing.T) {
	f := newCheckFixture(t)
	tampered := proto.Clone(f.pb).(*protobundle.Bundle)
	tampered.GetDsseEnvelope().Payload = append(bytes.Clone(tampered.GetDsseEnvelope().GetPayload()), ' ')
	other, err := verify.NewShortCertificateIdentity(f.id.Issuer.Issuer, "", "https://example.com/someone-else", "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pb   *protobundle.Bundle
		id   verify.CertificateIdentity
		pass bool
	}{
		{"honest", f.pb, f.id, true},
		{"another payload", tampered, f.id, false},
		{"another identity", f.pb, other, false},
	}
	for name, tm := range map[string]root.TrustedMaterial{"trusted root": f.tr, "linked chains": verifier.LinkedTrustedMaterial(f.tr)} {
		t.Run(name, func(t *testing.T) {
			shared := SharedChecks(tm).(*checkedRoot)
			if SharedChecks(shared) != shared {
				t.Fatal("wrapping shared checks again made new ones")
			}
			var wg sync.WaitGroup
			for range 8 {
				for _, c := range cases {
					wg.Go(func() {
						err := shared.check(newSignedBundle(c.pb), f.svc, c.id)
						own := SharedChecks(tm).(*checkedRoot).check(newSignedBundle(c.pb), f.svc, c.id)
						if (err == nil) != c.pass || (own == nil) != c.pass {
							t.Errorf("%s: shared verifier %v, own verifier %v, want pass %v", c.name, err, own, c.pass)
						}
						if err != nil && !errors.Is(err, ErrCheck) {
							t.Errorf("%s: %v is not ErrCheck", c.name, err)
						}
					})
				}
			}
			wg.Wait()
			if n := len(shared.verifiers); n != 1 {
				t.Fatalf("%d verifiers built for one kind of evidence", n)
			}
		})
	}
}

// BenchmarkCheck is the check each new bundle gets before it is handed
// out, for a sandbox bundle (Rekor v2 and a TSA): with a verifier built
// for each bundle (as before SharedChecks), with one shared verifier, and
// with one shared verifier over the trusted root's chains linked once
// (verifier.LinkedTrustedMaterial), as the factory's signers check.
func BenchmarkCheck(b *testing.B) {
	f := newCheckFixture(b)
	run := func(b *testing.B, check func() error) {
		b.ReportAllocs()
		for b.Loop() {
			if err := check(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("verifier-per-bundle", func(b *testing.B) {
		run(b, func() error { return SharedChecks(f.tr).(*checkedRoot).check(newSignedBundle(f.pb), f.svc, f.id) })
	})
	b.Run("shared-verifier", func(b *testing.B) {
		c := SharedChecks(f.tr).(*checkedRoot)
		run(b, func() error { return c.check(newSignedBundle(f.pb), f.svc, f.id) })
	})
	b.Run("shared-verifier-linked-chains", func(b *testing.B) {
		c := SharedChecks(verifier.LinkedTrustedMaterial(f.tr)).(*checkedRoot)
		run(b, func() error { return c.check(newSignedBundle(f.pb), f.svc, f.id) })
	})
}
