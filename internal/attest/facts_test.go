package attest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// ghesClaims are the claims of a run of acme/app calling acme/build's
// reusable workflow, as any GitHub's token service issues them; iss says
// which GitHub.
func ghesClaims(iss string) map[string]any {
	return map[string]any{
		"iss": iss, "repository": "acme/app", "repository_id": "42", "repository_owner_id": "7",
		"ref": "refs/heads/main", "sha": strings.Repeat("a", 40), "event_name": "push", "run_id": "99", "run_attempt": "1",
		"workflow_ref":       "acme/app/.github/workflows/release.yml@refs/heads/main",
		"job_workflow_ref":   "acme/build/.github/workflows/build.yml@refs/tags/v1",
		"runner_environment": "github-hosted",
	}
}

// statementFor makes the provenance attest would sign for claims, along
// attest's own steps (the facts, their check against the token, the job
// workflow), and returns it decoded.
func statementFor(t *testing.T, r Request, claims map[string]any, env map[string]string) (map[string]any, error) {
	t.Helper()
	build, err := buildFacts(context.Background(), r, func(k string) string { return env[k] }, claims)
	if err != nil {
		return nil, err
	}
	s, _ := subject.FromNameDigest("app", "sha256:"+strings.Repeat("3", 64))
	raw, err := provenanceStatement([]subject.Subject{s}, build)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

// uris are the provenance's URIs that name the GitHub server.
func uris(st map[string]any) []string {
	p := st["predicate"].(map[string]any)
	bd, rd := p["buildDefinition"].(map[string]any), p["runDetails"].(map[string]any)
	return []string{
		rd["builder"].(map[string]any)["id"].(string),
		bd["externalParameters"].(map[string]any)["workflow"].(map[string]any)["repository"].(string),
		bd["resolvedDependencies"].([]any)[0].(map[string]any)["uri"].(string),
		rd["metadata"].(map[string]any)["invocationId"].(string),
	}
}

// TestFactsOnTheTokensGitHub: a token from GitHub Enterprise Server
// (https://HOST/_services/token) or a ghe.com tenant
// (https://token.actions.SUB.ghe.com) makes provenance whose builder,
// workflow, source and run URIs are on that GitHub, with --facts-from-token
// and with a facts file that names no server; a facts file or runner
// environment naming another server contradicts the token and is refused
// before signing.
func TestFactsOnTheTokensGitHub(t *testing.T) {
	const ghes, ghesIss = "https://git.acme.example", "https://git.acme.example/_services/token"
	const tenant, tenantIss = "https://octo.ghe.com", "https://token.actions.octo.ghe.com"
	want := func(server string) []string {
		return []string{
			server + "/acme/build/.github/workflows/build.yml@refs/tags/v1",
			server + "/acme/app",
			"git+" + server + "/acme/app@refs/heads/main",
			server + "/acme/app/actions/runs/99/attempts/1",
		}
	}
	factsFile := func(t *testing.T, server string) string {
		f := map[string]string{"repository": "acme/app", "repository_id": "42", "repository_owner_id": "7", "ref": "refs/heads/main",
			"sha": strings.Repeat("a", 40), "workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main", "event_name": "push",
			"run_id": "99", "run_attempt": "1", "runner_environment": "github-hosted"}
		if server != "" {
			f["server_url"] = server
		}
		data, _ := json.Marshal(f)
		p := filepath.Join(t.TempDir(), "facts.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	actions := func(server string) map[string]string {
		return map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": server, "GITHUB_REPOSITORY": "acme/app", "GITHUB_REPOSITORY_ID": "42",
			"GITHUB_REPOSITORY_OWNER_ID": "7", "GITHUB_REF": "refs/heads/main", "GITHUB_SHA": strings.Repeat("a", 40),
			"GITHUB_WORKFLOW_REF": "acme/app/.github/workflows/release.yml@refs/heads/main", "GITHUB_EVENT_NAME": "push",
			"GITHUB_RUN_ID": "99", "GITHUB_RUN_ATTEMPT": "1", "RUNNER_ENVIRONMENT": "github-hosted"}
	}
	tests := []struct {
		name   string
		flags  func(t *testing.T) Request
		iss    string
		env    map[string]string
		want   []string
		reject bool
	}{
		{name: "facts from a GHES token", flags: func(*testing.T) Request { return Request{FactsFromToken: true} }, iss: ghesIss, want: want(ghes)},
		{name: "facts from a ghe.com token", flags: func(*testing.T) Request { return Request{FactsFromToken: true} }, iss: tenantIss, want: want(tenant)},
		{name: "facts from a ghe.com token with an enterprise slug", flags: func(*testing.T) Request { return Request{FactsFromToken: true} }, iss: tenantIss + "/octo", want: want(tenant)},
		{name: "facts from a github.com token", flags: func(*testing.T) Request { return Request{FactsFromToken: true} }, iss: "https://token.actions.githubusercontent.com", want: want("https://github.com")},
		{name: "facts from another issuer's token, GITHUB_SERVER_URL set", flags: func(*testing.T) Request { return Request{FactsFromToken: true} },
			iss: "http://127.0.0.1:5556", env: map[string]string{"GITHUB_SERVER_URL": ghes}, want: want(ghes)},
		{name: "facts from another issuer's token", flags: func(*testing.T) Request { return Request{FactsFromToken: true} }, iss: "http://127.0.0.1:5556", want: want("https://github.com")},
		{name: "facts file without a server, GHES token", flags: func(t *testing.T) Request { return Request{FactsFile: factsFile(t, "")} }, iss: ghesIss, want: want(ghes)},
		{name: "facts file naming the token's server", flags: func(t *testing.T) Request { return Request{FactsFile: factsFile(t, tenant)} }, iss: tenantIss, want: want(tenant)},
		{name: "facts file naming github.com, GHES token", flags: func(t *testing.T) Request { return Request{FactsFile: factsFile(t, "https://github.com")} }, iss: ghesIss, reject: true},
		{name: "runner environment on github.com, ghe.com token", flags: func(*testing.T) Request { return Request{} }, iss: tenantIss, env: actions("https://github.com"), reject: true},
		{name: "runner environment on GHES, its token", flags: func(*testing.T) Request { return Request{} }, iss: ghesIss, env: actions(ghes), want: want(ghes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := statementFor(t, tt.flags(t), ghesClaims(tt.iss), tt.env)
			if tt.reject {
				var ce *githubctx.ContradictionError
				if !errors.As(err, &ce) || ce.Claim != "iss" || ce.Fact != "server_url" || !strings.Contains(err.Error(), "nothing was signed") {
					t.Fatalf("err = %v, want the server refused as contradicting the token's iss", err)
				}
				t.Logf("%v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := uris(st); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("URIs\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

const publicGoodSigningConfig = "../../testdata/signing-configs/public-good.json"

func loadSigningConfig(t *testing.T, path string) *root.SigningConfig {
	t.Helper()
	sc, err := root.NewSigningConfigFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestCheckVisibility(t *testing.T) {
	public := loadSigningConfig(t, publicGoodSigningConfig)
	private := loadSigningConfig(t, "testdata/signing_config-private.json")
	tests := []struct {
		name       string
		visibility string
		sc         *root.SigningConfig
		req        Request
		wantMsg    string // "" passes
	}{
		{name: "public repository, public-good", visibility: "public", sc: public},
		{name: "no visibility claim (not GitHub)", sc: public},
		{name: "private repository, public-good", visibility: "private", sc: public,
			wantMsg: "acme/app is private, and signing would publish its name, workflow and commit for anyone to read: a transparency log entry at https://rekor.sigstore.dev and the signing certificate in the certificate transparency log of https://fulcio.sigstore.dev; pass --private-repository"},
		{name: "internal repository, public-good", visibility: "internal", sc: public, wantMsg: "acme/app is internal"},
		{name: "private repository, consent", visibility: "private", sc: public, req: Request{PrivateRepository: true}},
		{name: "private repository, timestamp only, public-good Fulcio still publishes", visibility: "private", sc: public, req: Request{Private: true},
			wantMsg: "publish its name, workflow and commit for anyone to read: the signing certificate in the certificate transparency log of https://fulcio.sigstore.dev;"},
		{name: "private repository, private Sigstore", visibility: "private", sc: private},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := map[string]any{"repository": "acme/app"}
			if tt.visibility != "" {
				claims["repository_visibility"] = tt.visibility
			}
			err := checkVisibility(claims, tt.sc, tt.req)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrPrivateRepository) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want ErrPrivateRepository saying %q", err, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), "private-repository: true") || !strings.HasSuffix(err.Error(), "(nothing was signed)") {
				t.Errorf("err = %v: want the input named and nothing signed", err)
			}
		})
	}
}
