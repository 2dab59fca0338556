package signer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/faultproxy"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// proxiedConfig is the sandbox's signing config with every server behind a
// fault proxy.
func proxiedConfig(t *testing.T, sb *sandbox.Sandbox) (*root.SigningConfig, map[string]*faultproxy.Proxy) {
	t.Helper()
	p := map[string]*faultproxy.Proxy{
		"fulcio": faultproxy.Start(t, sb.FulcioURL),
		"rekor":  faultproxy.Start(t, sb.RekorURL),
		"tsa":    faultproxy.Start(t, sb.TSAURL),
	}
	now := time.Now().Add(-time.Hour)
	svc := func(u string) root.Service {
		return root.Service{URL: u, MajorAPIVersion: 1, ValidityPeriodStart: now}
	}
	rekor := svc(p["rekor"].URL())
	rekor.MajorAPIVersion = 2
	any := root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY}
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		[]root.Service{svc(p["fulcio"].URL())}, nil,
		[]root.Service{rekor}, any,
		[]root.Service{svc(p["tsa"].URL() + "/api/v1/timestamp")}, any)
	if err != nil {
		t.Fatal(err)
	}
	return sc, p
}

// TestFactorySigningPathsUnderFaults: the factory signs with Sign (a
// JWT-SVID bought certificate) or SignWithCertificate (the X.509-SVID);
// both end at the deadline when a server hangs and never log a signature
// whose certificate or timestamp is wrong.
func TestFactorySigningPathsUnderFaults(t *testing.T) {
	sb := sandboxtest.Start(t)
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	sc, p := proxiedConfig(t, sb)
	// The real servers get the default time; the hanging one costs the
	// short deadline of its own subtest.
	opts := signer.Options{SigningConfig: sc, TrustedRoot: tr}

	t.Run("certificate of our own, TSA hangs", func(t *testing.T) {
		p["tsa"].Inject(faultproxy.Rule{Fault: faultproxy.Hang()})
		defer p["tsa"].Clear()
		key, cert := selfSigned(t, "spiffe://example.org/ns/hallmark-system/sa/hallmark-factory")
		start := time.Now()
		o := opts
		o.Deadline, o.Timeout = 2*time.Second, time.Second
		o.TrustedRoot = nil // the self-made certificate chains to nothing
		_, err := signer.SignWithCertificate(context.Background(), statement(), signer.PayloadTypeInToto, key, cert, o)
		if !errors.Is(err, signer.ErrTimestamp) || !errors.Is(err, signer.ErrTimeout) || !strings.Contains(err.Error(), p["tsa"].URL()) {
			t.Fatalf("err = %v, want a timeout naming the TSA", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("took %s with a 2s deadline", took)
		}
		if n := p["rekor"].Seen(http.MethodPost, ""); n != 0 {
			t.Errorf("the log was asked %d times", n)
		}
	})

	t.Run("fulcio certifies another identity", func(t *testing.T) {
		token, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "acme/app"})
		if err != nil {
			t.Fatal(err)
		}
		evil, err := sb.Token(oidc.DefaultAudience, map[string]string{"repository": "evil/tools", "sub": "repo:acme/app:ref:refs/heads/main"})
		if err != nil {
			t.Fatal(err)
		}
		p["fulcio"].Inject(faultproxy.Rule{Fault: faultproxy.RewriteRequest(func(r *http.Request, body []byte) []byte {
			r.Header.Set("Authorization", "Bearer "+evil)
			return body
		})})
		defer p["fulcio"].Clear()
		tsaBefore, rekorBefore := p["tsa"].Seen(http.MethodPost, ""), p["rekor"].Seen(http.MethodPost, "")
		o := opts
		o.IdentityToken = token
		_, err = signer.Sign(context.Background(), statement(), signer.PayloadTypeInToto, o)
		if !errors.Is(err, signer.ErrIdentity) || !strings.Contains(err.Error(), "evil/tools") {
			t.Fatalf("err = %v, want ErrIdentity naming the other identity", err)
		}
		if p["tsa"].Seen(http.MethodPost, "") != tsaBefore || p["rekor"].Seen(http.MethodPost, "") != rekorBefore {
			t.Error("a signature under another identity reached the TSA or the log")
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), evil) {
			t.Error("a token is in the error")
		}
	})

	t.Run("token for another audience than configured", func(t *testing.T) {
		token, err := sb.Token("fulcio-spiffe", nil)
		if err != nil {
			t.Fatal(err)
		}
		o := opts
		o.IdentityToken = token
		_, err = signer.Sign(context.Background(), statement(), signer.PayloadTypeInToto, o)
		if !errors.Is(err, signer.ErrToken) {
			t.Fatalf("err = %v, want ErrToken", err)
		}
		o.Audience = "fulcio-spiffe"
		_, err = signer.Sign(context.Background(), statement(), signer.PayloadTypeInToto, o)
		if errors.Is(err, signer.ErrToken) {
			t.Fatalf("err = %v: the configured audience was not used", err)
		}
	})
}

func selfSigned(t *testing.T, id string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(id)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{}, URIs: []*url.URL{u},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
