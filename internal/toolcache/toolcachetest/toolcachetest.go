// Package toolcachetest hands tests the external programs of the tool cache.
package toolcachetest

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// Tool returns the path of an external tool (cosign, say), installed into
// the shared cache on first use.
func Tool(tb testing.TB, t toolcache.Tool) string {
	tb.Helper()
	cache, err := toolcache.DefaultDir()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := t.Ensure(ctx, cache, Log(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// Log is a progress writer that sends each write to tb's log.
func Log(tb testing.TB) io.Writer { return tbWriter{tb} }

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
