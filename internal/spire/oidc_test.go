package spire_test

import (
	"context"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hallmark-dev/hallmark/internal/spire"
)

// TestDiscovery verifies the server's JWT-SVIDs as Fulcio's spiffe issuer
// does: OIDC discovery at the iss URL, the JWKS it names, the audience as
// client ID.
func TestDiscovery(t *testing.T) {
	const id = "spiffe://example.org/ns/hallmark-system/sa/hallmark-factory"
	srv, d := spire.StartServerWithDiscovery(t, spire.ServerOptions{})
	if srv.JWTIssuer != d.IssuerURL {
		t.Fatalf("server jwt_issuer %q, discovery at %q", srv.JWTIssuer, d.IssuerURL)
	}
	srv.RegisterSelf(t, id, 0)
	agent := srv.StartAgent(t)
	agent.WaitForSVID(t, id)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, d.IssuerURL)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "sigstore"})
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(agent.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	for _, tc := range []struct {
		name     string
		audience string
		ok       bool
	}{
		{"audience-sigstore", "sigstore", true},
		{"audience-other", "not-sigstore", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svid, err := client.FetchJWTSVID(ctx, jwtsvid.Params{Audience: tc.audience})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := verifier.Verify(ctx, svid.Marshal())
			if !tc.ok {
				if err == nil {
					t.Fatalf("a JWT-SVID for %q verified for audience sigstore", tc.audience)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Issuer != d.IssuerURL || tok.Subject != id {
				t.Errorf("iss %q sub %q, want %q %q", tok.Issuer, tok.Subject, d.IssuerURL, id)
			}
		})
	}
}
