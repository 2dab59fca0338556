package signer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryTransport(t *testing.T) {
	tests := []struct {
		name      string
		answers   []int // status per try; 0 hangs past the per-try timeout
		attempts  int
		wantCode  int // 0: want an error
		wantTries int
	}{
		{name: "5xx then success", answers: []int{503, 502, 200}, attempts: 3, wantCode: 200, wantTries: 3},
		{name: "429 then success", answers: []int{429, 200}, attempts: 3, wantCode: 200, wantTries: 2},
		{name: "timeout then success", answers: []int{0, 200}, attempts: 3, wantCode: 200, wantTries: 2},
		{name: "client error is final", answers: []int{401, 200}, attempts: 3, wantCode: 401, wantTries: 1},
		{name: "bounded", answers: []int{500, 500, 500, 200}, attempts: 3, wantTries: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(tries.Add(1)) - 1
				body, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(body))
				code := tt.answers[n]
				if code == 0 {
					select {
					case <-r.Context().Done():
					case <-time.After(2 * time.Second):
					}
					return
				}
				w.WriteHeader(code)
				io.WriteString(w, "answer")
			}))
			defer srv.Close()
			rt := &retryTransport{attempts: tt.attempts, perTry: 200 * time.Millisecond, backoff: 10 * time.Millisecond}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(`{"csr":"x"}`)))
			res, err := (&http.Client{Transport: rt}).Do(req)
			if tt.wantCode == 0 {
				if err == nil {
					t.Fatalf("want an error, got %d", res.StatusCode)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != tt.wantCode || string(body) != "answer" {
					t.Fatalf("got %d %q", res.StatusCode, body)
				}
			}
			if got := int(tries.Load()); got != tt.wantTries {
				t.Errorf("%d tries, want %d", got, tt.wantTries)
			}
			for i, b := range bodies {
				if b != `{"csr":"x"}` {
					t.Errorf("try %d sent body %q: the body must be replayed whole", i, b)
				}
			}
		})
	}
}

func TestRetryTransportStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	rt := &retryTransport{attempts: 5, perTry: time.Second, backoff: time.Hour}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	done := make(chan error, 1)
	go func() { _, err := rt.RoundTrip(req); done <- err }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("want an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled request kept waiting for its backoff")
	}
}

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
