package tufroot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

// TargetName is the TUF target that holds a Sigstore trusted root.
const TargetName = "trusted_root.json"

// PublicGoodURL is the TUF repository of Sigstore's public-good instance,
// whose initial root.json sigstore-go embeds.
const PublicGoodURL = tuf.DefaultMirror

// currentFile, in the cache folder, names the repository Fetch last
// refreshed.
const currentFile = "current.json"

// Errors that classify failures; match them with errors.Is.
var (
	// ErrUnreachable: the repository did not answer, or answered an HTTP
	// error for a file it must serve.
	ErrUnreachable = errors.New("TUF repository unreachable")
	// ErrExpired: metadata is past its expiry date.
	ErrExpired = errors.New("TUF metadata expired")
	// ErrInvalid: metadata or a target does not verify against the trust
	// anchor (wrong signatures, hashes or versions), or is not what it
	// should be.
	ErrInvalid = errors.New("TUF metadata or target does not verify")
	// ErrNoCache: the cache holds nothing (or not all) for the repository.
	ErrNoCache = errors.New("no cached TUF metadata")
)

// Options says which repository, from which trust anchor, cached where.
type Options struct {
	// URL is the repository's base URL. Default: PublicGoodURL.
	URL string
	// Root is the trust anchor for Fetch: the repository's initial
	// root.json, obtained out of band. Default: sigstore-go's embedded
	// root for PublicGoodURL; for another repository, the root.json an
	// earlier Fetch left in the cache. Load always starts from the cached
	// root.json, which the last Fetch verified.
	Root []byte
	// CacheDir holds one folder of metadata per repository. Required.
	CacheDir string
	// HTTPClient fetches the metadata (Fetch only). Default: a client with
	// a one-minute timeout per request.
	HTTPClient *http.Client
}

// Result is a verified trusted root and what vouched for it.
type Result struct {
	// URL is the repository.
	URL string
	// TrustedRoot is the trusted_root.json target, verified.
	TrustedRoot []byte
	// RootVersion is the version of the repository's root.json that
	// signed the metadata.
	RootVersion int64
	// Expires is when the first of the metadata vouching for the target
	// (root, timestamp, snapshot, targets) expires: after it Load fails
	// until Fetch refreshes the cache.
	Expires time.Time
	// Dir is the repository's cache folder.
	Dir string
}

// DefaultCacheDir is $HALLMARK_CACHE/tuf when that is set, else
// hallmark/tuf in the user cache folder ($HOME/.cache on Linux).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("HALLMARK_CACHE"); d != "" {
		return filepath.Join(d, "tuf"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache folder (set HALLMARK_CACHE): %w", err)
	}
	return filepath.Join(d, "hallmark", "tuf"), nil
}

func (o Options) url() (string, error) {
	u := o.URL
	if u == "" {
		u = PublicGoodURL
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return "", fmt.Errorf("TUF repository URL %q: want http(s)://HOST[/PATH]", u)
	}
	return u, nil
}

func (o Options) repoDir(u string) (string, error) {
	if o.CacheDir == "" {
		return "", errors.New("tufroot: no cache folder")
	}
	return filepath.Join(o.CacheDir, tuf.URLToPath(u)), nil
}

// Fetch refreshes the repository's metadata from the network with
// sigstore-go's TUF client and returns its verified trusted root. The
// refresh runs on a copy of the cache, installed only when it verified;
// the repository is then recorded as the current one (Current).
func Fetch(ctx context.Context, o Options) (*Result, error) {
	u, err := o.url()
	if err != nil {
		return nil, err
	}
	dir, err := o.repoDir(u)
	if err != nil {
		return nil, err
	}
	anchor := o.Root
	switch {
	case anchor != nil:
	case u == PublicGoodURL:
		anchor = tuf.DefaultRoot()
	default:
		anchor, err = os.ReadFile(filepath.Join(dir, "root.json"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w for %s, and no initial root.json given: a repository other than the public-good one needs its root.json, obtained out of band", ErrNoCache, u)
		} else if err != nil {
			return nil, fmt.Errorf("reading the cached root.json: %w", err)
		}
	}
	if _, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(anchor); err != nil {
		return nil, fmt.Errorf("%w: the initial root.json is not TUF root metadata: %v", ErrInvalid, err)
	}
	if err := os.MkdirAll(o.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the TUF cache: %w", err)
	}
	work, err := os.MkdirTemp(o.CacheDir, ".refresh-")
	if err != nil {
		return nil, fmt.Errorf("creating the TUF cache: %w", err)
	}
	defer os.RemoveAll(work)
	staged := filepath.Join(work, tuf.URLToPath(u))
	// Start from what the cache holds, so the client's rollback checks
	// compare against the versions seen before.
	if err := copyDir(dir, staged); err != nil {
		return nil, fmt.Errorf("copying the TUF cache: %w", err)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	hc = &http.Client{Timeout: hc.Timeout, Transport: ctxTransport{ctx: ctx, base: hc.Transport}, CheckRedirect: hc.CheckRedirect, Jar: hc.Jar}
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(hc)
	f.SetHTTPUserAgent("hallmark")
	opts := &tuf.Options{Root: anchor, CachePath: work, RepositoryBaseURL: u, Fetcher: f, CacheValidity: tuf.NoCache, Context: ctx}
	c, err := tuf.New(opts)
	if err != nil {
		return nil, classify(ctx, u, err)
	}
	data, err := c.GetTarget(TargetName)
	if err != nil {
		return nil, classify(ctx, u, err)
	}
	// Read back what is about to be installed, as Load will read it.
	res, err := Load(Options{URL: u, CacheDir: work})
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(res.TrustedRoot, data) {
		return nil, fmt.Errorf("%w: the cached %s differs from the one fetched", ErrInvalid, TargetName)
	}
	if err := install(staged, dir, work); err != nil {
		return nil, err
	}
	rec, _ := json.Marshal(map[string]string{"url": u})
	if err := atomicfile.Write(filepath.Join(o.CacheDir, currentFile), rec, 0o644); err != nil {
		return nil, err
	}
	res.Dir = dir
	return res, nil
}

// install replaces dir by staged: the old folder is moved aside into work
// (removed with it) and put back if the new one cannot take its place.
func install(staged, dir, work string) error {
	old := filepath.Join(work, "old")
	hadOld := true
	if err := os.Rename(dir, old); errors.Is(err, fs.ErrNotExist) {
		hadOld = false
	} else if err != nil {
		return fmt.Errorf("replacing the TUF cache: %w", err)
	}
	if err := os.Rename(staged, dir); err != nil {
		if hadOld {
			os.Rename(old, dir)
		}
		return fmt.Errorf("replacing the TUF cache: %w", err)
	}
	return nil
}

// Load returns the trusted root the cache holds for the repository,
// offline: the cached metadata is verified again from the cached root.json
// (signatures, expiry) and the target against its recorded hashes.
func Load(o Options) (*Result, error) {
	u, err := o.url()
	if err != nil {
		return nil, err
	}
	dir, err := o.repoDir(u)
	if err != nil {
		return nil, err
	}
	anchor, err := os.ReadFile(filepath.Join(dir, "root.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for %s in %s", ErrNoCache, u, o.CacheDir)
	} else if err != nil {
		return nil, fmt.Errorf("reading the TUF cache: %w", err)
	}
	cfg, err := config.New(u, anchor)
	if err != nil {
		return nil, fmt.Errorf("TUF repository URL %q: %w", u, err)
	}
	cfg.LocalMetadataDir = dir
	cfg.LocalTargetsDir = filepath.Join(dir, "targets")
	// Read only: nothing is written back, nothing is fetched.
	cfg.DisableLocalCache = true
	cfg.UnsafeLocalMode = true
	cfg.Fetcher = offline{}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: cached root.json for %s: %v", ErrInvalid, u, err)
	}
	if err := up.Refresh(); err != nil {
		return nil, classifyLocal(u, err)
	}
	ti, err := up.GetTargetInfo(TargetName)
	if err != nil {
		return nil, classifyLocal(u, err)
	}
	data, err := os.ReadFile(filepath.Join(cfg.LocalTargetsDir, url.PathEscape(TargetName)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s of %s is not cached", ErrNoCache, TargetName, u)
	} else if err != nil {
		return nil, fmt.Errorf("reading the TUF cache: %w", err)
	}
	if err := ti.VerifyLengthHashes(data); err != nil {
		return nil, fmt.Errorf("%w: cached %s of %s: %v", ErrInvalid, TargetName, u, err)
	}
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		return nil, fmt.Errorf("%w: %s of %s is not a Sigstore trusted root: %v", ErrInvalid, TargetName, u, err)
	}
	tm := up.GetTrustedMetadataSet()
	exp := tm.Root.Signed.Expires
	for _, t := range []time.Time{tm.Timestamp.Signed.Expires, tm.Snapshot.Signed.Expires, tm.Targets[metadata.TARGETS].Signed.Expires} {
		if t.Before(exp) {
			exp = t
		}
	}
	return &Result{URL: u, TrustedRoot: data, RootVersion: tm.Root.Signed.Version, Expires: exp, Dir: dir}, nil
}

// Current is the repository Fetch last refreshed into cacheDir, or
// PublicGoodURL when none is recorded.
func Current(cacheDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(cacheDir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return PublicGoodURL, nil
	} else if err != nil {
		return "", fmt.Errorf("reading the TUF cache: %w", err)
	}
	var rec struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.URL == "" {
		return "", fmt.Errorf("%w: %s names no repository", ErrInvalid, filepath.Join(cacheDir, currentFile))
	}
	return rec.URL, nil
}

// classify names the kind of a failed refresh.
func classify(ctx context.Context, u string, err error) error {
	var exp *metadata.ErrExpiredMetadata
	var dlHTTP *metadata.ErrDownloadHTTP
	var dl *metadata.ErrDownload
	var ue *url.Error
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("fetching from %s: %w", u, ctx.Err())
	case errors.As(err, &exp):
		return fmt.Errorf("%w: %s serves metadata past its expiry (%v); the repository is stale or its answers are being replayed", ErrExpired, u, err)
	case errors.As(err, &dlHTTP):
		return fmt.Errorf("%w: %s answered HTTP %d for %s (is it a TUF repository?)", ErrUnreachable, u, dlHTTP.StatusCode, dlHTTP.URL)
	case errors.As(err, &ue), errors.As(err, &ne), errors.As(err, &dl), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, u, err)
	default:
		return fmt.Errorf("%w: %s: %v", ErrInvalid, u, err)
	}
}

// classifyLocal names the kind of a failed check of the cache.
func classifyLocal(u string, err error) error {
	var exp *metadata.ErrExpiredMetadata
	switch {
	case errors.As(err, &exp):
		return fmt.Errorf("%w: the cached metadata of %s is past its expiry (%v)", ErrExpired, u, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errOffline):
		return fmt.Errorf("%w: the cache of %s is incomplete (%v)", ErrNoCache, u, err)
	default:
		return fmt.Errorf("%w: the cached metadata of %s: %v", ErrInvalid, u, err)
	}
}

var errOffline = errors.New("offline: nothing is fetched")

// offline is a fetcher that fetches nothing.
type offline struct{}

func (offline) DownloadFile(string, int64, time.Duration) ([]byte, error) { return nil, errOffline }

// ctxTransport ties every request to ctx, which go-tuf's fetcher does not.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r.WithContext(t.ctx))
}

// copyDir copies the regular files of src (one level of subfolders, as the
// cache has) to dst; a missing src copies nothing.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == src {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
