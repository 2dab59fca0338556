package githubapi

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// The URLs of github.com.
const (
	DotComServer = "https://github.com"
	DotComAPI    = "https://api.github.com"
	DotComIssuer = "https://token.actions.githubusercontent.com"
	// DotComRegistry is the host of GitHub's container registry.
	DotComRegistry = "ghcr.io"
)

// Instance is one GitHub: its web server, its REST API, the issuer of its
// Actions OIDC tokens and its container registry.
type Instance struct {
	ServerURL, APIURL, Issuer string
	// Registry is the host of its container registry, where a GitHub token
	// logs in: ghcr.io, containers.SUB.ghe.com, or containers.HOST of a
	// GitHub Enterprise Server (which serves it there with subdomain
	// isolation, its default).
	Registry string
}

// InstanceFor derives the GitHub instance from GITHUB_SERVER_URL and
// GITHUB_API_URL as the runner sets them (either may be empty):
//
//   - github.com: API https://api.github.com, issuer
//     https://token.actions.githubusercontent.com, registry ghcr.io;
//   - a data-residency tenant https://SUB.ghe.com: API
//     https://api.SUB.ghe.com, issuer https://token.actions.SUB.ghe.com,
//     registry containers.SUB.ghe.com;
//   - GitHub Enterprise Server https://HOST: API https://HOST/api/v3,
//     issuer https://HOST/_services/token, registry containers.HOST.
//
// A given API URL is taken as it is.
func InstanceFor(serverURL, apiURL string) (Instance, error) {
	if serverURL == "" {
		serverURL = DotComServer
	}
	u, err := url.Parse(strings.TrimSuffix(serverURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" {
		return Instance{}, fmt.Errorf("GITHUB_SERVER_URL %q: want the server's root URL, such as https://github.com", serverURL)
	}
	in := Instance{ServerURL: u.String()}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "github.com":
		in.APIURL, in.Issuer, in.Registry = DotComAPI, DotComIssuer, DotComRegistry
	case strings.HasSuffix(host, ".ghe.com") && strings.Count(host, ".") == 2:
		sub := strings.TrimSuffix(host, ".ghe.com")
		in.APIURL = u.Scheme + "://api." + sub + ".ghe.com"
		in.Issuer = "https://token.actions." + sub + ".ghe.com"
		in.Registry = "containers." + sub + ".ghe.com"
	default:
		in.APIURL = in.ServerURL + "/api/v3"
		in.Issuer = in.ServerURL + "/_services/token"
		in.Registry = "containers." + host
	}
	if apiURL != "" {
		a, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
		if err != nil || (a.Scheme != "https" && a.Scheme != "http") || a.Host == "" || a.User != nil || a.RawQuery != "" {
			return Instance{}, fmt.Errorf("GITHUB_API_URL %q: want the API's root URL, such as https://api.github.com", apiURL)
		}
		in.APIURL = a.String()
	}
	return in, nil
}

// ServerForIssuer is the web server of the GitHub whose Actions tokens iss
// issues, the inverse of [InstanceFor]'s issuer; false for an issuer of no
// GitHub's form. An enterprise that customised its issuer has its slug as
// the path (https://token.actions.githubusercontent.com/SLUG, and likewise
// on ghe.com); the server is the same.
func ServerForIssuer(iss string) (string, bool) {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	slugOK := u.Path == "" || enterpriseSlug.MatchString(u.Path)
	switch {
	case host == "token.actions.githubusercontent.com" && slugOK:
		return DotComServer, true
	case strings.HasPrefix(host, "token.actions.") && strings.HasSuffix(host, ".ghe.com") && slugOK:
		sub := strings.TrimSuffix(strings.TrimPrefix(host, "token.actions."), ".ghe.com")
		if !tenantName.MatchString(sub) {
			return "", false
		}
		return "https://" + sub + ".ghe.com", true
	case u.Path == "/_services/token":
		return "https://" + host, true
	}
	return "", false
}

var (
	// enterpriseSlug is the path of a customised issuer: one segment.
	enterpriseSlug = regexp.MustCompile(`^/[A-Za-z0-9][A-Za-z0-9-]*$`)
	// tenantName is a ghe.com subdomain.
	tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// SplitRepository splits OWNER/REPO.
func SplitRepository(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/?#%") || strings.ContainsAny(owner, "?#%") ||
		name == "." || name == ".." {
		return "", "", errors.New("want OWNER/REPO")
	}
	return owner, name, nil
}
