package faultproxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/faultproxy"
)

func backend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Location", "http://"+r.Host+"/next")
		io.WriteString(w, "echo:"+r.Method+" "+r.URL.Path+" "+string(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string, timeout time.Duration) (*http.Response, string, error) {
	t.Helper()
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return res, string(data), err
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name      string
		rule      faultproxy.Rule
		wantCode  int
		wantBody  string
		wantErr   func(error) bool
		forwarded int
	}{
		{name: "pass through", rule: faultproxy.Rule{Path: "/other", Fault: faultproxy.Hang()}, wantCode: 200, wantBody: "echo:POST /api/x hello", forwarded: 1},
		{name: "refuse", rule: faultproxy.Rule{Fault: faultproxy.Refuse()},
			wantErr: func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{name: "hang", rule: faultproxy.Rule{Fault: faultproxy.Hang()},
			wantErr: func(err error) bool { return strings.Contains(err.Error(), "Client.Timeout") }},
		{name: "delay", rule: faultproxy.Rule{Fault: faultproxy.Delay(100 * time.Millisecond)}, wantCode: 200, wantBody: "echo:POST /api/x hello", forwarded: 1},
		{name: "5xx", rule: faultproxy.Rule{Method: "POST", Fault: faultproxy.Status(503)}, wantCode: 503},
		{name: "429", rule: faultproxy.Rule{Fault: faultproxy.TooManyRequests("7")}, wantCode: 429},
		{name: "truncated", rule: faultproxy.Rule{Fault: faultproxy.Truncate()}, wantCode: 200,
			wantErr: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, forwarded: 1},
		{name: "rewritten answer", rule: faultproxy.Rule{Fault: faultproxy.RewriteResponse(func(_ *http.Request, b []byte) []byte {
			return []byte(strings.ToUpper(string(b)))
		})}, wantCode: 200, wantBody: "ECHO:POST /API/X HELLO", forwarded: 1},
		{name: "rewritten request", rule: faultproxy.Rule{Fault: faultproxy.RewriteRequest(func(_ *http.Request, b []byte) []byte {
			return []byte("other bytes")
		})}, wantCode: 200, wantBody: "echo:POST /api/x other bytes", forwarded: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.Start(t, backend(t).URL)
			p.Inject(tt.rule)
			res, body, err := post(t, p.URL()+"/api/x", "hello", 500*time.Millisecond)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("err = %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.wantCode != 0 && res != nil && res.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if tt.name == "429" && res.Header.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
			}
			if got := p.Forwarded("POST", "/api"); got != tt.forwarded {
				t.Errorf("forwarded %d, want %d", got, tt.forwarded)
			}

			// The fault clears: the next request passes.
			p.Clear()
			if _, body, err := post(t, p.URL()+"/api/x", "again", 2*time.Second); err != nil || body != "echo:POST /api/x again" {
				t.Fatalf("after Clear: %q, %v", body, err)
			}
		})
	}
}

func TestTimesAndCounts(t *testing.T) {
	p := faultproxy.Start(t, backend(t).URL)
	p.Inject(faultproxy.Rule{Method: "POST", Path: "/api", Times: 2, Fault: faultproxy.Status(500)})
	var codes []int
	for range 3 {
		res, _, err := post(t, p.URL()+"/api/x", "", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.StatusCode)
	}
	if codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("codes %v, want 500 500 200", codes)
	}
	if p.Seen("POST", "/api") != 3 || p.Forwarded("POST", "/api") != 1 || p.Seen("GET", "") != 0 {
		t.Fatalf("seen %d, forwarded %d", p.Seen("POST", "/api"), p.Forwarded("POST", "/api"))
	}
	p.Inject(faultproxy.Rule{Method: "POST", After: 1, Times: 1, Fault: faultproxy.Status(502)})
	codes = codes[:0]
	for range 3 {
		res, _, err := post(t, p.URL()+"/api/x", "", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 502 || codes[2] != 200 {
		t.Fatalf("codes %v, want 200 502 200 (After 1, Times 1)", codes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.WaitSeen(ctx, "POST", "/api", 7); err == nil {
		t.Fatal("WaitSeen returned before the fourth request")
	}
}

func TestHostIsKept(t *testing.T) {
	p := faultproxy.Start(t, backend(t).URL)
	res, _, err := post(t, p.URL()+"/v2/x", "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if loc := res.Header.Get("Location"); loc != p.URL()+"/next" {
		t.Fatalf("Location %q: want the proxy's address, so follow-up requests come back through it", loc)
	}
}
