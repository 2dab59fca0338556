package oidc

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultAudience is the audience Sigstore clients ask for.
const DefaultAudience = "sigstore"

// TokenLifetime is how long a minted token is valid, as on GitHub: five
// minutes after issue. nbf lies ten minutes before iat, as GitHub sets it.
const (
	TokenLifetime = 5 * time.Minute
	notBeforeSkew = 10 * time.Minute
)

// numericClaims are the claims GitHub sends as JSON numbers; every other
// claim is a string.
var numericClaims = map[string]bool{"iat": true, "nbf": true, "exp": true}

// Defaults for the claims of a GitHub Actions ID token. Claims not listed here
// are derived from these (see Claims).
var Defaults = map[string]string{
	"repository":            "hallmark-dev/example",
	"repository_id":         "700000001",
	"repository_owner_id":   "700000000",
	"repository_visibility": "public",
	"ref":                   "refs/heads/main",
	"ref_protected":         "false",
	"sha":                   "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
	"workflow":              "release",
	"event_name":            "push",
	"run_id":                "1000000001",
	"run_number":            "1",
	"run_attempt":           "1",
	"runner_environment":    "github-hosted",
	"actor":                 "octocat",
	"actor_id":              "583231",
	"head_ref":              "",
	"base_ref":              "",
}

// ClaimsHelp documents the defaults and derivations, for --help texts.
const ClaimsHelp = `Claims and their defaults (override any with --claim key=value):
  repository            hallmark-dev/example
  repository_owner      the owner part of repository
  repository_id         700000001
  repository_owner_id   700000000
  repository_visibility public
  ref                   refs/heads/main
  ref_type              branch for refs/heads/*, tag for refs/tags/*
  ref_protected         false
  sha                   3b18e512dba79e4c8300dd08aeb37f8e728b8dad
  workflow              release
  workflow_ref          <repository>/.github/workflows/release.yml@<ref>
  workflow_sha          <sha>
  job_workflow_ref      <workflow_ref>
  job_workflow_sha      <workflow_sha>
  event_name            push
  run_id, run_number, run_attempt   1000000001, 1, 1
  runner_environment    github-hosted
  actor, actor_id       octocat, 583231
  head_ref, base_ref    empty
  environment           absent unless set
  sub                   repo:<repository>:environment:<environment> when an environment
                        is set, repo:<repository>:pull_request for pull_request events,
                        otherwise repo:<repository>:ref:<ref>
  jti                   random
  iss, aud              the issuer's URL, the requested audience
  iat, nbf, exp         now, now-10m, now+5m (unix seconds)`

// Claims returns the claim set of a GitHub Actions ID token issued by issuer
// for audience at now: the defaults, derived claims computed from the
// (possibly overridden) base claims, then the overrides themselves. iat, nbf
// and exp overrides must be unix seconds.
func Claims(issuer, audience string, now time.Time, overrides map[string]string) (map[string]any, error) {
	c := make(map[string]string, len(Defaults)+16)
	for k, v := range Defaults {
		c[k] = v
	}
	for k, v := range overrides {
		if k == "" {
			return nil, fmt.Errorf("claim with an empty name")
		}
		c[k] = v
	}
	repo := c["repository"]
	owner, _, ok := strings.Cut(repo, "/")
	if !ok || owner == "" {
		return nil, fmt.Errorf("claim repository %q: want OWNER/REPO", repo)
	}
	derive := func(k, v string) {
		if _, set := overrides[k]; !set {
			c[k] = v
		}
	}
	derive("repository_owner", owner)
	switch {
	case strings.HasPrefix(c["ref"], "refs/tags/"):
		derive("ref_type", "tag")
	default:
		derive("ref_type", "branch")
	}
	derive("workflow_ref", repo+"/.github/workflows/"+c["workflow"]+".yml@"+c["ref"])
	derive("workflow_sha", c["sha"])
	derive("job_workflow_ref", c["workflow_ref"])
	derive("job_workflow_sha", c["workflow_sha"])
	switch {
	case c["environment"] != "":
		derive("sub", "repo:"+repo+":environment:"+c["environment"])
	case c["event_name"] == "pull_request":
		derive("sub", "repo:"+repo+":pull_request")
	default:
		derive("sub", "repo:"+repo+":ref:"+c["ref"])
	}
	if _, set := overrides["environment"]; set && c["environment"] == "" {
		delete(c, "environment")
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return nil, err
	}
	derive("jti", hex.EncodeToString(jti[:]))

	out := make(map[string]any, len(c)+6)
	for k, v := range c {
		if numericClaims[k] {
			continue
		}
		out[k] = v
	}
	out["iss"] = issuer
	out["aud"] = audience
	times := map[string]int64{
		"iat": now.Unix(),
		"nbf": now.Add(-notBeforeSkew).Unix(),
		"exp": now.Add(TokenLifetime).Unix(),
	}
	for k := range numericClaims {
		if v, set := overrides[k]; set {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("claim %s=%q: want unix seconds", k, v)
			}
			times[k] = n
		}
		out[k] = times[k]
	}
	return out, nil
}

// ParseClaimFlags turns key=value strings into an override map. A key given
// twice is an error, so a typo cannot silently win.
func ParseClaimFlags(kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("claim %q: want key=value", kv)
		}
		if k == "iss" || k == "aud" {
			return nil, fmt.Errorf("claim %s is set by the issuer (use --audience for aud)", k)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("claim %s given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// SortedKeys returns m's keys in order, for stable output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
