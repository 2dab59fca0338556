package ghaction_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
)

func TestVerifyArgs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"app-amd64", "app-arm64", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		inputs  map[string]string
		want    []string
		wantErr string
	}{
		{
			name: "every input",
			inputs: map[string]string{
				"artifact-path": dir + "/app-*\n" + dir + "/notes.txt\n", "provenance-path": "p.json", "trusted-root": "tr.json",
				"source-uri": "github.com/acme/app", "source-tag": "v1.2.3", "source-branch": "main", "source-versioned-tag": "v1",
				"builder-id": "B", "build-workflow-input": "channel=beta\n\nnote=a b\n", "cert-identity": "I", "cert-identity-regex": "R",
				"cert-oidc-issuer": "O", "signer-workflow": "acme/app/.github/workflows/x.yml", "deny-self-hosted-runners": "true", "policy": "pol.yaml",
				"min-level": "3",
			},
			want: []string{"verify-artifact", dir + "/app-amd64", dir + "/app-arm64", dir + "/notes.txt",
				"--provenance-path", "p.json", "--source-uri", "github.com/acme/app", "--source-tag", "v1.2.3", "--source-branch", "main",
				"--source-versioned-tag", "v1", "--builder-id", "B", "--cert-identity", "I", "--cert-identity-regex", "R",
				"--cert-oidc-issuer", "O", "--signer-workflow", "acme/app/.github/workflows/x.yml", "--min-level", "3", "--trusted-root", "tr.json", "--policy", "pol.yaml",
				"--build-workflow-input", "channel=beta", "--build-workflow-input", "note=a b", "--deny-self-hosted-runners", "--format", "json"},
		},
		{
			name:   "empty inputs give no flags",
			inputs: map[string]string{"artifact-path": dir + "/notes.txt", "provenance-path": "p.json", "trusted-root": "tr.json", "deny-self-hosted-runners": "false"},
			want:   []string{"verify-artifact", dir + "/notes.txt", "--provenance-path", "p.json", "--trusted-root", "tr.json", "--format", "json"},
		},
		{name: "no artifact", inputs: map[string]string{"artifact-path": "\n"}, wantErr: "artifact-path is required"},
		{name: "glob matches nothing", inputs: map[string]string{"artifact-path": dir + "/missing-*"}, wantErr: "matches no file"},
		{name: "bad glob", inputs: map[string]string{"artifact-path": dir + "/["}, wantErr: "syntax error in pattern"},
		{name: "not a boolean", inputs: map[string]string{"artifact-path": dir + "/notes.txt", "deny-self-hosted-runners": "1"}, wantErr: "is not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, tt.inputs)
			got, err := ghaction.VerifyArgs(githubactions.New(githubactions.WithGetenv(r.getenv), githubactions.WithWriter(io.Discard)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("args\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestVerifyArgsFileLikeAFlag checks that a matched file whose name starts
// with a dash reaches verify-artifact as a file, never as a flag.
func TestVerifyArgsFileLikeAFlag(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "--policy=evil.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	r := newRunner(t, map[string]string{"artifact-path": "*"})
	got, err := ghaction.VerifyArgs(githubactions.New(githubactions.WithGetenv(r.getenv), githubactions.WithWriter(io.Discard)))
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != "./--policy=evil.yaml" {
		t.Errorf("artifact argument %q, want ./--policy=evil.yaml", got[1])
	}
}

// fakeRun answers as `hallmark verify-artifact --format json` would.
func fakeRun(exit int, stdout, stderr string) ghaction.Runner {
	return func(_ context.Context, _ []string, o, e io.Writer) int {
		io.WriteString(o, stdout)
		io.WriteString(e, stderr)
		return exit
	}
}

func TestVerify(t *testing.T) {
	const pass = `{"artifact":"dist/app","digest":"sha256:aa","passed":true,"slsaBuildLevel":3,"builderID":"https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"}`
	tests := []struct {
		name        string
		run         ghaction.Runner
		wantCheck   string // of the *VerifyError; "" passes
		wantOutputs map[string]string
		wantSummary []string
	}{
		{
			name:        "passes",
			run:         fakeRun(0, `{"passed":true,"verdicts":[`+pass+`,`+strings.Replace(pass, `"slsaBuildLevel":3`, `"slsaBuildLevel":2`, 1)+`]}`, ""),
			wantOutputs: map[string]string{"passed": "true", "slsa-level": "2"},
			wantSummary: []string{"### Hallmark: verification passed", "| `dist/app` | `sha256:aa` | passed | L3 | `https://github.com/hallmark-dev/"},
		},
		{
			name: "source mismatch",
			run: fakeRun(1, `{"passed":false,"verdicts":[`+pass+`,{"artifact":"dist/a|b","digest":"sha256:bb","passed":false,`+
				`"failure":{"check":"source","message":"source: want https://github.com/acme/other, got https://github.com/acme/app"}}]}`, "verification failed"),
			wantCheck:   "source",
			wantOutputs: map[string]string{"passed": "false"},
			wantSummary: []string{"### Hallmark: verification FAILED", "| `dist/a\\|b` | `sha256:bb` | **FAILED** | | `source`: `source: want https://github.com/acme/other, got https://github.com/acme/app` |"},
		},
		{
			name:        "no verdict",
			run:         fakeRun(2, "", "error: --trusted-root: open tr.json: no such file or directory\n```\n# injected"),
			wantCheck:   "input",
			wantOutputs: map[string]string{"passed": "false"},
			wantSummary: []string{"### Hallmark: verification FAILED\n\n````\nerror: --trusted-root: open tr.json"},
		},
	}
	dir := t.TempDir()
	art := filepath.Join(dir, "app")
	if err := os.WriteFile(art, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, map[string]string{"artifact-path": art, "provenance-path": "p.json", "trusted-root": "tr.json"})
			var stderr bytes.Buffer
			err := ghaction.Verify(context.Background(), ghaction.VerifyConfig{Run: tt.run, Getenv: r.getenv, Stdout: io.Discard, Stderr: &stderr})
			var ve *ghaction.VerifyError
			switch {
			case tt.wantCheck == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantCheck != "" && !errors.As(err, &ve):
				t.Fatalf("err = %v, want a *VerifyError", err)
			case tt.wantCheck != "" && ve.Check != tt.wantCheck:
				t.Errorf("failed check %q, want %q", ve.Check, tt.wantCheck)
			}
			if ve != nil && ve.Check == "input" && ve.Artifact != art {
				t.Errorf("failure names artifact %q, want %q", ve.Artifact, art)
			}
			if got := r.outputs(t); !reflect.DeepEqual(got, tt.wantOutputs) {
				t.Errorf("outputs %v, want %v", got, tt.wantOutputs)
			}
			summary := r.read(t, r.summary)
			for _, w := range tt.wantSummary {
				if !strings.Contains(summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, summary)
				}
			}
		})
	}
}
