package githubapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrForbidden: the token may not do this (401, 403), such as a job
	// without `permissions: attestations: write`.
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such repository, or none the token can see, or no
	// attestation for the digest (404).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: GitHub refused the request's content (422).
	ErrInvalid = errors.New("refused as invalid")
)

// APIError is an answer of the API other than success.
type APIError struct {
	// Op says what was asked, such as "creating an attestation in acme/app".
	Op string
	// URL is the request's URL.
	URL string
	// Status is the HTTP status code; Message and DocumentationURL are
	// GitHub's, when the answer had them.
	Status           int
	Message          string
	DocumentationURL string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s: %s answered %d %s", e.Op, e.URL, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches ErrForbidden, ErrNotFound and ErrInvalid by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrForbidden:
		return e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrInvalid:
		return e.Status == http.StatusUnprocessableEntity
	}
	return false
}

// Client calls one GitHub's REST API.
type Client struct {
	api   *url.URL
	token string
	http  *http.Client
	// MaxPages bounds how many pages a list follows (default 10, 1,000
	// attestations at 100 a page).
	MaxPages int
}

// maxAnswer bounds one answer of the API: a page of 100 bundles.
const maxAnswer = 64 << 20

// New returns a client of the API at apiURL (such as
// https://api.github.com) that authenticates with token, if any. A nil
// httpClient means one with a 30 s timeout.
func New(apiURL, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want such as https://api.github.com", apiURL)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	// Never follow a redirect to another host with the token.
	hc := *httpClient
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if req.URL.Host != u.Host {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return &Client{api: u, token: token, http: &hc, MaxPages: 10}, nil
}

// Created is an attestation the store took.
type Created struct {
	// ID is GitHub's id of the attestation.
	ID int64
}

// URL is where the attestation is shown, SERVER/OWNER/REPO/attestations/ID,
// as actions/attest names it.
func (c Created) URL(serverURL, repo string) string {
	return strings.TrimSuffix(serverURL, "/") + "/" + repo + "/attestations/" + strconv.FormatInt(c.ID, 10)
}

// CreateAttestation stores bundle (a Sigstore bundle, JSON) as an
// attestation of the repository OWNER/REPO:
// POST /repos/{owner}/{repo}/attestations with {"bundle": BUNDLE}.
func (c *Client) CreateAttestation(ctx context.Context, repo string, bundle []byte) (Created, error) {
	owner, name, err := SplitRepository(repo)
	if err != nil {
		return Created{}, fmt.Errorf("repository %q: %w", repo, err)
	}
	if !json.Valid(bundle) {
		return Created{}, errors.New("the bundle is not JSON")
	}
	body, err := json.Marshal(map[string]json.RawMessage{"bundle": bundle})
	if err != nil {
		return Created{}, err
	}
	op := "creating an attestation in " + repo
	u := c.endpoint("repos", owner, name, "attestations")
	data, _, err := c.do(ctx, op, http.MethodPost, u, body, http.StatusCreated)
	if err != nil {
		return Created{}, err
	}
	var out struct {
		ID *int64 `json:"id"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.ID == nil {
		return Created{}, fmt.Errorf("%s: %s answered 201 without an attestation id", op, u)
	}
	return Created{ID: *out.ID}, nil
}

// Listed is one attestation of a list.
type Listed struct {
	// Bundle is the Sigstore bundle, JSON; empty when GitHub gave only a
	// BundleURL.
	Bundle       json.RawMessage
	BundleURL    string
	RepositoryID int64
}

// ListAttestations lists the attestations of the repository OWNER/REPO
// whose subject has digest (sha256:HEX): GET
// /repos/{owner}/{repo}/attestations/{digest}?per_page=100, following the
// Link header's rel="next" cursor for at most MaxPages pages. No
// attestation is an error matching ErrNotFound, as GitHub answers it.
func (c *Client) ListAttestations(ctx context.Context, repo, digest string) ([]Listed, error) {
	owner, name, err := SplitRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repo, err)
	}
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok || alg == "" || hex == "" || strings.ContainsAny(digest, "/?#%") {
		return nil, fmt.Errorf("digest %q: want ALG:HEX", digest)
	}
	op := "listing the attestations of " + digest + " in " + repo
	next := c.endpoint("repos", owner, name, "attestations", digest) + "?per_page=100"
	var out []Listed
	for page := 0; next != ""; page++ {
		if page == c.MaxPages {
			return nil, fmt.Errorf("%s: more than %d pages", op, c.MaxPages)
		}
		data, header, err := c.do(ctx, op, http.MethodGet, next, nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		var list struct {
			Attestations []struct {
				Bundle       json.RawMessage `json:"bundle"`
				BundleURL    string          `json:"bundle_url"`
				RepositoryID int64           `json:"repository_id"`
			} `json:"attestations"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%s: %s answered what is not a list of attestations: %v", op, next, err)
		}
		for _, a := range list.Attestations {
			l := Listed{BundleURL: a.BundleURL, RepositoryID: a.RepositoryID}
			if len(a.Bundle) > 0 && !bytes.Equal(a.Bundle, []byte("null")) {
				l.Bundle = a.Bundle
			}
			out = append(out, l)
		}
		if next, err = c.nextPage(header.Get("Link")); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	return out, nil
}

// nextPage reads the rel="next" URL of a Link header; it must be on the
// API's own host, which gets the token.
func (c *Client) nextPage(link string) (string, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok {
			continue
		}
		isNext := false
		for _, p := range strings.Split(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); k == "rel" {
				for _, r := range strings.Fields(strings.Trim(v, `"`)) {
					isNext = isNext || r == "next"
				}
			}
		}
		if !isNext {
			continue
		}
		target = strings.TrimSpace(target)
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			return "", fmt.Errorf("malformed Link header")
		}
		u, err := url.Parse(target[1 : len(target)-1])
		if err != nil {
			return "", fmt.Errorf("malformed Link header: %v", err)
		}
		u = c.api.ResolveReference(u)
		if u.Scheme != c.api.Scheme || u.Host != c.api.Host {
			return "", fmt.Errorf("the next page is on %s, not on the API's host %s", u.Host, c.api.Host)
		}
		return u.String(), nil
	}
	return "", nil
}

func (c *Client) endpoint(parts ...string) string {
	esc := make([]string, len(parts))
	for i, p := range parts {
		esc[i] = url.PathEscape(p)
	}
	return c.api.String() + "/" + strings.Join(esc, "/")
}

// do sends one request and returns the answer's body when its status is
// want, else an *APIError.
func (c *Client) do(ctx context.Context, op, method, u string, body []byte, want int) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "hallmark")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%s: %s %s: %w", op, method, u, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading the answer of %s: %w", op, u, err)
	}
	if len(data) > maxAnswer {
		return nil, nil, fmt.Errorf("%s: the answer of %s is larger than %d bytes", op, u, maxAnswer)
	}
	if res.StatusCode != want {
		e := &APIError{Op: op, URL: u, Status: res.StatusCode}
		var msg struct {
			Message          string `json:"message"`
			DocumentationURL string `json:"documentation_url"`
		}
		if json.Unmarshal(data, &msg) == nil {
			e.Message, e.DocumentationURL = msg.Message, msg.DocumentationURL
		}
		return nil, nil, e
	}
	return data, res.Header, nil
}
