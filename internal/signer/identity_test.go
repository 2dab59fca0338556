package signer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// jwt makes an unsigned token with claims: CheckToken never looks at the
// signature.
func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(payload) + "." + enc([]byte("signature"))
}

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func githubToken() map[string]any {
	return map[string]any{
		"iss": "https://token.actions.githubusercontent.com", "aud": "sigstore", "sub": "repo:acme/app:ref:refs/heads/main",
		"exp": float64(now.Add(5 * time.Minute).Unix()), "nbf": float64(now.Add(-10 * time.Minute).Unix()),
		"repository": "acme/app", "repository_owner": "acme", "repository_id": "42", "repository_owner_id": "7",
		"repository_visibility": "public", "ref": "refs/heads/main", "sha": strings.Repeat("a", 40),
		"workflow": "release", "workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main", "workflow_sha": strings.Repeat("a", 40),
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main", "job_workflow_sha": strings.Repeat("a", 40),
		"event_name": "push", "run_id": "99", "run_attempt": "1", "runner_environment": "github-hosted",
	}
}

// githubSummary is what Fulcio certifies for githubToken.
func githubSummary() certificate.Summary {
	return certificate.Summary{
		SubjectAlternativeName: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
		Extensions: certificate.Extensions{
			Issuer:                              "https://token.actions.githubusercontent.com",
			BuildSignerURI:                      "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
			SourceRepositoryURI:                 "https://github.com/acme/app",
			SourceRepositoryDigest:              strings.Repeat("a", 40),
			SourceRepositoryRef:                 "refs/heads/main",
			SourceRepositoryOwnerURI:            "https://github.com/acme",
			RunInvocationURI:                    "https://github.com/acme/app/actions/runs/99/attempts/1",
			BuildTrigger:                        "push",
			SourceRepositoryVisibilityAtSigning: "public",
		},
	}
}

func TestIdentityCheck(t *testing.T) {
	with := func(f func(*certificate.Summary)) certificate.Summary { s := githubSummary(); f(&s); return s }
	claims := func(f func(map[string]any)) map[string]any { c := githubToken(); f(c); return c }
	tests := []struct {
		name    string
		claims  map[string]any
		cert    certificate.Summary
		wantErr bool
		wantMsg string
	}{
		{name: "github: the token's workflow", claims: githubToken(), cert: githubSummary()},
		{name: "github: another workflow", claims: githubToken(), cert: with(func(s *certificate.Summary) {
			s.SubjectAlternativeName = "https://github.com/evil/tools/.github/workflows/evil.yml@refs/heads/main"
		}), wantErr: true, wantMsg: "evil/tools"},
		{name: "github: another issuer", claims: githubToken(), cert: with(func(s *certificate.Summary) { s.Extensions.Issuer = "https://evil.example" }),
			wantErr: true, wantMsg: "issuer"},
		{name: "github: another repository in the extensions", claims: githubToken(), cert: with(func(s *certificate.Summary) {
			s.Extensions.SourceRepositoryURI = "https://github.com/evil/app"
		}), wantErr: true, wantMsg: "source repository URI"},
		{name: "github: another run", claims: githubToken(), cert: with(func(s *certificate.Summary) {
			s.Extensions.RunInvocationURI = "https://github.com/acme/app/actions/runs/100/attempts/1"
		}), wantErr: true, wantMsg: "run invocation URI"},
		{name: "github: fewer extensions", claims: githubToken(), cert: with(func(s *certificate.Summary) { s.Extensions.RunInvocationURI = "" })},
		{name: "github: another host", claims: githubToken(), cert: with(func(s *certificate.Summary) {
			s.SubjectAlternativeName = "https://evil.example/acme/app/.github/workflows/release.yml@refs/heads/main"
		}), wantErr: true},
		{name: "ghe.com issuer", claims: claims(func(c map[string]any) { c["iss"] = "https://token.actions.acme.ghe.com" }), cert: with(func(s *certificate.Summary) {
			s.SubjectAlternativeName = "https://acme.ghe.com/acme/app/.github/workflows/release.yml@refs/heads/main"
			s.Extensions = certificate.Extensions{Issuer: "https://token.actions.acme.ghe.com", SourceRepositoryURI: "https://acme.ghe.com/acme/app"}
		})},
		{name: "spiffe", claims: map[string]any{"iss": "https://spire.example", "sub": "spiffe://example.org/ns/x/sa/y"},
			cert: certificate.Summary{SubjectAlternativeName: "spiffe://example.org/ns/x/sa/y", Extensions: certificate.Extensions{Issuer: "https://spire.example"}}},
		{name: "spiffe: another workload", claims: map[string]any{"iss": "https://spire.example", "sub": "spiffe://example.org/ns/x/sa/y"},
			cert: certificate.Summary{SubjectAlternativeName: "spiffe://example.org/ns/x/sa/z", Extensions: certificate.Extensions{Issuer: "https://spire.example"}}, wantErr: true},
		{name: "email", claims: map[string]any{"iss": "https://accounts.example", "sub": "1234", "email": "dev@example.com", "email_verified": true},
			cert: certificate.Summary{SubjectAlternativeName: "dev@example.com", Extensions: certificate.Extensions{Issuer: "https://accounts.example"}}},
		{name: "kubernetes", claims: map[string]any{"iss": "https://k8s.example", "sub": "system:serviceaccount:ci:builder"},
			cert: certificate.Summary{SubjectAlternativeName: "https://kubernetes.io/namespaces/ci/serviceaccounts/builder", Extensions: certificate.Extensions{Issuer: "https://k8s.example"}}},
		{name: "username", claims: map[string]any{"iss": "https://id.example", "sub": "alice"},
			cert: certificate.Summary{SubjectAlternativeName: "alice!id.example", Extensions: certificate.Extensions{Issuer: "https://id.example"}}},
		{name: "username: another user", claims: map[string]any{"iss": "https://id.example", "sub": "alice"},
			cert: certificate.Summary{SubjectAlternativeName: "alicex!id.example", Extensions: certificate.Extensions{Issuer: "https://id.example"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := expectFromClaims(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			id, err := want.check(tt.cert)
			if tt.wantErr {
				if !errors.Is(err, ErrIdentity) {
					t.Fatalf("err = %v, want ErrIdentity", err)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want it to name %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The identity the bundle is verified with accepts exactly this
			// certificate.
			if err := id.Verify(tt.cert); err != nil {
				t.Fatalf("the final check's identity refuses the checked certificate: %v", err)
			}
			other := tt.cert
			other.SubjectAlternativeName += "x"
			if id.Verify(other) == nil {
				t.Fatal("the final check's identity accepts another SAN")
			}
		})
	}
}

func TestCheckToken(t *testing.T) {
	tok := func(f func(map[string]any)) string { c := githubToken(); f(c); return jwt(t, c) }
	tests := []struct {
		name     string
		token    string
		audience string
		wantMsg  string // empty: valid
	}{
		{name: "valid", token: jwt(t, githubToken())},
		{name: "audience list", token: tok(func(c map[string]any) { c["aud"] = []any{"other", "sigstore"} })},
		{name: "configured audience", token: tok(func(c map[string]any) { c["aud"] = "fulcio-spiffe" }), audience: "fulcio-spiffe"},
		{name: "nbf within leeway", token: tok(func(c map[string]any) { c["nbf"] = float64(now.Add(time.Minute).Unix()) })},
		{name: "expired", token: tok(func(c map[string]any) { c["exp"] = float64(now.Add(-10 * time.Minute).Unix()) }), wantMsg: "expired at 2026-03-04T04:56:07Z, 10m0s ago"},
		{name: "expires now", token: tok(func(c map[string]any) { c["exp"] = float64(now.Unix()) }), wantMsg: "expired"},
		{name: "not yet valid", token: tok(func(c map[string]any) { c["nbf"] = float64(now.Add(time.Hour).Unix()) }), wantMsg: "clock"},
		{name: "another audience", token: tok(func(c map[string]any) { c["aud"] = "other" }), wantMsg: `audience "other", Fulcio wants "sigstore"`},
		{name: "no audience", token: tok(func(c map[string]any) { delete(c, "aud") }), wantMsg: "no audience"},
		{name: "no expiry", token: tok(func(c map[string]any) { delete(c, "exp") }), wantMsg: "no expiry"},
		{name: "expiry not a number", token: tok(func(c map[string]any) { c["exp"] = "soon" }), wantMsg: "not a time"},
		{name: "no issuer", token: tok(func(c map[string]any) { delete(c, "iss") }), wantMsg: "no issuer"},
		{name: "no subject", token: tok(func(c map[string]any) { c["sub"] = "" }), wantMsg: "no subject"},
		{name: "not a JWT", token: "not-a-token", wantMsg: "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckToken(tt.token, tt.audience, now)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want ErrToken saying %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatal("the token is in the error")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	base := &ServerError{Kind: ErrCertificate, URL: "http://fulcio", Err: errors.New("bad token eyJ.secret.sig")}
	err := redact(base, "eyJ.secret.sig")
	if strings.Contains(err.Error(), "secret") || !errors.Is(err, ErrCertificate) {
		t.Fatalf("err = %v", err)
	}
}
