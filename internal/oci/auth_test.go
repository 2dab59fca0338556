package oci_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// TestRegistryCredentials reaches a registry that requires a login
// (docker-registry with htpasswd) with credentials from each place the
// docker machinery keeps them: an auths entry, a credential helper named
// under credHelpers, a credsStore, and the GitHub token when the config
// has nothing. Every registry access Hallmark makes (the write check, the
// push, discovery) works with each. Wrong or missing credentials fail
// with an *oci.AuthError that names the registry, where the credentials
// came from and what to configure, and never the secret.
func TestRegistryCredentials(t *testing.T) {
	const user, password = "builder", "s3cret-pass-4f1e"
	reg := ocitest.Distribution(t, ocitest.WithHtpasswd(user, password))
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")
	host := reg.Host
	basic := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	noRetry := oci.WithRetries(0)
	tests := []struct {
		name string
		// setup writes the docker config and returns more options, and
		// the credential helper it installed, which must be asked for
		// the registry.
		setup   func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper)
		wantErr error
		// want are parts of the message: where the credentials came
		// from and what to configure.
		want []string
	}{
		{
			name: "auths entry",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic(user, password)))
				return nil, nil
			},
		},
		{
			name: "auths entry with a URL key, as older docker logins wrote",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, "https://"+host+"/v2/", basic(user, password)))
				return nil, nil
			},
		},
		{
			name: "credential helper under credHelpers",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				h := ocitest.InstallCredentialHelper(t, "hallmarktest", map[string]ocitest.Credentials{host: {User: user, Secret: password}})
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"credHelpers":{%q:"hallmarktest"}}`, host))
				return nil, h
			},
		},
		{
			name: "credential store under credsStore",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				h := ocitest.InstallCredentialHelper(t, "hallmarkstore", map[string]ocitest.Credentials{host: {User: user, Secret: password}})
				ocitest.DockerConfigJSON(t, `{"credsStore":"hallmarkstore"}`)
				return nil, h
			},
		},
		{
			name: "GitHub token when the config has nothing",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, `{}`)
				return []oci.Option{oci.WithGitHubToken(host, user, password)}, nil
			},
		},
		{
			name: "no docker config",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				t.Setenv("DOCKER_CONFIG", t.TempDir())
				return nil, nil
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"no credentials were sent", "there is no docker config at ", "docker login " + host, "credHelpers"},
		},
		{
			name: "config without an entry for the registry",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, `{"auths":{"registry.example.com":{"auth":"dTpw"}}}`)
				return nil, nil
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"no credentials were sent", "has no auths entry, credHelpers entry or credsStore for " + host, "docker login " + host},
		},
		{
			name: "wrong password in the auths entry",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic(user, "wrong-pass-9a")))
				return nil, nil
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"refused the credentials from the auths entry " + fmt.Sprintf("%q", host), "docker login " + host},
		},
		{
			name: "wrong password from the credential helper",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				h := ocitest.InstallCredentialHelper(t, "hallmarktest", map[string]ocitest.Credentials{host: {User: user, Secret: "wrong-pass-9a"}})
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"credHelpers":{%q:"hallmarktest"}}`, host))
				return nil, h
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"refused the credentials from the credential helper docker-credential-hallmarktest (credHelpers " + fmt.Sprintf("%q", host)},
		},
		{
			name: "credential helper with nothing for the registry",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				h := ocitest.InstallCredentialHelper(t, "hallmarktest", map[string]ocitest.Credentials{"registry.example.com": {User: user, Secret: password}})
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"credHelpers":{%q:"hallmarktest"}}`, host))
				return nil, h
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"no credentials were sent: the credential helper docker-credential-hallmarktest", "has none for " + host},
		},
		{
			name: "credential helper not installed",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"credHelpers":{%q:"hallmark-missing"}}`, host))
				return nil, nil
			},
			wantErr: oci.ErrCredentials,
			want:    []string{"docker-credential-hallmark-missing", "install docker-credential-hallmark-missing on PATH"},
		},
		{
			name: "docker config that does not parse",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, `{"auths":`)
				return nil, nil
			},
			wantErr: oci.ErrCredentials,
			want:    []string{"does not parse", "DOCKER_CONFIG"},
		},
		{
			name: "the config's credentials win over the GitHub token",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, basic(user, "wrong-pass-9a")))
				return []oci.Option{oci.WithGitHubToken(host, user, password)}, nil
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"refused the credentials from the auths entry"},
		},
		{
			name: "wrong GitHub token",
			setup: func(t *testing.T) ([]oci.Option, *ocitest.CredentialHelper) {
				ocitest.DockerConfigJSON(t, `{}`)
				return []oci.Option{oci.WithGitHubToken(host, user, "ghs_wrong_token_77")}, nil
			},
			wantErr: oci.ErrUnauthorized,
			want:    []string{"refused the GitHub token", "permissions: packages: write"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			opts, helper := tt.setup(t)
			opts = append(opts, noRetry)
			att := oci.Attestation{Bundle: fakeBundle(t, slsaV1, tt.name), PredicateType: slsaV1}
			var errs []error
			if _, err := oci.CheckPush(ctx, img, opts...); err != nil {
				errs = append(errs, fmt.Errorf("CheckPush: %w", err))
			}
			if _, err := oci.Push(ctx, img, att, opts...); err != nil {
				errs = append(errs, fmt.Errorf("Push: %w", err))
			}
			if _, err := oci.Discover(ctx, img, slsaV1, opts...); err != nil {
				errs = append(errs, fmt.Errorf("Discover: %w", err))
			}
			if helper != nil {
				asked := false
				for _, r := range helper.Requests(t) {
					asked = asked || r == "get "+host
				}
				if !asked {
					t.Errorf("docker-credential-%s was not asked for %s: requests %q", helper.Name, host, helper.Requests(t))
				}
			}
			if tt.wantErr == nil {
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(errs) != 3 {
				t.Fatalf("%d of 3 accesses failed, want all: %v", len(errs), errs)
			}
			for _, err := range errs {
				var ae *oci.AuthError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &ae) {
					t.Fatalf("err = %v, want an *oci.AuthError matching %v", err, tt.wantErr)
				}
				if ae.Registry != host {
					t.Errorf("AuthError.Registry = %q, want %q", ae.Registry, host)
				}
				msg := err.Error()
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s\nlacks %q", msg, w)
					}
				}
				for _, secret := range []string{password, "wrong-pass-9a", "ghs_wrong_token_77", basic(user, password)} {
					if strings.Contains(msg, secret) {
						t.Errorf("the error carries a secret: %s", msg)
					}
				}
			}
			t.Logf("%v", errs[0])
		})
	}
}

// TestGitHubTokenGoesOnlyToItsRegistry: the GitHub token is sent to the
// registry it is for and to no other, even one that asks for credentials.
func TestGitHubTokenGoesOnlyToItsRegistry(t *testing.T) {
	const token = "ghs_only_for_ghcr_31c2"
	var mu sync.Mutex
	var seen []string
	other := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	}))
	ocitest.DockerConfigJSON(t, `{}`)
	img := other.Image(t, "acme/app", "v1")
	opts := []oci.Option{oci.WithGitHubToken("ghcr.io", "octocat", token)}
	att := oci.Attestation{Bundle: fakeBundle(t, slsaV1, "x"), PredicateType: slsaV1}
	if _, err := oci.Push(context.Background(), img, att, opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Discover(context.Background(), img, slsaV1, opts...); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range seen {
		if a != "" {
			t.Errorf("a request to %s carried credentials (%d bytes): the token is for ghcr.io only", other.Host, len(a))
		}
	}
	if len(seen) == 0 {
		t.Fatal("the registry saw no request")
	}
	if _, err := oci.ParseReference("x/y", oci.WithGitHubToken("ghcr.io/acme", "u", token)); err == nil {
		t.Error("a registry with a path was taken for the GitHub token")
	}
}
