package signer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrNoIdentityToken means no source of an identity token was available.
var ErrNoIdentityToken = errors.New("no identity token: set SIGSTORE_ID_TOKEN, pass --identity-token, " +
	"or run in a GitHub Actions job with `permissions: id-token: write`")

// TokenSource says where IdentityToken found the token, for messages.
type TokenSource string

// Where an identity token can come from, in the order IdentityToken tries.
const (
	FromFlag    TokenSource = "--identity-token"
	FromEnv     TokenSource = "SIGSTORE_ID_TOKEN"
	FromActions TokenSource = "GitHub Actions token request"
)

// IdentityToken returns an OIDC identity token for audience "sigstore": the
// explicit one if given, else $SIGSTORE_ID_TOKEN, else one requested through
// the Actions protocol ($ACTIONS_ID_TOKEN_REQUEST_URL with
// $ACTIONS_ID_TOKEN_REQUEST_TOKEN).
func IdentityToken(ctx context.Context, explicit string, getenv func(string) string, client *http.Client) (string, TokenSource, error) {
	if t := strings.TrimSpace(explicit); t != "" {
		return t, FromFlag, nil
	}
	if t := strings.TrimSpace(getenv("SIGSTORE_ID_TOKEN")); t != "" {
		return t, FromEnv, nil
	}
	reqURL, reqTok := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL == "" || reqTok == "" {
		if getenv("GITHUB_ACTIONS") == "true" {
			return "", "", fmt.Errorf("%w (this job has no ACTIONS_ID_TOKEN_REQUEST_URL: add `permissions: id-token: write`; pull requests from forks never get one)", ErrNoIdentityToken)
		}
		return "", "", ErrNoIdentityToken
	}
	tok, err := requestActionsToken(ctx, reqURL, reqTok, "sigstore", client)
	if err != nil {
		return "", "", err
	}
	return tok, FromActions, nil
}

// requestActionsToken speaks the Actions token-request protocol, as
// @actions/core's getIDToken does.
func requestActionsToken(ctx context.Context, reqURL, reqTok, audience string, client *http.Client) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL")
	}
	q := u.Query()
	q.Set("audience", audience)
	u.RawQuery = q.Encode()
	var lastErr error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "bearer "+reqTok)
		req.Header.Set("Accept", "application/json")
		res, err := client.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("requesting an identity token from GitHub Actions: %w", redactURL(err))
			continue
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
			lastErr = fmt.Errorf("requesting an identity token from GitHub Actions: %s", res.Status)
			continue
		}
		if res.StatusCode != http.StatusOK {
			return "", fmt.Errorf("requesting an identity token from GitHub Actions: %s (is `id-token: write` granted to this job?)", res.Status)
		}
		if err != nil {
			return "", fmt.Errorf("requesting an identity token from GitHub Actions: %w", err)
		}
		var v struct {
			Value string `json:"value"`
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
			return "", fmt.Errorf("requesting an identity token from GitHub Actions: the answer has no token")
		}
		return v.Value, nil
	}
	return "", lastErr
}

// redactURL drops the URL from a client error: the request URL of the
// Actions protocol is per-job and need not reach logs.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// Claims returns the token's claims without checking its signature. Fulcio
// checks the token; callers use these only for facts that end up in the
// certificate too (job_workflow_ref), which the verifier cross-checks.
func Claims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("identity token is not a JWT")
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("identity token payload is not base64url")
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, errors.New("identity token payload is not JSON")
	}
	return c, nil
}
