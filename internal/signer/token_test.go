package signer

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIdentityTokenSources(t *testing.T) {
	var gotAuth, gotAudience string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotAudience = r.Header.Get("Authorization"), r.URL.Query().Get("audience")
		if gotAuth != "bearer request-token" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, `{"count":1,"value":"actions.jwt.token"}`)
	}))
	defer srv.Close()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	actions := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/_apis/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
	}
	tests := []struct {
		name       string
		explicit   string
		env        map[string]string
		want       string
		wantSource TokenSource
		wantErr    error
	}{
		{name: "flag wins", explicit: "flag.jwt.x", env: map[string]string{"SIGSTORE_ID_TOKEN": "env.jwt.x"}, want: "flag.jwt.x", wantSource: FromFlag},
		{name: "environment", env: map[string]string{"SIGSTORE_ID_TOKEN": "env.jwt.x"}, want: "env.jwt.x", wantSource: FromEnv},
		{name: "actions protocol", env: actions, want: "actions.jwt.token", wantSource: FromActions},
		{name: "none", env: map[string]string{}, wantErr: ErrNoIdentityToken},
		{name: "actions job without id-token", env: map[string]string{"GITHUB_ACTIONS": "true"}, wantErr: ErrNoIdentityToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, src, err := IdentityToken(context.Background(), tt.explicit, env(tt.env), nil)
			if tt.wantErr != nil {
				if err == nil || !strings.Contains(err.Error(), "id-token") {
					t.Fatalf("err = %v, want one that says how to get a token", err)
				}
				return
			}
			if err != nil || tok != tt.want || src != tt.wantSource {
				t.Fatalf("got %q from %q, %v", tok, src, err)
			}
		})
	}
	if gotAudience != "sigstore" {
		t.Errorf("audience = %q, want sigstore", gotAudience)
	}

	t.Run("refused request token", func(t *testing.T) {
		bad := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": actions["ACTIONS_ID_TOKEN_REQUEST_URL"], "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "wrong"}
		_, _, err := IdentityToken(context.Background(), "", env(bad), nil)
		if err == nil || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err = %v: want a refusal that does not repeat the request token", err)
		}
	})
}
