package githubctx_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/golden"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

const sha = "5d2e1c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d"

// pushEnv is the environment of a github-hosted job run by a push to main.
func pushEnv() map[string]string {
	return map[string]string{
		"GITHUB_ACTIONS":             "true",
		"GITHUB_SERVER_URL":          "https://github.com",
		"GITHUB_REPOSITORY":          "acme/app",
		"GITHUB_REPOSITORY_ID":       "123456789",
		"GITHUB_REPOSITORY_OWNER_ID": "987654",
		"GITHUB_REF":                 "refs/heads/main",
		"GITHUB_SHA":                 sha,
		"GITHUB_WORKFLOW_REF":        "acme/app/.github/workflows/release.yml@refs/heads/main",
		"GITHUB_EVENT_NAME":          "push",
		"GITHUB_EVENT_PATH":          filepath.Join("testdata", "event-push.json"),
		"GITHUB_RUN_ID":              "13579246810",
		"GITHUB_RUN_ATTEMPT":         "1",
		"RUNNER_ENVIRONMENT":         "github-hosted",
		// Present in a real job, not read.
		"GITHUB_WORKFLOW": "release",
		"RUNNER_OS":       "Linux",
	}
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func with(env map[string]string, kv ...string) map[string]string {
	env = maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(env, kv[i])
		} else {
			env[kv[i]] = kv[i+1]
		}
	}
	return env
}

var fixedSubjects = []subject.Subject{
	{Name: "dist/app_1.2.3_linux_amd64.tar.gz", Digest: map[string]string{"sha256": strings.Repeat("a1", 32)}},
	{Name: "dist/app_1.2.3_darwin_arm64.tar.gz", Digest: map[string]string{"sha256": strings.Repeat("b2", 32)}},
}

// statementJSON makes the statement a Context gives for fixedSubjects.
func statementJSON(t *testing.T, c provenance.Context) []byte {
	t.Helper()
	b, err := c.Build(context.Background())
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	st, err := provenance.Statement(fixedSubjects, b)
	if err != nil {
		t.Fatalf("Statement: %v", err)
	}
	out, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFromEnvGolden(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		opts   *githubctx.Options
		golden string
	}{
		{
			name:   "push",
			env:    pushEnv(),
			golden: "provenance-push.golden.json",
		},
		{
			name: "pull request",
			env: with(pushEnv(),
				"GITHUB_EVENT_NAME", "pull_request",
				"GITHUB_REF", "refs/pull/42/merge",
				"GITHUB_SHA", "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c",
				"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/ci.yml@refs/pull/42/merge",
				"GITHUB_EVENT_PATH", filepath.Join("testdata", "event-pull-request.json")),
			golden: "provenance-pull-request.golden.json",
		},
		{
			name:   "self-hosted runner",
			env:    with(pushEnv(), "RUNNER_ENVIRONMENT", "self-hosted", "GITHUB_RUN_ATTEMPT", "3"),
			golden: "provenance-self-hosted.golden.json",
		},
		{
			name: "reusable workflow with times",
			env: with(pushEnv(),
				"GITHUB_REF", "refs/tags/v1.2.3",
				"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"),
			opts: &githubctx.Options{
				JobWorkflowRef: "acme/workflows/.github/workflows/build.yml@refs/tags/v2",
				StartedOn:      time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
				FinishedOn:     time.Date(2025, 3, 1, 12, 4, 30, 0, time.UTC),
			},
			golden: "provenance-reusable-workflow.golden.json",
		},
		{
			name: "enterprise server without event payload",
			env: with(pushEnv(),
				"GITHUB_SERVER_URL", "https://ghe.example.com/",
				"GITHUB_EVENT_PATH", "<unset>"),
			golden: "provenance-enterprise-server.golden.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := githubctx.FromEnv(getenv(tt.env), os.ReadFile)
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if tt.opts != nil {
				if c, err = c.With(*tt.opts); err != nil {
					t.Fatalf("With: %v", err)
				}
			}
			golden.JSON(t, tt.golden, statementJSON(t, c))
		})
	}
}

func TestFromEnvNotGitHubActions(t *testing.T) {
	for _, value := range []string{"<unset>", "", "false", "TRUE", "1"} {
		t.Run(value, func(t *testing.T) {
			_, err := githubctx.FromEnv(getenv(with(pushEnv(), "GITHUB_ACTIONS", value)), os.ReadFile)
			if !errors.Is(err, githubctx.ErrNotGitHubActions) {
				t.Fatalf("err = %v, want ErrNotGitHubActions", err)
			}
		})
	}
}

func TestFromEnvMissing(t *testing.T) {
	all := []string{
		"GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_ID", "GITHUB_REPOSITORY_OWNER_ID",
		"GITHUB_REF", "GITHUB_SHA", "GITHUB_WORKFLOW_REF", "GITHUB_EVENT_NAME", "GITHUB_RUN_ID",
		"GITHUB_RUN_ATTEMPT", "RUNNER_ENVIRONMENT",
	}
	tests := []struct {
		name  string
		unset []string
	}{
		{name: "one", unset: []string{"GITHUB_SHA"}},
		{name: "two", unset: []string{"RUNNER_ENVIRONMENT", "GITHUB_REPOSITORY_ID"}},
		{name: "all", unset: all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := pushEnv()
			for _, k := range tt.unset {
				env[k] = ""
			}
			_, err := githubctx.FromEnv(getenv(env), os.ReadFile)
			var me *githubctx.MissingEnvError
			if !errors.Is(err, githubctx.ErrMissingEnv) || !errors.As(err, &me) {
				t.Fatalf("err = %v, want a *MissingEnvError", err)
			}
			var want []string
			for _, k := range all {
				if env[k] == "" {
					want = append(want, k)
				}
			}
			if !reflect.DeepEqual(me.Names, want) {
				t.Errorf("missing %v, want %v", me.Names, want)
			}
		})
	}
}

// factFields lists the Field of every *FactError in err, joined or not.
func factFields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var fe *githubctx.FactError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	return out
}

func TestFromEnvMalformed(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{name: "workflow ref without .github", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app/workflows/release.yml@refs/heads/main"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref without @", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref with empty ref", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/release.yml@"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref without owner", kv: []string{"GITHUB_WORKFLOW_REF", "app/.github/workflows/release.yml@refs/heads/main"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref outside workflows", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app/.github/actions/x.yml@refs/heads/main"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref with @ only before path", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app@x/.github/workflows/release.yml"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "workflow ref with space", kv: []string{"GITHUB_WORKFLOW_REF", "acme/app/.github/workflows/re lease.yml@refs/heads/main"}, want: []string{"GITHUB_WORKFLOW_REF"}},
		{name: "server URL without scheme", kv: []string{"GITHUB_SERVER_URL", "github.com"}, want: []string{"GITHUB_SERVER_URL"}},
		{name: "server URL with path", kv: []string{"GITHUB_SERVER_URL", "https://github.com/acme"}, want: []string{"GITHUB_SERVER_URL"}},
		{name: "repository without owner", kv: []string{"GITHUB_REPOSITORY", "app"}, want: []string{"GITHUB_REPOSITORY"}},
		{name: "repository dot-dot", kv: []string{"GITHUB_REPOSITORY", "acme/.."}, want: []string{"GITHUB_REPOSITORY"}},
		{name: "uppercase sha", kv: []string{"GITHUB_SHA", strings.ToUpper(sha)}, want: []string{"GITHUB_SHA"}},
		{name: "short sha", kv: []string{"GITHUB_SHA", sha[:7]}, want: []string{"GITHUB_SHA"}},
		{name: "short ref", kv: []string{"GITHUB_REF", "main"}, want: []string{"GITHUB_REF"}},
		{name: "bad ids", kv: []string{"GITHUB_RUN_ID", "abc", "GITHUB_RUN_ATTEMPT", "0", "GITHUB_REPOSITORY_ID", "-1"}, want: []string{"GITHUB_REPOSITORY_ID", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"}},
		{name: "unknown runner environment", kv: []string{"RUNNER_ENVIRONMENT", "windows"}, want: []string{"RUNNER_ENVIRONMENT"}},
		{name: "bad event name", kv: []string{"GITHUB_EVENT_NAME", "Push!"}, want: []string{"GITHUB_EVENT_NAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := githubctx.FromEnv(getenv(with(pushEnv(), tt.kv...)), os.ReadFile)
			if !errors.Is(err, githubctx.ErrInvalidFact) {
				t.Fatalf("err = %v, want ErrInvalidFact", err)
			}
			if got := factFields(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("bad facts %v, want %v (err: %v)", got, tt.want, err)
			}
		})
	}
}

func TestFromEnvEventPayload(t *testing.T) {
	readErr := errors.New("disk on fire")
	tests := []struct {
		name     string
		path     string
		readFile func(string) ([]byte, error)
		want     error // nil: FromEnv succeeds
	}{
		{name: "push payload", path: "testdata/event-push.json", readFile: os.ReadFile},
		{name: "absent file", path: "testdata/no-such-event.json", readFile: os.ReadFile},
		{name: "no readFile", path: "testdata/event-malformed.json"},
		{name: "payload without repository", path: "x", readFile: func(string) ([]byte, error) { return []byte(`{"schedule":"0 0 * * *"}`), nil }},
		{name: "malformed JSON", path: "testdata/event-malformed.json", readFile: os.ReadFile, want: githubctx.ErrInvalidEvent},
		{name: "not an object", path: "x", readFile: func(string) ([]byte, error) { return []byte(`["push"]`), nil }, want: githubctx.ErrInvalidEvent},
		{name: "trailing data", path: "x", readFile: func(string) ([]byte, error) { return []byte(`{} {}`), nil }, want: githubctx.ErrInvalidEvent},
		{name: "another repository", path: "testdata/event-other-repository.json", readFile: os.ReadFile, want: githubctx.ErrInvalidEvent},
		{name: "unreadable", path: "x", readFile: func(string) ([]byte, error) { return nil, readErr }, want: readErr},
		{name: "permission denied", path: "x", readFile: func(string) ([]byte, error) { return nil, fs.ErrPermission }, want: fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := githubctx.FromEnv(getenv(with(pushEnv(), "GITHUB_EVENT_PATH", tt.path)), tt.readFile)
			if tt.want == nil {
				if err != nil || c == nil {
					t.Fatalf("FromEnv: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// pushFacts are the facts of pushEnv, as Explicit takes them.
func pushFacts() githubctx.Facts {
	return githubctx.Facts{
		Repository:        "acme/app",
		RepositoryID:      "123456789",
		RepositoryOwnerID: "987654",
		Ref:               "refs/heads/main",
		SHA:               sha,
		WorkflowRef:       "acme/app/.github/workflows/release.yml@refs/heads/main",
		EventName:         "push",
		RunID:             "13579246810",
		RunAttempt:        "1",
		RunnerEnvironment: "github-hosted",
	}
}

func TestExplicitMatchesFromEnv(t *testing.T) {
	fromEnv, err := githubctx.FromEnv(getenv(pushEnv()), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := githubctx.Explicit(pushFacts())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statementJSON(t, explicit), statementJSON(t, fromEnv); !bytes.Equal(got, want) {
		t.Errorf("Explicit and FromEnv differ:\n%s\n%s", got, want)
	}
	if got := explicit.Facts().ServerURL; got != githubctx.DefaultServerURL {
		t.Errorf("ServerURL = %q, want the default", got)
	}
	if !reflect.DeepEqual(explicit.Facts(), fromEnv.Facts()) {
		t.Errorf("Facts differ: %+v vs %+v", explicit.Facts(), fromEnv.Facts())
	}
}

func TestExplicitJobWorkflowRef(t *testing.T) {
	f := pushFacts()
	f.JobWorkflowRef = "acme/workflows/.github/workflows/build.yml@refs/tags/v2"
	c, err := githubctx.Explicit(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://github.com/acme/workflows/.github/workflows/build.yml@refs/tags/v2"; b.BuilderID != want {
		t.Errorf("BuilderID = %q, want %q", b.BuilderID, want)
	}
}

func TestExplicitErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(f *githubctx.Facts)
		want error
		bad  []string
	}{
		{name: "empty", edit: func(f *githubctx.Facts) { *f = githubctx.Facts{} }, want: githubctx.ErrMissingFact, bad: []string{
			"Repository", "RepositoryID", "RepositoryOwnerID", "Ref", "SHA", "WorkflowRef", "EventName", "RunID", "RunAttempt", "RunnerEnvironment",
		}},
		{name: "missing and malformed together", edit: func(f *githubctx.Facts) { f.SHA = ""; f.RunAttempt = "x" }, want: githubctx.ErrMissingFact, bad: []string{"SHA", "RunAttempt"}},
		{name: "malformed job workflow ref", edit: func(f *githubctx.Facts) { f.JobWorkflowRef = "acme/workflows/build.yml" }, want: githubctx.ErrInvalidFact, bad: []string{"JobWorkflowRef"}},
		{name: "malformed server URL", edit: func(f *githubctx.Facts) { f.ServerURL = "ftp://github.com" }, want: githubctx.ErrInvalidFact, bad: []string{"ServerURL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pushFacts()
			tt.edit(&f)
			_, err := githubctx.Explicit(f)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := factFields(err); !reflect.DeepEqual(got, tt.bad) {
				t.Errorf("bad facts %v, want %v", got, tt.bad)
			}
		})
	}
}

func TestWith(t *testing.T) {
	c, err := githubctx.Explicit(pushFacts())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.With(githubctx.Options{JobWorkflowRef: "not a ref"})
	var fe *githubctx.FactError
	if !errors.Is(err, githubctx.ErrInvalidFact) || !errors.As(err, &fe) || fe.Field != "JobWorkflowRef" {
		t.Fatalf("err = %v, want a *FactError for JobWorkflowRef", err)
	}
	job := "acme/workflows/.github/workflows/build.yml@refs/tags/v2"
	c2, err := c.With(githubctx.Options{JobWorkflowRef: job})
	if err != nil {
		t.Fatal(err)
	}
	if c.Facts().JobWorkflowRef != "" || c2.Facts().JobWorkflowRef != job {
		t.Errorf("With changed the original or did not set the copy: %q, %q", c.Facts().JobWorkflowRef, c2.Facts().JobWorkflowRef)
	}
}

func TestBuildCancelled(t *testing.T) {
	c, err := githubctx.Explicit(pushFacts())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Build(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
