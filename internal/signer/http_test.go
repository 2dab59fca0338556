package signer

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// server answers each try with the next of answers: a status, 0 to hang
// past any per-try timeout, -1 to cut the body short.
func server(t *testing.T, answers []int, retryAfter string) (*httptest.Server, *atomic.Int32, *[]string) {
	t.Helper()
	var tries atomic.Int32
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(tries.Add(1)) - 1
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(body))
		mu.Unlock()
		code := answers[min(n, len(answers)-1)]
		switch code {
		case 0:
			<-r.Context().Done()
			return
		case -1:
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			io.WriteString(w, "short")
			return
		}
		if code == http.StatusTooManyRequests && retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer")
	}))
	t.Cleanup(srv.Close)
	return srv, &tries, &bodies
}

func TestCallerRetries(t *testing.T) {
	tests := []struct {
		name      string
		answers   []int
		tries     int
		wantCode  int // 0: want an error
		wantTries int
		wantErr   error
	}{
		{name: "5xx then success", answers: []int{503, 502, 200}, tries: 3, wantCode: 200, wantTries: 3},
		{name: "429 then success", answers: []int{429, 200}, tries: 3, wantCode: 200, wantTries: 2},
		{name: "timeout then success", answers: []int{0, 200}, tries: 3, wantCode: 200, wantTries: 2},
		{name: "truncated then success", answers: []int{-1, 200}, tries: 3, wantCode: 200, wantTries: 2},
		{name: "client error is final", answers: []int{401, 200}, tries: 3, wantCode: 401, wantTries: 1},
		{name: "bounded", answers: []int{500, 500, 500, 200}, tries: 3, wantTries: 3},
		{name: "every try times out", answers: []int{0}, tries: 2, wantTries: 2, wantErr: ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, tries, bodies := server(t, tt.answers, "")
			c := &caller{transport: http.DefaultTransport, perTry: 200 * time.Millisecond, tries: tt.tries,
				backoff: 10 * time.Millisecond, deadline: 10 * time.Second, maxBody: 1 << 20}
			r, err := c.do(context.Background(), http.MethodPost, srv.URL, nil, []byte(`{"csr":"x"}`))
			if tt.wantCode == 0 {
				if err == nil {
					t.Fatalf("want an error, got %d", r.status)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), strconv.Itoa(tt.wantTries)+" tries") {
					t.Errorf("err = %v: want the number of tries", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if r.status != tt.wantCode || string(r.body) != "answer" {
					t.Fatalf("got %d %q", r.status, r.body)
				}
			}
			if got := int(tries.Load()); got != tt.wantTries {
				t.Errorf("%d tries, want %d", got, tt.wantTries)
			}
			for i, b := range *bodies {
				if b != `{"csr":"x"}` {
					t.Errorf("try %d sent body %q: the body must be replayed whole", i, b)
				}
			}
		})
	}
}

func TestCallerRetryAfter(t *testing.T) {
	t.Run("honoured", func(t *testing.T) {
		srv, tries, _ := server(t, []int{429, 200}, "1")
		c := &caller{transport: http.DefaultTransport, perTry: time.Second, tries: 3, backoff: 10 * time.Millisecond, deadline: 10 * time.Second, maxBody: 1 << 20}
		start := time.Now()
		if _, err := c.do(context.Background(), http.MethodGet, srv.URL, nil, nil); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %s: Retry-After asked for 1s", waited)
		}
		if tries.Load() != 2 {
			t.Errorf("%d tries, want 2", tries.Load())
		}
	})
	t.Run("past the deadline", func(t *testing.T) {
		srv, tries, _ := server(t, []int{429, 200}, "120")
		c := &caller{transport: http.DefaultTransport, perTry: time.Second, tries: 3, backoff: 10 * time.Millisecond, deadline: 3 * time.Second, maxBody: 1 << 20}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.do(ctx, http.MethodGet, srv.URL, nil, nil)
		if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "retried after 2m0s") {
			t.Fatalf("err = %v, want one that says the server asked for more time than the deadline leaves", err)
		}
		if time.Since(start) > 2*time.Second || tries.Load() != 1 {
			t.Errorf("waited %s and tried %d times: a Retry-After past the deadline ends at once", time.Since(start), tries.Load())
		}
	})
	t.Run("HTTP date", func(t *testing.T) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		h := http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}
		if d, ok := retryAfter(h, now); !ok || d != 7*time.Second {
			t.Fatalf("retryAfter = %s, %v", d, ok)
		}
		if _, ok := retryAfter(http.Header{"Retry-After": {"soon"}}, now); ok {
			t.Fatal("a malformed Retry-After was read")
		}
	})
}

func TestCallerStopsAtTheDeadline(t *testing.T) {
	srv, _, _ := server(t, []int{0}, "")
	c := &caller{transport: http.DefaultTransport, perTry: 300 * time.Millisecond, tries: 100, backoff: 10 * time.Millisecond, deadline: time.Second, maxBody: 1 << 20}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.do(ctx, http.MethodGet, srv.URL, nil, nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("gave up after %s: retries must stop at the deadline", waited)
	}
}

func TestCallerStopsOnCancel(t *testing.T) {
	srv, _, _ := server(t, []int{503}, "")
	ctx, cancel := context.WithCancel(context.Background())
	c := &caller{transport: http.DefaultTransport, perTry: time.Second, tries: 5, backoff: time.Hour, deadline: time.Hour, maxBody: 1 << 20}
	done := make(chan error, 1)
	go func() { _, err := c.do(ctx, http.MethodGet, srv.URL, nil, nil); done <- err }()
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

func TestOptionDefaults(t *testing.T) {
	sc := &root.SigningConfig{}
	st, err := Options{SigningConfig: sc}.settings()
	if err != nil {
		t.Fatal(err)
	}
	if st.deadline != DefaultDeadline || st.timeout != DefaultTimeout || st.retries != DefaultRetries || st.audience != DefaultAudience {
		t.Errorf("defaults: %+v", st)
	}
	if st, err := (Options{SigningConfig: sc, Deadline: time.Second, Timeout: time.Minute}).settings(); err != nil || st.timeout != time.Minute {
		t.Errorf("a timeout longer than the deadline: %v (the deadline bounds every try anyway)", err)
	}
	if _, err := (Options{SigningConfig: sc, Deadline: -time.Second}).settings(); !errors.Is(err, ErrConfig) {
		t.Errorf("negative deadline: err = %v", err)
	}
	if _, err := (Options{}).settings(); !errors.Is(err, ErrConfig) {
		t.Errorf("no signing config: err = %v", err)
	}
}

func TestCallerTimeoutMessages(t *testing.T) {
	srv, _, _ := server(t, []int{0}, "")
	for name, c := range map[string]struct{ perTry, deadline time.Duration }{
		"the deadline cuts a try":            {perTry: time.Second, deadline: 1500 * time.Millisecond},
		"no time left for another try":       {perTry: 400 * time.Millisecond, deadline: 1200 * time.Millisecond},
		"every try times out before the end": {perTry: 200 * time.Millisecond, deadline: 10 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			cl := &caller{transport: http.DefaultTransport, perTry: c.perTry, tries: 3, backoff: 300 * time.Millisecond, deadline: c.deadline, maxBody: 1 << 20}
			ctx, cancel := context.WithTimeout(context.Background(), c.deadline)
			defer cancel()
			_, err := cl.do(ctx, http.MethodGet, srv.URL, nil, nil)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "no answer") {
				t.Fatalf("err = %v: a server that never answers must be said to give no answer", err)
			}
		})
	}
}
