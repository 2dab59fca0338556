package githubctx_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
)

// pushFactsJSON is pushFacts as a facts file.
const pushFactsJSON = `{
  "repository": "acme/app",
  "repository_id": "123456789",
  "repository_owner_id": "987654",
  "ref": "refs/heads/main",
  "sha": "` + sha + `",
  "workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
  "event_name": "push",
  "run_id": "13579246810",
  "run_attempt": "1",
  "runner_environment": "github-hosted"
}`

func TestParseFacts(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    error
		wantMsg string // in the error
	}{
		{name: "the documented names", data: pushFactsJSON},
		{name: "with server and job workflow", data: strings.Replace(pushFactsJSON, "{", `{"server_url": "https://octo.ghe.com", "job_workflow_ref": "acme/build/.github/workflows/b.yml@refs/tags/v1",`, 1)},
		{name: "Go field names are refused", data: `{"Repository": "acme/app"}`, want: githubctx.ErrFactsFile, wantMsg: `unknown field "Repository"`},
		{name: "an unknown field", data: strings.Replace(pushFactsJSON, "{", `{"visibility": "public",`, 1), want: githubctx.ErrFactsFile, wantMsg: `unknown field "visibility"`},
		{name: "a number, not a string", data: strings.Replace(pushFactsJSON, `"run_attempt": "1"`, `"run_attempt": 1`, 1), want: githubctx.ErrFactsFile, wantMsg: "run_attempt"},
		{name: "two objects", data: pushFactsJSON + "{}", want: githubctx.ErrFactsFile, wantMsg: "data after the JSON object"},
		{name: "a field twice", data: strings.Replace(pushFactsJSON, "{", `{"sha": "`+strings.Repeat("0", 40)+`",`, 1), want: githubctx.ErrFactsFile, wantMsg: `"sha" given twice`},
		{name: "a name in another case", data: strings.Replace(pushFactsJSON, `"sha"`, `"SHA"`, 1), want: githubctx.ErrFactsFile, wantMsg: `unknown field "SHA"`},
		{name: "not an object", data: `["acme/app"]`, want: githubctx.ErrFactsFile},
		{name: "empty", data: ``, want: githubctx.ErrFactsFile},
		{name: "too large", data: strings.Repeat(" ", 65<<10) + pushFactsJSON, want: githubctx.ErrFactsFile, wantMsg: "more than"},
		{name: "missing facts named as in the file", data: `{"repository": "acme/app"}`, want: githubctx.ErrMissingFact, wantMsg: "repository_id: missing"},
		{name: "malformed fact named as in the file", data: strings.Replace(pushFactsJSON, `"sha": "`+sha, `"sha": "main`, 1), want: githubctx.ErrInvalidFact, wantMsg: `sha "main`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := githubctx.ParseFacts([]byte(tt.data))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Facts().Repository != "acme/app" {
					t.Errorf("facts %+v", c.Facts())
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.wantMsg)
			}
		})
	}
}

// TestParseFactsMatchesExplicit: a facts file means what the same facts
// given to Explicit mean.
func TestParseFactsMatchesExplicit(t *testing.T) {
	fromFile, err := githubctx.ParseFacts([]byte(pushFactsJSON))
	if err != nil {
		t.Fatal(err)
	}
	explicit, err := githubctx.Explicit(pushFacts())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromFile.Facts(), explicit.Facts()) {
		t.Errorf("facts differ:\n%+v\n%+v", fromFile.Facts(), explicit.Facts())
	}
}

// TestFactsSchema keeps docs/facts.schema.json and the parser in step: the
// schema lists exactly the names the parser takes, refuses others, and
// requires what Explicit requires.
func TestFactsSchema(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "facts.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		AdditionalProperties *bool                     `json:"additionalProperties"`
		Required             []string                  `json:"required"`
		Properties           map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	if schema.AdditionalProperties == nil || *schema.AdditionalProperties {
		t.Error("the schema does not refuse other members (additionalProperties: false)")
	}
	var props []string
	for k := range schema.Properties {
		props = append(props, k)
	}
	names := githubctx.FactNames()
	if slices.Sort(props); !slices.Equal(props, slices.Sorted(slices.Values(names))) {
		t.Errorf("schema properties %v, parser names %v", props, names)
	}
	// What the schema requires is what ParseFacts reports missing from {}.
	_, err = githubctx.ParseFacts([]byte(`{}`))
	for _, name := range names {
		missing := strings.Contains(err.Error(), name+": missing")
		if missing != slices.Contains(schema.Required, name) {
			t.Errorf("%s: the parser says missing=%v, the schema required=%v", name, missing, slices.Contains(schema.Required, name))
		}
	}
}

func TestCheckClaims(t *testing.T) {
	c, err := githubctx.Explicit(pushFacts())
	if err != nil {
		t.Fatal(err)
	}
	same := map[string]any{"repository": "acme/app", "sha": sha, "ref": "refs/heads/main", "run_id": "13579246810", "iss": "https://token.actions.githubusercontent.com"}
	if err := c.CheckClaims(same); err != nil {
		t.Errorf("agreeing claims: %v", err)
	}
	if err := c.CheckClaims(map[string]any{"sub": "someone@example.com"}); err != nil {
		t.Errorf("a token with no GitHub claims: %v", err)
	}
	err = c.CheckClaims(map[string]any{"repository": "acme/other", "sha": sha, "ref": "refs/heads/dev"})
	var ce *githubctx.ContradictionError
	if !errors.Is(err, githubctx.ErrContradictsToken) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ContradictionError", err)
	}
	for _, w := range []string{`build fact repository is "acme/app", but the identity token's repository claim is "acme/other"`, `ref is "refs/heads/main"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v, want it to say %q", err, w)
		}
	}
}

func FuzzParseFacts(f *testing.F) {
	f.Add([]byte(pushFactsJSON))
	f.Add([]byte(`{"repository": "a/b", "sha": "` + sha + `"}`))
	f.Add([]byte(`{"server_url": "http://[::1]:0/", "ref": "refs/x\u0000"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := githubctx.ParseFacts(data)
		if err != nil {
			return
		}
		// Facts that parse make a statement.
		if _, err := c.Build(t.Context()); err != nil {
			t.Fatalf("parsed facts do not build: %v", err)
		}
	})
}
