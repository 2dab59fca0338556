package admission

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Limits on what is read from a pull secret: its content is the tenant's.
const (
	maxDockerConfig      = 1 << 20
	maxDockerConfigAuths = 1000
)

// ErrDockerConfig: a pull secret's docker config does not parse.
var ErrDockerConfig = errors.New("invalid docker config")

// credential is one registry login of a docker config: the registry it is
// for, as the kubelet matches it (host labels with * globs, port, path
// prefix), and the login.
type credential struct {
	host []string
	port string
	path string
	auth authn.AuthConfig
}

// dockerHubHosts are the names of Docker Hub's registry.
var dockerHubHosts = []string{"index.docker.io", "docker.io", "registry-1.docker.io"}

// ParseDockerConfig reads the logins of a pull secret: a .dockerconfigjson
// ({"auths": {REGISTRY: {auth | username, password | identitytoken |
// registrytoken}}}) or, with legacy, a .dockercfg (the same map without
// "auths"). Its errors never quote the content: it holds secrets.
func ParseDockerConfig(data []byte, legacy bool) ([]credential, error) {
	if len(data) > maxDockerConfig {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrDockerConfig, len(data), maxDockerConfig)
	}
	var auths map[string]json.RawMessage
	if legacy {
		if json.Unmarshal(data, &auths) != nil {
			return nil, fmt.Errorf("%w: not a JSON object of registries", ErrDockerConfig)
		}
	} else {
		var cfg struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		if json.Unmarshal(data, &cfg) != nil {
			return nil, fmt.Errorf("%w: not a JSON object with auths", ErrDockerConfig)
		}
		auths = cfg.Auths
	}
	if len(auths) > maxDockerConfigAuths {
		return nil, fmt.Errorf("%w: %d registries, limit %d", ErrDockerConfig, len(auths), maxDockerConfigAuths)
	}
	keys := make([]string, 0, len(auths))
	for k := range auths {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []credential
	for _, k := range keys {
		var a struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
			RegistryToken string `json:"registrytoken"`
		}
		if json.Unmarshal(auths[k], &a) != nil {
			return nil, fmt.Errorf("%w: the login for %q is not a JSON object of strings", ErrDockerConfig, printable(k))
		}
		c, err := parseRegistryKey(k)
		if err != nil {
			return nil, err
		}
		c.auth = authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("%w: the auth field for %q is not base64", ErrDockerConfig, printable(k))
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("%w: the auth field for %q is not USER:PASSWORD", ErrDockerConfig, printable(k))
			}
			c.auth.Username, c.auth.Password = user, pass
		}
		out = append(out, c)
	}
	return out, nil
}

// parseRegistryKey reads a docker config's registry key as the kubelet
// does: a host with an optional scheme, port and path, where a host label
// may be a glob ("*.example.com").
func parseRegistryKey(k string) (credential, error) {
	s := k
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return credential{}, fmt.Errorf("%w: registry %q is not a host[:port][/path]", ErrDockerConfig, printable(k))
	}
	host := strings.ToLower(u.Hostname())
	p := strings.TrimSuffix(u.Path, "/")
	if slices.Contains(dockerHubHosts, host) {
		// Docker Hub's key is conventionally https://index.docker.io/v1/.
		host, p = "index.docker.io", strings.TrimPrefix(strings.TrimPrefix(p, "/v1"), "/v2")
	}
	return credential{host: strings.Split(host, "."), port: u.Port(), path: p}, nil
}

// printable shortens a registry key for an error message and drops what
// is not printable: the key names a registry, never a secret, but it is
// the tenant's text.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

// matches reports whether the login is for the repository at host, port
// and path, and how specific the match is (the length of its path).
func (c credential) matches(host []string, port, repoPath string) (bool, int) {
	if len(host) != len(c.host) || port != c.port {
		return false, 0
	}
	for i := range host {
		if ok, err := path.Match(c.host[i], host[i]); err != nil || !ok {
			return false, 0
		}
	}
	if c.path != "" && repoPath != c.path && !strings.HasPrefix(repoPath, c.path+"/") {
		return false, 0
	}
	return true, len(c.path)
}

// pullSecretKeychain resolves a registry's credentials from the logins of
// a pod's pull secrets, as the kubelet does: the most specific matching
// login (by path), the first among equals; anonymous when none matches.
type pullSecretKeychain struct{ creds []credential }

// Resolve implements authn.Keychain.
func (k *pullSecretKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	u, err := url.Parse("https://" + r.String())
	if err != nil {
		return authn.Anonymous, nil
	}
	host := strings.ToLower(u.Hostname())
	repoPath := strings.TrimSuffix(u.Path, "/")
	if slices.Contains(dockerHubHosts, host) {
		host = "index.docker.io"
	}
	labels := strings.Split(host, ".")
	best, bestLen := -1, -1
	for i, c := range k.creds {
		if ok, n := c.matches(labels, u.Port(), repoPath); ok && n > bestLen {
			best, bestLen = i, n
		}
	}
	if best < 0 {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(k.creds[best].auth), nil
}

// credentials names where a workload's registry logins come from: its
// namespace, service account and pull secrets. Two requests with the same
// credentials share a verification.
type credentials struct {
	namespace      string
	serviceAccount string
	secrets        []string
}

func (c credentials) id() string {
	return c.namespace + "/" + c.serviceAccount + "/" + strings.Join(c.secrets, ",")
}

// keychain reads the pull secrets the kubelet would use for the workload:
// the pod's own, then its service account's (the ServiceAccount admission
// plugin copies them into a pod, not into a controller's template). A
// secret or service account that does not exist is skipped, as the kubelet
// skips it; any other failure to read one is an error.
func (c credentials) keychain(ctx context.Context, r client.Reader) (authn.Keychain, error) {
	names := slices.Clone(c.secrets)
	var sa corev1.ServiceAccount
	switch err := r.Get(ctx, types.NamespacedName{Namespace: c.namespace, Name: c.serviceAccount}, &sa); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading service account %s/%s for its pull secrets: %w", c.namespace, c.serviceAccount, err)
	default:
		for _, s := range sa.ImagePullSecrets {
			if s.Name != "" && !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		}
	}
	k := &pullSecretKeychain{}
	for _, n := range names {
		var sec corev1.Secret
		switch err := r.Get(ctx, types.NamespacedName{Namespace: c.namespace, Name: n}, &sec); {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading pull secret %s/%s: %w", c.namespace, n, err)
		}
		var creds []credential
		var err error
		switch sec.Type {
		case corev1.SecretTypeDockerConfigJson:
			creds, err = ParseDockerConfig(sec.Data[corev1.DockerConfigJsonKey], false)
		case corev1.SecretTypeDockercfg:
			creds, err = ParseDockerConfig(sec.Data[corev1.DockerConfigKey], true)
		default:
			continue // not a pull secret: the kubelet ignores it too
		}
		if err != nil {
			return nil, fmt.Errorf("pull secret %s/%s: %w", c.namespace, n, err)
		}
		k.creds = append(k.creds, creds...)
	}
	return k, nil
}
