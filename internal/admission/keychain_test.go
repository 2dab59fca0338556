package admission

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParseDockerConfig(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		legacy bool
		want   int
		err    bool
	}{
		{"dockerconfigjson with auth", `{"auths":{"r.example":{"auth":"` + b64("u:p") + `"}}}`, false, 1, false},
		{"username and password", `{"auths":{"r.example:5000/team":{"username":"u","password":"p"}}}`, false, 1, false},
		{"identity token", `{"auths":{"https://r.example/v2/":{"identitytoken":"tok"}}}`, false, 1, false},
		{"legacy dockercfg", `{"r.example":{"auth":"` + b64("u:p") + `"}}`, true, 1, false},
		{"no auths", `{}`, false, 0, false},
		{"not JSON", `{"auths":`, false, 0, true},
		{"auth not base64", `{"auths":{"r.example":{"auth":"%%%"}}}`, false, 0, true},
		{"auth without a colon", `{"auths":{"r.example":{"auth":"` + b64("secretvalue") + `"}}}`, false, 0, true},
		{"a login that is not an object", `{"auths":{"r.example":"secretvalue"}}`, false, 0, true},
		{"a registry that is no host", `{"auths":{"https://":{"auth":"` + b64("u:p") + `"}}}`, false, 0, true},
		{"too large", `{"auths":{"r.example":{"auth":"` + strings.Repeat("A", maxDockerConfig) + `"}}}`, false, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, err := ParseDockerConfig([]byte(tc.data), tc.legacy)
			if tc.err {
				if !errors.Is(err, ErrDockerConfig) {
					t.Fatalf("err %v, want ErrDockerConfig", err)
				}
				for _, secret := range []string{"secretvalue", b64("secretvalue"), "u:p"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error quotes the secret: %v", err)
					}
				}
				return
			}
			if err != nil || len(creds) != tc.want {
				t.Fatalf("%d credentials, err %v; want %d", len(creds), err, tc.want)
			}
		})
	}
}

func TestPullSecretKeychainMatchesAsTheKubelet(t *testing.T) {
	creds, err := ParseDockerConfig([]byte(`{"auths":{
		"r.example": {"username": "registry", "password": "1"},
		"r.example/team": {"username": "team", "password": "2"},
		"r.example:5000": {"username": "port", "password": "3"},
		"*.mirror.example": {"username": "glob", "password": "4"},
		"https://index.docker.io/v1/": {"username": "hub", "password": "5"}
	}}`), false)
	if err != nil {
		t.Fatal(err)
	}
	k := &pullSecretKeychain{creds: creds}
	tests := []struct {
		image, user string
	}{
		{"r.example/other/app:v1", "registry"},
		{"r.example/team/app:v1", "team"},
		{"r.example/teamster/app:v1", "registry"},
		{"r.example:5000/x/app:v1", "port"},
		{"eu.mirror.example/app:v1", "glob"},
		{"a.b.mirror.example/app:v1", ""},
		{"nginx:1.27", "hub"},
		{"docker.io/library/nginx:1.27", "hub"},
		{"other.example/app:v1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			ref, err := name.ParseReference(tc.image)
			if err != nil {
				t.Fatal(err)
			}
			a, err := k.Resolve(ref.Context())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if tc.user == "" {
				if a != authn.Anonymous {
					t.Fatalf("credentials %q for an unmatched registry", cfg.Username)
				}
				return
			}
			if cfg.Username != tc.user {
				t.Fatalf("user %q, want %q", cfg.Username, tc.user)
			}
		})
	}
}

func FuzzParseDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.example":{"auth":"dTpw"}}}`), false)
	f.Add([]byte(`{"r.example:5000/a":{"username":"u","password":"p"}}`), true)
	f.Add([]byte(`{"auths":{"*.x.example/p":{"identitytoken":"t"}}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, legacy bool) {
		creds, err := ParseDockerConfig(data, legacy)
		if err != nil {
			if !errors.Is(err, ErrDockerConfig) {
				t.Fatalf("an error that is not ErrDockerConfig: %v", err)
			}
			return
		}
		k := &pullSecretKeychain{creds: creds}
		for _, repo := range []string{"r.example/a", "index.docker.io/library/nginx", "x.example:5000/p/q"} {
			r, err := name.NewRepository(repo)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.Resolve(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}
