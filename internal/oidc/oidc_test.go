package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/hallmark-dev/hallmark/internal/oidc"
)

func TestClaimsDerivation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]any
	}{
		{
			name: "defaults",
			want: map[string]any{
				"sub":              "repo:hallmark-dev/example:ref:refs/heads/main",
				"repository_owner": "hallmark-dev",
				"ref_type":         "branch",
				"job_workflow_ref": "hallmark-dev/example/.github/workflows/release.yml@refs/heads/main",
				"job_workflow_sha": oidc.Defaults["sha"],
				"iat":              int64(1_800_000_000),
				"exp":              int64(1_800_000_300),
				"nbf":              int64(1_799_999_400),
				"aud":              "sigstore",
			},
		},
		{
			name:      "repository and tag follow through",
			overrides: map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.2.3"},
			want: map[string]any{
				"sub":              "repo:acme/app:ref:refs/tags/v1.2.3",
				"repository_owner": "acme",
				"ref_type":         "tag",
				"workflow_ref":     "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
			},
		},
		{
			name:      "explicit job workflow ref wins",
			overrides: map[string]string{"job_workflow_ref": "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1"},
			want: map[string]any{
				"job_workflow_ref": "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1",
				"workflow_ref":     "hallmark-dev/example/.github/workflows/release.yml@refs/heads/main",
			},
		},
		{
			name:      "pull request subject",
			overrides: map[string]string{"event_name": "pull_request"},
			want:      map[string]any{"sub": "repo:hallmark-dev/example:pull_request"},
		},
		{
			name:      "environment subject",
			overrides: map[string]string{"environment": "prod"},
			want:      map[string]any{"sub": "repo:hallmark-dev/example:environment:prod", "environment": "prod"},
		},
		{
			name:      "expiry override",
			overrides: map[string]string{"exp": "1700000000"},
			want:      map[string]any{"exp": int64(1_700_000_000)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oidc.Claims("http://issuer.test", oidc.DefaultAudience, now, tt.overrides)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got[k], got[k], want, want)
				}
			}
			if got["iss"] != "http://issuer.test" {
				t.Errorf("iss = %v", got["iss"])
			}
		})
	}
}

func TestClaimsErrors(t *testing.T) {
	for name, overrides := range map[string]map[string]string{
		"repository without owner": {"repository": "noslash"},
		"exp not a number":         {"exp": "tomorrow"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := oidc.Claims("http://i", "a", time.Now(), overrides); err == nil {
				t.Fatal("want an error")
			}
		})
	}
	for name, flags := range map[string][]string{
		"no equals": {"repository"},
		"duplicate": {"ref=a", "ref=b"},
		"iss":       {"iss=http://evil"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := oidc.ParseClaimFlags(flags); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// verify checks tok against the issuer's published JWKS, as Fulcio does.
func verify(t *testing.T, jwks jose.JSONWebKeySet, tok string) map[string]any {
	t.Helper()
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Headers[0].KeyID
	keys := jwks.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", kid, len(keys))
	}
	var claims map[string]any
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return claims
}

func TestRotationKeepsOldTokensVerifiable(t *testing.T) {
	dir := t.TempDir()
	ks, err := oidc.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := oidc.Claims("http://i", "sigstore", time.Now(), nil)
	before, err := ks.Mint(claims)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Rotate(dir); err != nil {
		t.Fatal(err)
	}
	reloaded, err := oidc.LoadKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := reloaded.Mint(claims)
	jwks := reloaded.Public()
	if len(jwks.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(jwks.Keys))
	}
	for _, k := range jwks.Keys {
		if !k.IsPublic() {
			t.Fatal("JWKS publishes a private key")
		}
	}
	verify(t, jwks, before)
	verify(t, jwks, after)
}

func TestServer(t *testing.T) {
	dir := t.TempDir()
	if _, err := oidc.LoadKeys(dir); err != nil {
		t.Fatal(err)
	}
	is := &oidc.Issuer{Dir: dir}
	srv := httptest.NewServer(is.Handler())
	defer srv.Close()
	is.URL = srv.URL

	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, srv.URL+oidc.DiscoveryPath, "", http.StatusOK, &disc)
	if disc.Issuer != srv.URL || disc.JWKSURI != srv.URL+oidc.JWKSPath {
		t.Fatalf("discovery = %+v", disc)
	}
	var jwks jose.JSONWebKeySet
	getJSON(t, disc.JWKSURI, "", http.StatusOK, &jwks)

	reqTok, err := oidc.NewRequestToken(dir, map[string]string{"repository": "acme/app"})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Value string `json:"value"`
	}
	getJSON(t, is.RequestTokenURL()+"&audience=sigstore", "bearer "+reqTok, http.StatusOK, &resp)
	claims := verify(t, jwks, resp.Value)
	if claims["aud"] != "sigstore" || claims["repository"] != "acme/app" || claims["iss"] != srv.URL {
		t.Errorf("claims = %v", claims)
	}

	for name, auth := range map[string]string{
		"no header":     "",
		"unknown token": "bearer 00",
		"wrong scheme":  "basic " + reqTok,
	} {
		t.Run(name, func(t *testing.T) {
			getJSON(t, is.RequestTokenURL()+"&audience=sigstore", auth, http.StatusUnauthorized, nil)
		})
	}
}

func getJSON(t *testing.T, url, auth string, wantCode int, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != wantCode {
		t.Fatalf("GET %s: status %d, want %d", url, res.StatusCode, wantCode)
	}
	if v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}
