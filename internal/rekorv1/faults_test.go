package rekorv1_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/faultproxy"
	"github.com/hallmark-dev/hallmark/internal/rekorv1"
	"github.com/hallmark-dev/hallmark/internal/rekorv1/rekorv1test"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestFindFaults puts a fault proxy between the client and the real log:
// every misbehaviour ends in an error naming the log, within the client's
// bounds, and never in an entry.
func TestFindFaults(t *testing.T) {
	sb := sandboxtest.Start(t)
	log := rekorv1test.Start(t)
	s := sign(t, sb, statement(artifact, t.Name()))
	uuid, _ := log.Upload(t, "intoto", "0.0.2", s.envelope(true), s.certPEM, s.payload)
	uuid = uuid[len(uuid)-64:]
	envs, err := rekorv1.ParseEnvelopes(s.envelope(false)) // found through the index
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t, log.URL)
	newClient := func(t *testing.T) *rekorv1.Client {
		t.Helper()
		c, err := rekorv1.New(p.URL(), rekorv1.WithTimeout(3*time.Second), rekorv1.WithRequestTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if found, err := newClient(t).Find(t.Context(), envs[0]); err != nil || len(found) != 1 {
		t.Fatalf("through the proxy without faults: %v, %v", found, err)
	}
	const index, entry = "/api/v1/index/retrieve", "/api/v1/log/entries/"
	huge := func(*http.Request, []byte) []byte {
		return append(append([]byte(`["`), bytes.Repeat([]byte("a"), rekorv1.MaxResponseSize)...), `"]`...)
	}
	renamed := func(_ *http.Request, body []byte) []byte {
		return bytes.ReplaceAll(body, []byte(uuid), []byte(strings.Repeat("0", 64)))
	}
	tests := []struct {
		name  string
		rule  faultproxy.Rule
		want  error  // errors.Is, when set
		words string // in the message
	}{
		{name: "index-hangs", rule: faultproxy.Rule{Path: index, Fault: faultproxy.Hang()}, words: "no answer in time"},
		{name: "entry-hangs", rule: faultproxy.Rule{Path: entry, Fault: faultproxy.Hang()}, words: "no answer in time"},
		{name: "index-fails", rule: faultproxy.Rule{Path: index, Fault: faultproxy.Status(http.StatusInternalServerError)}, words: "answered 500"},
		{name: "index-answer-too-large", rule: faultproxy.Rule{Path: index, Fault: faultproxy.RewriteResponse(huge)}, want: rekorv1.ErrResponseTooLarge},
		{name: "entry-cut-short", rule: faultproxy.Rule{Path: entry, Fault: faultproxy.Truncate()}, words: "fetching entry"},
		{name: "answer-for-another-entry", rule: faultproxy.Rule{Path: entry, Fault: faultproxy.RewriteResponse(renamed)}, words: "the answer is entry"},
		{name: "refused", rule: faultproxy.Rule{Fault: faultproxy.Refuse()}, words: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.Inject(tc.rule)
			defer p.Clear()
			start := time.Now()
			found, err := newClient(t).Find(t.Context(), envs[0])
			took := time.Since(start)
			t.Logf("%s after %s", err, took.Round(time.Millisecond))
			var ce *verifier.CheckError
			switch {
			case err == nil:
				t.Fatalf("found %v, want an error", found)
			case errors.As(err, &ce):
				t.Fatalf("a verdict (%v), want an error: the log could not be asked", err)
			case !strings.Contains(err.Error(), "rekor "+p.URL()+": "):
				t.Fatalf("the error does not name the log: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("want %v, got %v", tc.want, err)
			case !strings.Contains(err.Error(), tc.words):
				t.Fatalf("the error does not say %q: %v", tc.words, err)
			case took > 30*time.Second:
				t.Fatalf("took %s: the bounds did not hold", took)
			}
		})
	}
}
