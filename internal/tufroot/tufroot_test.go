package tufroot_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/tufroot"
	"github.com/hallmark-dev/hallmark/internal/tufroot/tuftest"
)

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// Two real trusted roots: the public-good one and the one gh ships for its
// tests.
func roots(tb testing.TB) (first, second []byte) {
	tb.Helper()
	return readFile(tb, "../../testdata/realworld/trusted-roots/public-good-sigstore-tuf-5.0.1.json"),
		readFile(tb, "../../testdata/realworld/gh/trusted_root.json")
}

func TestFetchAndLoad(t *testing.T) {
	first, second := roots(t)
	repo := tuftest.New(t, first)
	cache := t.TempDir()
	o := tufroot.Options{URL: repo.URL, Root: repo.InitialRoot(), CacheDir: cache}

	res, err := tufroot.Fetch(t.Context(), o)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(res.TrustedRoot, first) || res.RootVersion != 1 || res.URL != repo.URL {
		t.Fatalf("Fetch = version %d from %s, %d bytes; want version 1 from %s, the published target", res.RootVersion, res.URL, len(res.TrustedRoot), repo.URL)
	}
	if time.Until(res.Expires) < 23*time.Hour || time.Until(res.Expires) > 25*time.Hour {
		t.Errorf("Expires = %v, want the timestamp's expiry, a day from now", res.Expires)
	}
	if cur, err := tufroot.Current(cache); err != nil || cur != repo.URL {
		t.Errorf("Current = %q, %v; want %s", cur, err, repo.URL)
	}

	// A new target and a rotated timestamp key: the next refresh walks
	// from the cached root to root 2, with no anchor given.
	repo.Publish(t, second, time.Now().Add(time.Hour))
	repo.RotateRoot(t)
	res, err = tufroot.Fetch(t.Context(), tufroot.Options{URL: repo.URL, CacheDir: cache})
	if err != nil {
		t.Fatalf("Fetch after rotation: %v", err)
	}
	if !bytes.Equal(res.TrustedRoot, second) || res.RootVersion != 2 {
		t.Fatalf("Fetch after rotation = version %d; want version 2 with the new target", res.RootVersion)
	}

	// Offline: the repository is gone, the cache answers.
	repo.Close()
	before := repo.Requests()
	res, err = tufroot.Load(tufroot.Options{URL: repo.URL, CacheDir: cache})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !bytes.Equal(res.TrustedRoot, second) || res.RootVersion != 2 {
		t.Errorf("Load = version %d, want the last fetched root and target", res.RootVersion)
	}
	if repo.Requests() != before {
		t.Errorf("Load made %d requests", repo.Requests()-before)
	}
}

func TestFetchFailures(t *testing.T) {
	first, second := roots(t)
	tests := []struct {
		name string
		// prepare runs after a first successful fetch into the cache when
		// cached is set.
		cached  bool
		prepare func(t *testing.T, repo *tuftest.Repo) tufroot.Options
		want    error
	}{
		{name: "expired timestamp", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Publish(t, second, time.Now().Add(-time.Hour))
			return tufroot.Options{Root: repo.InitialRoot()}
		}, want: tufroot.ErrExpired},
		{name: "expired timestamp over a good cache", cached: true, prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Publish(t, second, time.Now().Add(-time.Hour))
			return tufroot.Options{}
		}, want: tufroot.ErrExpired},
		{name: "tampered target", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Tamper(second)
			return tufroot.Options{Root: repo.InitialRoot()}
		}, want: tufroot.ErrInvalid},
		{name: "tampered new target over a good cache", cached: true, prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Publish(t, second, time.Now().Add(time.Hour))
			repo.Tamper(first)
			return tufroot.Options{}
		}, want: tufroot.ErrInvalid},
		{name: "another repository's root", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			return tufroot.Options{Root: tuftest.New(t, first).InitialRoot()}
		}, want: tufroot.ErrInvalid},
		{name: "not a root", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			return tufroot.Options{Root: []byte(`{"signed":{}}`)}
		}, want: tufroot.ErrInvalid},
		{name: "no anchor for a private repository", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			return tufroot.Options{}
		}, want: tufroot.ErrNoCache},
		{name: "unreachable", prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Close()
			return tufroot.Options{Root: repo.InitialRoot()}
		}, want: tufroot.ErrUnreachable},
		{name: "unreachable over a good cache", cached: true, prepare: func(t *testing.T, repo *tuftest.Repo) tufroot.Options {
			repo.Close()
			return tufroot.Options{}
		}, want: tufroot.ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := tuftest.New(t, first)
			cache := t.TempDir()
			if tt.cached {
				if _, err := tufroot.Fetch(t.Context(), tufroot.Options{URL: repo.URL, Root: repo.InitialRoot(), CacheDir: cache}); err != nil {
					t.Fatal(err)
				}
			}
			o := tt.prepare(t, repo)
			o.URL, o.CacheDir = repo.URL, cache
			_, err := tufroot.Fetch(t.Context(), o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Fetch error = %v, want %v", err, tt.want)
			}
			t.Logf("%v", err)
			// A failed refresh changes nothing: what was cached still
			// loads, and nothing was cached where nothing was.
			res, lerr := tufroot.Load(tufroot.Options{URL: repo.URL, CacheDir: cache})
			if tt.cached {
				if lerr != nil || !bytes.Equal(res.TrustedRoot, first) {
					t.Errorf("after the failed refresh Load = %v; want the earlier trusted root", lerr)
				}
			} else if !errors.Is(lerr, tufroot.ErrNoCache) {
				t.Errorf("after the failed refresh Load error = %v, want ErrNoCache", lerr)
			}
			if cur, _ := tufroot.Current(cache); !tt.cached && cur != tufroot.PublicGoodURL {
				t.Errorf("a failed first refresh recorded %s as current", cur)
			}
			left, _ := filepath.Glob(filepath.Join(cache, ".refresh-*"))
			if len(left) > 0 {
				t.Errorf("left behind %v", left)
			}
		})
	}
}

func TestLoadFailures(t *testing.T) {
	first, _ := roots(t)
	t.Run("nothing cached", func(t *testing.T) {
		_, err := tufroot.Load(tufroot.Options{URL: "https://tuf.example.com", CacheDir: t.TempDir()})
		if !errors.Is(err, tufroot.ErrNoCache) {
			t.Fatalf("Load error = %v, want ErrNoCache", err)
		}
	})
	tests := []struct {
		name string
		// change edits the repository's cache folder.
		change func(t *testing.T, dir string)
		want   error
	}{
		{name: "tampered target", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "targets", tufroot.TargetName)
			data := readFile(t, p)
			os.WriteFile(p, bytes.Replace(data, []byte("sigstore"), []byte("sigstorf"), 1), 0o644)
		}, want: tufroot.ErrInvalid},
		{name: "target missing", change: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "targets", tufroot.TargetName))
		}, want: tufroot.ErrNoCache},
		{name: "timestamp missing", change: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "timestamp.json"))
		}, want: tufroot.ErrNoCache},
		{name: "tampered targets metadata", change: func(t *testing.T, dir string) {
			p := filepath.Join(dir, "targets.json")
			data := readFile(t, p)
			os.WriteFile(p, bytes.Replace(data, []byte(`"length":`), []byte(`"length": 1`), 1), 0o644)
		}, want: tufroot.ErrInvalid},
		{name: "root replaced by another repository's", change: func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "root.json"), tuftest.New(t, first).InitialRoot(), 0o644)
		}, want: tufroot.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := tuftest.New(t, first)
			cache := t.TempDir()
			res, err := tufroot.Fetch(t.Context(), tufroot.Options{URL: repo.URL, Root: repo.InitialRoot(), CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, res.Dir)
			if _, err := tufroot.Load(tufroot.Options{URL: repo.URL, CacheDir: cache}); !errors.Is(err, tt.want) {
				t.Fatalf("Load error = %v, want %v", err, tt.want)
			}
		})
	}
}

// The cache outlives its metadata: once the timestamp expires, Load
// refuses what it holds until a refresh.
func TestLoadExpired(t *testing.T) {
	first, _ := roots(t)
	repo := tuftest.New(t, first)
	expires := time.Now().Add(2 * time.Second)
	repo.Publish(t, first, expires)
	cache := t.TempDir()
	o := tufroot.Options{URL: repo.URL, Root: repo.InitialRoot(), CacheDir: cache}
	if _, err := tufroot.Fetch(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(expires.Truncate(time.Second).Add(1100 * time.Millisecond)))
	_, err := tufroot.Load(tufroot.Options{URL: repo.URL, CacheDir: cache})
	if !errors.Is(err, tufroot.ErrExpired) {
		t.Fatalf("Load error = %v, want ErrExpired", err)
	}
	repo.Publish(t, first, time.Now().Add(time.Hour))
	if _, err := tufroot.Fetch(t.Context(), tufroot.Options{URL: repo.URL, CacheDir: cache}); err != nil {
		t.Fatalf("refresh after expiry: %v", err)
	}
	if _, err := tufroot.Load(tufroot.Options{URL: repo.URL, CacheDir: cache}); err != nil {
		t.Fatalf("Load after the refresh: %v", err)
	}
}

func TestOptions(t *testing.T) {
	for _, u := range []string{"ftp://example.com", "example.com/tuf", "https://"} {
		if _, err := tufroot.Load(tufroot.Options{URL: u, CacheDir: t.TempDir()}); err == nil {
			t.Errorf("Load accepted URL %q", u)
		}
	}
	t.Setenv("HALLMARK_CACHE", "/somewhere")
	if d, err := tufroot.DefaultCacheDir(); err != nil || d != "/somewhere/tuf" {
		t.Errorf("DefaultCacheDir = %q, %v; want /somewhere/tuf", d, err)
	}
	if cur, err := tufroot.Current(t.TempDir()); err != nil || cur != tufroot.PublicGoodURL {
		t.Errorf("Current of an empty cache = %q, %v; want the public-good repository", cur, err)
	}
}
