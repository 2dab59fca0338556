package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/tufroot"
	"github.com/hallmark-dev/hallmark/verifier"
)

// envTrustedRoot names the trusted root file when --trusted-root is not
// given.
const envTrustedRoot = "HALLMARK_TRUSTED_ROOT"

// resolveTrustedRoot finds the trusted root a verify command checks
// against: the --trusted-root file (flag), else the file
// $HALLMARK_TRUSTED_ROOT names, else the trusted root `hallmark
// trusted-root` last cached, read and re-verified offline (nothing is
// fetched). When the flag does not name it, it says on stderr which one it
// used; with none, the error says how to get one.
func resolveTrustedRoot(flag string, getenv func(string) string, stderr io.Writer) (*root.TrustedRoot, error) {
	if stderr == nil {
		stderr = io.Discard
	}
	path, from := flag, "--trusted-root"
	if path == "" {
		path, from = getenv(envTrustedRoot), "$"+envTrustedRoot
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		tr, err := verifier.LoadTrustedRoot(data)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", from, path, err)
		}
		if flag == "" {
			fmt.Fprintf(stderr, "trusted root: %s (%s)\n", path, from)
		}
		return tr, nil
	}
	cache, err := tufroot.DefaultCacheDir()
	if err != nil {
		return nil, fmt.Errorf("no trusted root: give --trusted-root FILE or set %s (%v)", envTrustedRoot, err)
	}
	url, err := tufroot.Current(cache)
	if err != nil {
		return nil, err
	}
	res, err := tufroot.Load(tufroot.Options{URL: url, CacheDir: cache})
	switch {
	case errors.Is(err, tufroot.ErrNoCache):
		return nil, fmt.Errorf("no trusted root: give --trusted-root FILE, set %s, or run `hallmark trusted-root` once to fetch and cache the public-good one through TUF (`hallmark trusted-root --tuf-url URL --tuf-root ROOT.json` for another Sigstore instance); verification never fetches it itself (%w)", envTrustedRoot, err)
	case errors.Is(err, tufroot.ErrExpired):
		return nil, fmt.Errorf("the trusted root cached from %s can no longer be trusted: run `hallmark trusted-root` to refresh it (%w)", url, err)
	case err != nil:
		return nil, fmt.Errorf("the trusted root cached from %s: %w; run `hallmark trusted-root` to fetch it again", url, err)
	}
	tr, err := verifier.LoadTrustedRoot(res.TrustedRoot)
	if err != nil {
		return nil, fmt.Errorf("the trusted root cached from %s: %w", url, err)
	}
	fmt.Fprintf(stderr, "trusted root: %s of TUF repository %s, cached in %s (root version %d, metadata valid until %s)\n",
		tufroot.TargetName, res.URL, res.Dir, res.RootVersion, res.Expires.UTC().Format(time.RFC3339))
	return tr, nil
}
