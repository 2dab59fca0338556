package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

// Paths the issuer serves. TokenRequestPath answers the Actions
// token-request protocol: GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD with
// "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" returns
// {"count": N, "value": "<jwt>"}.
const (
	DiscoveryPath    = "/.well-known/openid-configuration"
	JWKSPath         = "/.well-known/jwks"
	TokenRequestPath = "/_apis/idtoken"
)

// Issuer serves discovery, the JWKS and the token-request protocol. Its state
// is a folder: keys.json and request-tokens/, so `hallmark sandbox token` and
// the server agree without talking to each other.
type Issuer struct {
	URL string // the iss claim and the base of every served URL
	Dir string // key and request-token folder
	Log *slog.Logger
	Now func() time.Time
}

// RequestTokenURL is the value of ACTIONS_ID_TOKEN_REQUEST_URL for this
// issuer. Like GitHub's, it already carries a query, so clients append
// "&audience=...".
func (is *Issuer) RequestTokenURL() string {
	return strings.TrimRight(is.URL, "/") + TokenRequestPath + "?api-version=2.0"
}

// Handler returns the issuer's HTTP handler.
func (is *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, is.discovery)
	mux.HandleFunc("GET "+JWKSPath, is.jwks)
	mux.HandleFunc("GET "+TokenRequestPath, is.tokenRequest)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	return mux
}

func (is *Issuer) logger() *slog.Logger {
	if is.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return is.Log
}

func (is *Issuer) now() time.Time {
	if is.Now == nil {
		return time.Now()
	}
	return is.Now()
}

func (is *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	base := strings.TrimRight(is.URL, "/")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"jwks_uri":                              base + JWKSPath,
		"subject_types_supported":               []string{"public", "pairwise"},
		"response_types_supported":              []string{"id_token"},
		"claims_supported":                      append([]string{"sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository_owner", "job_workflow_ref", "job_workflow_sha", "workflow_ref", "workflow_sha"}, claimNamesExtra...),
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
	})
}

var claimNamesExtra = []string{"repository", "repository_id", "repository_owner_id", "repository_visibility", "run_id", "run_number", "run_attempt", "runner_environment", "actor", "actor_id", "workflow", "head_ref", "base_ref", "event_name", "ref_type", "ref_protected", "environment"}

func (is *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	ks, err := LoadKeys(is.Dir)
	if err != nil {
		is.logger().Error("loading keys", "err", err)
		http.Error(w, "issuer keys unavailable", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, ks.Public())
}

// tokenRequest answers the Actions token-request protocol. The bearer token
// selects the claim overrides registered with NewRequestToken; the token
// itself is never logged.
func (is *Issuer) tokenRequest(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scheme, bearer, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || bearer == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "missing bearer token"})
		return
	}
	overrides, err := lookupRequestToken(is.Dir, bearer)
	if err != nil {
		is.logger().Info("token request refused", "reason", "unknown request token")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "bad request token"})
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + ownerOf(overrides)
	}
	ks, err := LoadKeys(is.Dir)
	if err != nil {
		is.logger().Error("loading keys", "err", err)
		http.Error(w, "issuer keys unavailable", http.StatusInternalServerError)
		return
	}
	claims, err := Claims(strings.TrimRight(is.URL, "/"), aud, is.now(), overrides)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	tok, err := ks.Mint(claims)
	if err != nil {
		is.logger().Error("minting", "err", err)
		http.Error(w, "minting failed", http.StatusInternalServerError)
		return
	}
	is.logger().Info("token issued", "audience", aud, "sub", claims["sub"])
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": tok})
}

func ownerOf(overrides map[string]string) string {
	repo := overrides["repository"]
	if repo == "" {
		repo = Defaults["repository"]
	}
	owner, _, _ := strings.Cut(repo, "/")
	return owner
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// requestTokenDir holds one file per request token, named by the token's
// SHA-256 so the folder never holds the token itself.
const requestTokenDir = "request-tokens"

// NewRequestToken registers a fresh Actions request token whose ID tokens
// carry overrides, and returns it. Each token is like one job's: its own
// claims, fixed when the job starts.
func NewRequestToken(dir string, overrides map[string]string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if overrides == nil {
		overrides = map[string]string{}
	}
	data, err := json.Marshal(overrides)
	if err != nil {
		return "", err
	}
	td := filepath.Join(dir, requestTokenDir)
	if err := os.MkdirAll(td, 0o700); err != nil {
		return "", fmt.Errorf("creating request token folder: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(td, tokenHash(tok)+".json"), data, 0o600); err != nil {
		return "", fmt.Errorf("saving request token: %w", err)
	}
	return tok, nil
}

var errUnknownRequestToken = errors.New("unknown request token")

func lookupRequestToken(dir, tok string) (map[string]string, error) {
	h := tokenHash(tok)
	// The file name is derived from the hash, so a presented token can only
	// select a file by matching a registered token's hash exactly.
	data, err := os.ReadFile(filepath.Join(dir, requestTokenDir, h+".json"))
	if err != nil {
		return nil, errUnknownRequestToken
	}
	var overrides map[string]string
	if err := json.Unmarshal(data, &overrides); err != nil {
		return nil, fmt.Errorf("request token file: %w", err)
	}
	return overrides, nil
}

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
