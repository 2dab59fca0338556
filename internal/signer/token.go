package signer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
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
//
// go-githubactions' GetIDToken (v1.3.1) speaks the same protocol, but
// Hallmark keeps this one: GetIDToken puts the token service's answer body
// and, on a transport error, the per-job request URL into its errors, which
// reach logs; it does not retry the service's 5xx and 429 answers; and it
// returns an empty token when the answer has none.
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

// DefaultAudience is the audience Fulcio's issuers expect of an identity
// token unless configured otherwise.
const DefaultAudience = "sigstore"

// tokenLeeway is how far a token's nbf may lie in the future, as clocks
// drift; Fulcio's OIDC verifier allows as much.
const tokenLeeway = 5 * time.Minute

// CheckToken reads the token's claims, without checking its signature
// (Fulcio does that), and refuses a token Fulcio would refuse: one that
// has expired, is not yet valid, was issued for another audience than
// audience (DefaultAudience when empty) or names no issuer or subject. It
// runs before Fulcio is asked, so the error says what is wrong instead of
// Fulcio's "error processing the identity token". The token itself never
// appears in an error.
func CheckToken(token, audience string, now time.Time) (map[string]any, error) {
	if audience == "" {
		audience = DefaultAudience
	}
	claims, err := Claims(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if iss, _ := claims["iss"].(string); iss == "" {
		return nil, fmt.Errorf("%w: it names no issuer (iss)", ErrToken)
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return nil, fmt.Errorf("%w: it names no subject (sub)", ErrToken)
	}
	if exp, ok, err := numericDate(claims, "exp"); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: it has no expiry (exp)", ErrToken)
	} else if !now.Before(exp) {
		return nil, fmt.Errorf("%w: it expired at %s, %s ago: get a fresh token (GitHub's live five minutes) and sign at once",
			ErrToken, exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second))
	}
	if nbf, ok, err := numericDate(claims, "nbf"); err != nil {
		return nil, err
	} else if ok && nbf.After(now.Add(tokenLeeway)) {
		return nil, fmt.Errorf("%w: it is not valid before %s, %s from now: check this machine's clock",
			ErrToken, nbf.UTC().Format(time.RFC3339), nbf.Sub(now).Round(time.Second))
	}
	auds, err := audiences(claims)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(auds, audience) {
		return nil, fmt.Errorf("%w: it is for audience %q, Fulcio wants %q: request the token for audience %s",
			ErrToken, strings.Join(auds, ","), audience, audience)
	}
	return claims, nil
}

// numericDate reads a JWT NumericDate claim (seconds since the epoch).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, false, fmt.Errorf("%w: its %s claim is not a time", ErrToken, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// audiences reads the aud claim: a string or a list of strings.
func audiences(claims map[string]any) ([]string, error) {
	switch v := claims["aud"].(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("%w: its aud claim is not a list of strings", ErrToken)
			}
			out = append(out, s)
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("%w: it names no audience (aud)", ErrToken)
	}
	return nil, fmt.Errorf("%w: its aud claim is not a string or list", ErrToken)
}
