package oci

import "testing"

// TestGitHubTokenFromEnv: inside GitHub Actions the job's GITHUB_TOKEN logs
// in to its own instance's registry; outside, or without a token, nothing.
func TestGitHubTokenFromEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want *githubToken
	}{
		{name: "github.com", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_x", "GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://github.com"},
			want: &githubToken{registry: "ghcr.io", user: "octocat", token: "ghs_x"}},
		{name: "no server URL means github.com", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_x"},
			want: &githubToken{registry: "ghcr.io", user: "x-access-token", token: "ghs_x"}},
		{name: "ghe.com tenant", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_x", "GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://octo.ghe.com"},
			want: &githubToken{registry: "containers.octo.ghe.com", user: "octocat", token: "ghs_x"}},
		{name: "GitHub Enterprise Server", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_x", "GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://git.acme.example"},
			want: &githubToken{registry: "containers.git.acme.example", user: "octocat", token: "ghs_x"}},
		{name: "outside Actions", env: map[string]string{"GITHUB_TOKEN": "ghs_x"}},
		{name: "no token", env: map[string]string{"GITHUB_ACTIONS": "true"}},
		{name: "malformed server URL", env: map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_TOKEN": "ghs_x", "GITHUB_SERVER_URL": "github.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := gitHubTokenFromEnv(func(k string) string { return tt.env[k] })
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
