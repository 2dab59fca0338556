package toolcache

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cache is shared by every checkout on a machine: a tool's folder name
// is its key, and changing it makes every machine build the tool again.
func TestCachePaths(t *testing.T) {
	cache := "/cache"
	for _, tc := range []struct {
		name, got, want string
	}{
		{"fulcio", Fulcio.Path(cache), "/cache/fulcio-v1.8.8/fulcio"},
		{"rekor-tiles", Rekor.Path(cache), "/cache/rekor-tiles-v2.3.0/posix"},
		{"tsa (flavored)", TSA.Path(cache), "/cache/timestamp-authority-v2.1.3-hallmark1/timestamp-server"},
		{"trillian (tags)", TrillianCreateTree.Path(cache), "/cache/trillian_createtree-v1.7.3-mysql/createtree"},
		{"spire", SPIRE.Path(cache, "spire-server"), "/cache/spire-v1.13.0/spire-server"},
		{"kube-apiserver (flavored)", KubeAPIServer.Dir(cache), "/cache/kube-apiserver-v1.34.2-stamped"},
		{"chains", ChainsController.Path(cache, "controller"), "/cache/tekton-chains-v0.26.3/controller"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: path %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	js, err := SigstoreJS.Path(cache)
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Base(filepath.Dir(js)); !strings.HasPrefix(dir, "sigstore-js-5.0.1-") || len(dir) != len("sigstore-js-5.0.1-")+12 {
		t.Errorf("sigstore-js folder %s, want sigstore-js-5.0.1- and 12 hex digits of its files' digest", dir)
	}
	if filepath.Base(js) != "verify.js" {
		t.Errorf("sigstore-js script %s, want verify.js", js)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("HALLMARK_CACHE", "/somewhere")
	d, err := DefaultDir()
	if err != nil || d != "/somewhere/tools" {
		t.Errorf("DefaultDir with HALLMARK_CACHE = %q, %v; want /somewhere/tools", d, err)
	}
	t.Setenv("HALLMARK_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, err := DefaultDir(); err != nil || d != "/xdg/hallmark/tools" {
		t.Errorf("DefaultDir = %q, %v; want /xdg/hallmark/tools", d, err)
	}
}

// A cached tool is handed back as it is: no build, no lock taken.
func TestEnsureCached(t *testing.T) {
	cache := t.TempDir()
	tool := Tool{Name: "thing", Version: "v1.0.0", Package: "example.invalid/thing", Binary: "thing"}
	if err := os.MkdirAll(filepath.Dir(tool.Path(cache)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tool.Path(cache), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := tool.Ensure(t.Context(), cache, io.Discard)
	if err != nil || got != tool.Path(cache) {
		t.Fatalf("Ensure = %q, %v; want the cached %s", got, err, tool.Path(cache))
	}
	if _, err := os.Stat(filepath.Join(cache, "thing-v1.0.0.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Ensure of a cached tool took its lock (%v)", err)
	}
}

// A failed build leaves nothing in the cache's place for the tool, and says
// which tool failed.
func TestEnsureFailedBuildLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	cache := t.TempDir()
	t.Setenv("GOPROXY", "off")
	tool := Tool{Name: "nothing", Version: "v0.0.1", Package: "example.invalid/nothing", Binary: "nothing"}
	_, err := tool.Ensure(t.Context(), cache, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "installing nothing v0.0.1") {
		t.Fatalf("Ensure of a tool that cannot be fetched: %v; want an error naming it", err)
	}
	entries, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "nothing-v0.0.1.lock" {
			t.Errorf("left %s in the cache after a failed build", e.Name())
		}
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := Lock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v; want it to wait until its context ends", err)
	}
	unlock()
	unlock2, err := Lock(t.Context(), path)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	unlock2()
}

// Callers that install the same program at once build it once, and the
// program lands whole under its folder with nothing else left behind.
func TestInstallOnce(t *testing.T) {
	cache := t.TempDir()
	var mu sync.Mutex
	builds := 0
	in := installation{
		cacheDir: cache, folder: "prog-v1", lock: "prog-v1.lock", name: "prog", version: "v1", how: "once",
		installed: func() bool { _, err := os.Stat(filepath.Join(cache, "prog-v1", "prog")); return err == nil },
		build: func(dir string) error {
			mu.Lock()
			builds++
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			return os.WriteFile(filepath.Join(dir, "prog"), []byte("x"), 0o755)
		},
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = install(t.Context(), in, io.Discard) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if builds != 1 {
		t.Errorf("%d builds, want 1", builds)
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "prog-v1 prog-v1.lock" {
		t.Errorf("cache holds %v, want the program's folder and its lock", names)
	}
}
