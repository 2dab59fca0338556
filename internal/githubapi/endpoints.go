package githubapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The URLs of github.com.
const (
	DotComServer = "https://github.com"
	DotComAPI    = "https://api.github.com"
	DotComIssuer = "https://token.actions.githubusercontent.com"
)

// Instance is one GitHub: its web server, its REST API and the issuer of
// its Actions OIDC tokens.
type Instance struct {
	ServerURL, APIURL, Issuer string
}

// InstanceFor derives the GitHub instance from GITHUB_SERVER_URL and
// GITHUB_API_URL as the runner sets them (either may be empty):
//
//   - github.com: API https://api.github.com, issuer
//     https://token.actions.githubusercontent.com;
//   - a data-residency tenant https://SUB.ghe.com: API
//     https://api.SUB.ghe.com, issuer https://token.actions.SUB.ghe.com;
//   - GitHub Enterprise Server https://HOST: API https://HOST/api/v3,
//     issuer https://HOST/_services/token.
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
		in.APIURL, in.Issuer = DotComAPI, DotComIssuer
	case strings.HasSuffix(host, ".ghe.com") && strings.Count(host, ".") == 2:
		sub := strings.TrimSuffix(host, ".ghe.com")
		in.APIURL = u.Scheme + "://api." + sub + ".ghe.com"
		in.Issuer = "https://token.actions." + sub + ".ghe.com"
	default:
		in.APIURL = in.ServerURL + "/api/v3"
		in.Issuer = in.ServerURL + "/_services/token"
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
// GitHub's form.
func ServerForIssuer(iss string) (string, bool) {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	switch {
	case iss == DotComIssuer:
		return DotComServer, true
	case strings.HasPrefix(host, "token.actions.") && strings.HasSuffix(host, ".ghe.com") && u.Path == "":
		return "https://" + strings.TrimPrefix(host, "token.actions."), true
	case u.Path == "/_services/token":
		return "https://" + u.Host, true
	}
	return "", false
}

// SplitRepository splits OWNER/REPO.
func SplitRepository(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/?#%") || strings.ContainsAny(owner, "?#%") ||
		name == "." || name == ".." {
		return "", "", errors.New("want OWNER/REPO")
	}
	return owner, name, nil
}
