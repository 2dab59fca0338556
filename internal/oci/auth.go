package oci

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
)

// ErrCredentials: the credentials for a registry could not be read: a
// credential helper failed or is missing, or the docker config does not
// parse. Nothing was sent to the registry.
var ErrCredentials = errors.New("registry credentials could not be read")

// AuthError is a registry that refused access, or credentials that could
// not be read, told so that a person knows what to configure: it names the
// registry, where the credentials came from (never the credentials) and
// what to change. It matches ErrUnauthorized or ErrCredentials, and the
// error it wraps.
type AuthError struct {
	// Registry is the registry's host, as the docker config names it.
	Registry string
	// Source says where the credentials came from: a docker config entry,
	// a credential helper, the GitHub token, or none (anonymous).
	Source string
	// Fix says what to configure.
	Fix string
	// Err is the registry's refusal or the credential lookup's failure.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("%v\n%s: %s; %s", e.Err, e.Registry, e.Source, e.Fix)
}

func (e *AuthError) Unwrap() error { return e.Err }

// WithGitHubToken logs in to GitHub's container registry with a GitHub
// token when the docker config holds no credentials for it, as a job's
// GITHUB_TOKEN logs in to ghcr.io. registry is the registry's host
// (githubapi.Instance.Registry: ghcr.io, containers.SUB.ghe.com or
// containers.HOST of a GitHub Enterprise Server), user the account it is
// sent as (GITHUB_ACTOR; the registry checks the token). The token is sent
// to that registry only, and only when the docker config has nothing for
// it. An empty token turns the fallback off.
//
// Default: inside GitHub Actions (GITHUB_ACTIONS=true) with GITHUB_TOKEN
// set, that token for the registry of GITHUB_SERVER_URL's instance, as
// GITHUB_ACTOR.
func WithGitHubToken(registry, user, token string) Option {
	return func(o *options) error {
		if token != "" && (registry == "" || strings.ContainsAny(registry, "/@ ")) {
			return fmt.Errorf("oci: GitHub token for registry %q: want a registry host such as ghcr.io", registry)
		}
		if user == "" {
			user = "x-access-token"
		}
		o.github, o.githubSet = &githubToken{registry: registry, user: user, token: token}, true
		return nil
	}
}

// githubToken is the GitHub token as registry credentials.
type githubToken struct{ registry, user, token string }

// gitHubTokenFromEnv is WithGitHubToken's default: the job's token inside
// GitHub Actions, for its instance's registry.
func gitHubTokenFromEnv(getenv func(string) string) *githubToken {
	if getenv("GITHUB_ACTIONS") != "true" || getenv("GITHUB_TOKEN") == "" {
		return nil
	}
	in, err := githubapi.InstanceFor(getenv("GITHUB_SERVER_URL"), "")
	if err != nil || in.Registry == "" {
		return nil
	}
	user := getenv("GITHUB_ACTOR")
	if user == "" {
		user = "x-access-token"
	}
	return &githubToken{registry: in.Registry, user: user, token: getenv("GITHUB_TOKEN")}
}

// credentialSource is where a registry's credentials came from.
type credentialSource int

const (
	sourceKeychain  credentialSource = iota + 1 // the keychain: the docker config, or WithKeychain's
	sourceGitHub                                // the GitHub token
	sourceAnonymous                             // none: anonymous
)

// keychain resolves credentials as the options say (the keychain, then the
// GitHub token for its registry) and remembers, per registry, where they
// came from, for the errors of a refusal.
type keychain struct {
	base   authn.Keychain
	github *githubToken
	custom bool // base is WithKeychain's, not the docker config's

	mu   sync.Mutex
	used map[string]credentialSource
}

func (k *keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

func (k *keychain) ResolveContext(ctx context.Context, target authn.Resource) (authn.Authenticator, error) {
	reg := target.RegistryStr()
	auth, err := authn.Resolve(ctx, k.base, target)
	if err != nil {
		return nil, k.credentialsError(reg, err)
	}
	src := sourceKeychain
	if auth == authn.Anonymous {
		src = sourceAnonymous
		if gh := k.github; gh != nil && gh.token != "" && strings.EqualFold(reg, gh.registry) {
			auth, src = &authn.Basic{Username: gh.user, Password: gh.token}, sourceGitHub
		}
	}
	k.mu.Lock()
	if k.used == nil {
		k.used = map[string]credentialSource{}
	}
	k.used[reg] = src
	k.mu.Unlock()
	return auth, nil
}

// credentialsError explains a credential lookup that failed.
func (k *keychain) credentialsError(reg string, err error) error {
	e := &AuthError{Registry: reg, Err: fmt.Errorf("credentials for %s: %w: %v", reg, ErrCredentials, err)}
	if k.custom {
		e.Source, e.Fix = "the credentials come from the keychain the program was given", "check its configuration"
		return e
	}
	d := describeDockerConfig(reg)
	switch {
	case d.loadErr != nil:
		e.Source = "the docker config " + d.path + " does not parse"
		e.Fix = "fix it, or set DOCKER_CONFIG to the folder of another config.json"
	case d.helper != "":
		e.Source = d.source()
		e.Fix = fmt.Sprintf("install docker-credential-%s on PATH and log in to %s through it, or remove it from %s", d.helper, reg, d.path)
	default:
		e.Source = d.source()
		e.Fix = "check " + d.path
	}
	return e
}

// explain adds to a refusal by the registry reg (an error matching
// ErrUnauthorized) where the credentials came from and what to configure;
// write says whether the access was a push. Other errors pass unchanged.
func (o *options) explain(err error, reg name.Registry, write bool) error {
	var ae *AuthError
	if err == nil || !errors.Is(err, ErrUnauthorized) || errors.As(err, &ae) {
		return err
	}
	host := reg.RegistryStr()
	k := o.auth
	k.mu.Lock()
	src, seen := k.used[host]
	k.mu.Unlock()
	if !seen {
		src = sourceAnonymous
	}
	access := "pull (read)"
	if write {
		access = "push (write)"
	}
	e := &AuthError{Registry: host, Err: err}
	login := "docker login " + dockerLoginName(host)
	switch {
	case src == sourceGitHub:
		e.Source = "the registry refused the GitHub token (GITHUB_TOKEN, or the action's github-token), sent as " + k.github.user
		e.Fix = "the job needs permissions: packages: write to push attestations (read to verify) and the package must grant this repository access; or log in with " + login
	case k.custom:
		if src == sourceAnonymous {
			e.Source = "the keychain the program was given has no credentials for it"
		} else {
			e.Source = "the registry refused the credentials of the keychain the program was given"
		}
		e.Fix = "they need " + access + " access to the repository"
	case src == sourceAnonymous:
		d := describeDockerConfig(host)
		e.Source = "no credentials were sent: " + d.none()
		fix := fmt.Sprintf("log in with %s, or name a credential helper for %s under credHelpers in %s (DOCKER_CONFIG sets its folder)", login, d.key, d.path)
		if strings.EqualFold(host, githubapi.DotComRegistry) && (k.github == nil || k.github.token == "") {
			fix += "; inside GitHub Actions, the job's token logs in to ghcr.io when GITHUB_TOKEN is set in the step's environment (with permissions: packages)"
		}
		e.Fix = fix
	default:
		d := describeDockerConfig(host)
		e.Source = "the registry refused the credentials from " + d.source()
		e.Fix = fmt.Sprintf("they need %s access to the repository: log in again with %s, or check the password or token there", access, login)
	}
	return e
}

// dockerLoginName is how `docker login` names the registry host.
func dockerLoginName(host string) string {
	if host == name.DefaultRegistry {
		return "docker.io"
	}
	return host
}

// dockerConfig is what the docker config says about one registry, as
// go-containerregistry's default keychain reads it: the credential helper
// named for it under credHelpers, else the credsStore, else its auths
// entry. It carries no credentials.
type dockerConfig struct {
	path    string // the config file
	exists  bool
	loadErr error
	key     string // the registry's key: host, or https://index.docker.io/v1/
	helper  string // credHelpers[key] or credsStore
	store   bool   // helper is the credsStore
	auths   bool   // auths has an entry for key
}

// describeDockerConfig reads the docker config the default keychain reads:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func describeDockerConfig(host string) dockerConfig {
	dir := os.Getenv(config.EnvOverrideConfigDir)
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".docker")
	}
	d := dockerConfig{path: filepath.Join(dir, config.ConfigFileName), key: host}
	if host == name.DefaultRegistry {
		d.key = authn.DefaultAuthKey
	}
	f, err := os.Open(d.path)
	if err != nil {
		return d
	}
	defer f.Close()
	d.exists = true
	cf := configfile.New(d.path)
	if err := cf.LoadFromReader(f); err != nil {
		d.loadErr = err
		return d
	}
	if h, ok := cf.CredentialHelpers[d.key]; ok {
		d.helper = h
	} else if cf.CredentialsStore != "" {
		d.helper, d.store = cf.CredentialsStore, true
	}
	for k := range cf.AuthConfigs {
		if k == d.key || credentials.ConvertToHostname(k) == d.key {
			d.auths = true
		}
	}
	return d
}

// source names where the config's credentials for the registry come from.
func (d dockerConfig) source() string {
	switch {
	case d.helper != "" && d.store:
		return fmt.Sprintf("the credential store docker-credential-%s (credsStore in %s)", d.helper, d.path)
	case d.helper != "":
		return fmt.Sprintf("the credential helper docker-credential-%s (credHelpers %q in %s)", d.helper, d.key, d.path)
	case d.auths:
		return fmt.Sprintf("the auths entry %q in %s", d.key, d.path)
	}
	return "the docker config " + d.path
}

// none says why the config gave no credentials for the registry.
func (d dockerConfig) none() string {
	switch {
	case !d.exists:
		return "there is no docker config at " + d.path
	case d.helper != "":
		return d.source() + " has none for " + d.key
	}
	return fmt.Sprintf("%s has no auths entry, credHelpers entry or credsStore for %s", d.path, d.key)
}
