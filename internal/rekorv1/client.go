package rekorv1

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/go-openapi/runtime"
	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	genclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/client/index"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	dssev001 "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	intotov001 "github.com/sigstore/rekor/pkg/types/intoto/v0.0.1"
	intotov002 "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2"

	"github.com/hallmark-dev/hallmark/verifier"
)

// PublicGoodURL is the Rekor v1 log of Sigstore's public-good instance,
// where slsa-github-generator logged its envelopes.
const PublicGoodURL = "https://rekor.sigstore.dev"

// Defaults of the options.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultRequestTimeout = 20 * time.Second
	DefaultMaxEntries     = 16
	// MaxResponseSize bounds every answer: an entry of the largest
	// envelope the verifier reads, encoded, with room to spare.
	MaxResponseSize = 3 * verifier.MaxBundleSize
)

// ErrNoEntry: the log holds no entry that stands for the envelope.
var ErrNoEntry = errors.New("no log entry for the envelope")

// ErrResponseTooLarge: an answer was larger than MaxResponseSize.
var ErrResponseTooLarge = errors.New("rekor answer too large")

// Client asks one Rekor v1 log for the entries of bare envelopes.
type Client struct {
	url  string
	api  *genclient.Rekor
	opts options
}

type options struct {
	timeout, requestTimeout time.Duration
	maxEntries              int
	userAgent               string
}

// Option tunes a Client.
type Option func(*options)

// WithTimeout bounds a whole Find, every request included; DefaultTimeout
// by default.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRequestTimeout bounds each request; DefaultRequestTimeout by default.
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.requestTimeout = d } }

// WithMaxEntries bounds how many entries Find fetches and matches for one
// envelope; DefaultMaxEntries by default.
func WithMaxEntries(n int) Option { return func(o *options) { o.maxEntries = n } }

// WithUserAgent sets the User-Agent of every request.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// New returns a client of the Rekor v1 log at rekorURL (https, or http for
// a log on this machine), such as PublicGoodURL.
func New(rekorURL string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, requestTimeout: DefaultRequestTimeout, maxEntries: DefaultMaxEntries, userAgent: "hallmark"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 || o.requestTimeout <= 0 || o.maxEntries <= 0 {
		return nil, errors.New("rekor: timeouts and the entry limit must be positive")
	}
	u, err := url.Parse(rekorURL)
	if err != nil {
		return nil, fmt.Errorf("rekor URL %q: %w", rekorURL, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("rekor URL %q: want https://HOST[/PATH] (http only for a log on this machine), such as %s", rekorURL, PublicGoodURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("rekor URL %q: plain http only to a log on this machine (localhost, 127.0.0.1, ::1); use https", rekorURL)
	}
	base := strings.TrimRight(u.Path, "/") + genclient.DefaultBasePath
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = o.requestTimeout
	hc := &http.Client{
		Transport: limitTransport{next: tr, max: MaxResponseSize},
		Timeout:   o.requestTimeout,
		// The API does not redirect; a redirect would take the lookup to
		// a log the user did not name.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	rt := httptransport.NewWithClient(u.Host, base, []string{u.Scheme}, hc)
	rt.Consumers["application/json"] = runtime.JSONConsumer()
	rt.Producers["application/json"] = runtime.JSONProducer()
	rt.DefaultAuthentication = userAgent(o.userAgent)
	return &Client{url: strings.TrimRight(u.String(), "/"), api: genclient.New(rt, strfmt.Default), opts: o}, nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// URL is the log's URL, as errors name it.
func (c *Client) URL() string { return c.url }

// Find returns the log entries that stand for env, each made into a bundle
// (see NewEntry), most specific search first: when env carries its
// certificate, the entries it makes (as slsa-verifier looks them up);
// otherwise, or when there are none, the entries the log's index lists
// under the payload's SHA-256, at most the client's entry limit. When the
// log answers but holds none, the error is a *verifier.CheckError of
// verifier.CheckTlog wrapping ErrNoEntry, saying what was looked for and
// what was found; any other error means the log could not be asked, and
// names its URL.
func (c *Client) Find(ctx context.Context, env Envelope) ([]Entry, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.timeout)
	defer cancel()
	var found []Entry
	var rejected []string
	seen := map[string]bool{}
	consider := func(uuid string, e models.LogEntryAnon, via string) {
		if seen[uuid] {
			return
		}
		seen[uuid] = true
		en, err := NewEntry(env, uuid, e)
		if err != nil {
			rejected = append(rejected, uuid+": "+err.Error())
			return
		}
		en.Via = via
		found = append(found, en)
	}
	if env.Cert != nil {
		got, err := c.searchProposed(ctx, env)
		if err != nil {
			return nil, err
		}
		for _, le := range got {
			for uuid, e := range le {
				if len(seen) == c.opts.maxEntries {
					break
				}
				if entryID.MatchString(uuid) {
					consider(uuidOf(uuid), e, ViaProposedEntry)
				}
			}
		}
	}
	var listed int
	if len(found) == 0 {
		uuids, err := c.searchIndex(ctx, env)
		if err != nil {
			return nil, err
		}
		listed = len(uuids)
		for _, id := range uuids[:min(len(uuids), c.opts.maxEntries)] {
			uuid := uuidOf(id)
			if seen[uuid] {
				continue
			}
			e, err := c.entry(ctx, id)
			if err != nil {
				return nil, err
			}
			consider(uuid, e, ViaIndex)
		}
	}
	if len(found) > 0 {
		return found, nil
	}
	sum := sha256.Sum256(env.Payload)
	got := "none"
	switch {
	case len(rejected) > 0:
		got = "only entries that stand for another envelope: " + strings.Join(rejected, "; ")
	case listed > 0:
		got = fmt.Sprintf("%d listed entries, none of them fetched", listed)
	}
	if listed > c.opts.maxEntries {
		got += fmt.Sprintf("; %d more listed were not fetched (limit %d)", listed-c.opts.maxEntries, c.opts.maxEntries)
	}
	return nil, &verifier.CheckError{
		Check: verifier.CheckTlog,
		Want:  fmt.Sprintf("an entry on the Rekor log %s for this envelope (payload sha256:%s)", c.url, hex.EncodeToString(sum[:])),
		Got:   got,
		Err:   ErrNoEntry,
		Fix:   "check that --rekor-url names the log the envelope was signed to (slsa-github-generator used " + PublicGoodURL + ")",
	}
}

// searchProposed asks the log for the entries env and its certificate make
// as intoto v0.0.1, intoto v0.0.2 and dsse v0.0.1 entries: the log
// canonicalizes each and looks up its leaf. Kinds a log cannot make from
// them are left out of the query.
func (c *Client) searchProposed(ctx context.Context, env Envelope) ([]models.LogEntry, error) {
	props := types.ArtifactProperties{ArtifactBytes: env.Raw, PublicKeyBytes: [][]byte{env.Cert}}
	var proposed []models.ProposedEntry
	for _, kv := range []struct{ kind, version string }{
		{"intoto", intotov001.APIVERSION}, {"intoto", intotov002.APIVERSION}, {"dsse", dssev001.APIVERSION},
	} {
		pe, err := types.NewProposedEntry(ctx, kv.kind, kv.version, props)
		if err == nil {
			proposed = append(proposed, pe)
		}
	}
	if len(proposed) == 0 {
		return nil, nil
	}
	q := &models.SearchLogQuery{}
	q.SetEntries(proposed)
	params := entries.NewSearchLogQueryParamsWithContext(ctx).WithEntry(q)
	resp, err := c.api.Entries.SearchLogQuery(params)
	var bad *entries.SearchLogQueryBadRequest
	var unprocessable *entries.SearchLogQueryUnprocessableEntity
	switch {
	case errors.As(err, &bad), errors.As(err, &unprocessable):
		// A log that cannot canonicalize one of the kinds refuses the
		// whole query; the index search follows.
		return nil, nil
	case err != nil:
		return nil, c.requestError("searching for the envelope's entries", err)
	}
	return resp.GetPayload(), nil
}

// searchIndex lists the entries the log's index holds under the SHA-256
// of env's payload.
func (c *Client) searchIndex(ctx context.Context, env Envelope) ([]string, error) {
	sum := sha256.Sum256(env.Payload)
	params := index.NewSearchIndexParamsWithContext(ctx).WithQuery(&models.SearchIndex{Hash: "sha256:" + hex.EncodeToString(sum[:])})
	resp, err := c.api.Index.SearchIndex(params)
	if err != nil {
		return nil, c.requestError("searching the index for the envelope's payload hash", err)
	}
	var ids []string
	for _, id := range resp.GetPayload() {
		if !entryID.MatchString(id) {
			return nil, fmt.Errorf("rekor %s: searching the index: %q is not an entry UUID", c.url, id)
		}
		ids = append(ids, strings.ToLower(id))
	}
	return ids, nil
}

// entryID is an entry UUID (the leaf hash, 64 hex digits), or one with
// the 16-digit tree ID of its shard before it.
var entryID = regexp.MustCompile(`^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$`)

// uuidOf is the leaf-hash part of an entry ID.
func uuidOf(id string) string {
	return strings.ToLower(id[max(0, len(id)-64):])
}

// entry fetches one entry and checks that the log answered for it.
func (c *Client) entry(ctx context.Context, id string) (models.LogEntryAnon, error) {
	resp, err := c.api.Entries.GetLogEntryByUUID(entries.NewGetLogEntryByUUIDParamsWithContext(ctx).WithEntryUUID(id))
	if err != nil {
		return models.LogEntryAnon{}, c.requestError("fetching entry "+id, err)
	}
	p := resp.GetPayload()
	if len(p) != 1 {
		return models.LogEntryAnon{}, fmt.Errorf("rekor %s: fetching entry %s: %d entries in the answer, want one", c.url, id, len(p))
	}
	for got, e := range p {
		if !entryID.MatchString(got) || uuidOf(got) != uuidOf(id) {
			return models.LogEntryAnon{}, fmt.Errorf("rekor %s: fetching entry %s: the answer is entry %q", c.url, id, got)
		}
		return e, nil
	}
	panic("unreachable")
}

// requestError names the log and what was asked; a timeout says which
// bounds there are.
func (c *Client) requestError(what string, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("rekor %s: %s: no answer in time (%s a request, %s in all): %w", c.url, what, c.opts.requestTimeout, c.opts.timeout, err)
	}
	return fmt.Errorf("rekor %s: %s: %w", c.url, what, err)
}

// limitTransport cuts every answer body off at max bytes with
// ErrResponseTooLarge.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		// Not the API's error (a proxy's, say): the status is the news.
		defer resp.Body.Close()
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return nil, fmt.Errorf("answered %s: %q", resp.Status, strings.TrimSpace(string(snippet)))
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// userAgent sets the User-Agent header on every request.
type userAgent string

func (ua userAgent) AuthenticateRequest(r runtime.ClientRequest, _ strfmt.Registry) error {
	return r.SetHeaderParam("User-Agent", string(ua))
}
