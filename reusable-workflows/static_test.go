package workflows_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// Our workflows and actions, relative to the repository root.
var (
	ourWorkflows = []string{".github/workflows/generic.yml", ".github/workflows/container.yml", ".github/workflows/go.yml",
		".github/workflows/release.yml", ".github/workflows/ci.yml"}
	ourActions = []string{"action.yml", "verifier/action.yml"}
)

// callerWorkflows are the example callers and the test callers, relative
// to this folder.
func callerWorkflows(tb testing.TB) []string {
	tb.Helper()
	examples, _ := filepath.Glob("examples/*.yml")
	callers, _ := filepath.Glob("testdata/callers/*.yml")
	if len(examples) == 0 || len(callers) == 0 {
		tb.Fatal("no example or test callers found")
	}
	return append(examples, callers...)
}

// callerCode are steps that bring in or run the caller's code: a job with
// them must never hold id-token: write.
var callerCode = regexp.MustCompile(`^actions/checkout@|^actions/setup-`)

// callerCommand matches run: scripts that build or run the caller's code.
var callerCommand = regexp.MustCompile(`(?m)(^|[;&|(\s])(go|make|npm|yarn|pnpm|cargo|mvn|gradle|bazel|python3?|sh|bash)\s+\S`)

// expansion is a ${{ }} expression.
var expansion = regexp.MustCompile(`\$\{\{`)

type step struct {
	Uses string         `json:"uses"`
	Run  string         `json:"run"`
	With map[string]any `json:"with"`
}

// ownCheckout is the reusable workflows' checkout of their own commit
// (the repository and commit the job's token names): Hallmark's code, not
// the caller's, so a job with id-token: write may run it.
func ownCheckout(s step) bool {
	return strings.HasPrefix(s.Uses, "actions/checkout@") &&
		s.With["repository"] == "${{ steps.self.outputs.repository }}" && s.With["ref"] == "${{ steps.self.outputs.sha }}" &&
		s.With["path"] == ".hallmark-action" && s.With["persist-credentials"] == false
}

type job struct {
	Permissions any    `json:"permissions"`
	Uses        string `json:"uses"`
	Steps       []step `json:"steps"`
}

type workflow struct {
	Permissions any            `json:"permissions"`
	Jobs        map[string]job `json:"jobs"`
	Runs        struct {
		Steps []step `json:"steps"`
	} `json:"runs"`
}

func load(tb testing.TB, path string) workflow {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return w
}

func idTokenWrite(perms any) bool {
	switch p := perms.(type) {
	case string:
		return p == "write-all"
	case map[string]any:
		return p["id-token"] == "write"
	}
	return false
}

// checkWorkflow returns the rule violations of w: a job that can get
// id-token: write runs caller code, or a run: expands an expression.
func checkWorkflow(w workflow) []string {
	var bad []string
	if idTokenWrite(w.Permissions) {
		bad = append(bad, "workflow-level permissions grant id-token: write")
	}
	for name, j := range w.Jobs {
		if j.Permissions == nil && j.Uses == "" {
			bad = append(bad, fmt.Sprintf("job %s: no permissions: block", name))
		}
		token := idTokenWrite(j.Permissions)
		for i, s := range j.Steps {
			if token && callerCode.MatchString(s.Uses) && !ownCheckout(s) {
				bad = append(bad, fmt.Sprintf("job %s step %d: %s in a job with id-token: write", name, i, s.Uses))
			}
			if token && callerCommand.MatchString(s.Run) {
				bad = append(bad, fmt.Sprintf("job %s step %d: runs a build command in a job with id-token: write", name, i))
			}
			if expansion.MatchString(s.Run) {
				bad = append(bad, fmt.Sprintf("job %s step %d: run: expands ${{ }}; pass values through env:", name, i))
			}
		}
	}
	for i, s := range w.Runs.Steps {
		if expansion.MatchString(s.Run) {
			bad = append(bad, fmt.Sprintf("action step %d: run: expands ${{ }}; pass values through env:", i))
		}
	}
	return bad
}

// TestWorkflowRules holds our workflows and actions to the rules: only
// jobs that run no caller code hold id-token: write, and no run: expands
// event or input data.
func TestWorkflowRules(t *testing.T) {
	root := repoRoot(t)
	for _, f := range append(append([]string(nil), ourWorkflows...), ourActions...) {
		t.Run(f, func(t *testing.T) {
			for _, v := range checkWorkflow(load(t, filepath.Join(root, f))) {
				t.Error(v)
			}
		})
	}
	for _, f := range callerWorkflows(t) {
		t.Run(f, func(t *testing.T) {
			for _, v := range checkWorkflow(load(t, f)) {
				t.Error(v)
			}
		})
	}
}

// TestWorkflowRulesCatch proves the rules reject the mistakes they are for.
func TestWorkflowRulesCatch(t *testing.T) {
	for _, f := range []string{"workflow-id-token-with-checkout.yml", "workflow-id-token-runs-build.yml", "workflow-run-expands-input.yml"} {
		t.Run(f, func(t *testing.T) {
			if v := checkWorkflow(load(t, filepath.Join("testdata", f))); len(v) == 0 {
				t.Errorf("%s passed the rules", f)
			}
		})
	}
}

// TestPinnedRefs checks that every use of Hallmark's own action or
// workflows names the same ref, and every other action a full commit SHA.
func TestPinnedRefs(t *testing.T) {
	root := repoRoot(t)
	uses := regexp.MustCompile(`uses:\s*([^\s#]+)`)
	sha := regexp.MustCompile(`@[0-9a-f]{40}$`)
	files := append(append([]string(nil), ourWorkflows...), ourActions...)
	for _, f := range callerWorkflows(t) {
		files = append(files, filepath.Join("reusable-workflows", f))
	}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(data), -1) {
			u := m[1]
			switch {
			case strings.HasPrefix(u, "./.github/workflows/") && strings.HasPrefix(f, ".github/"):
				// Our own workflow at the caller's commit (the release).
			case u == "./.hallmark-action" && strings.HasPrefix(f, ".github/workflows/"):
				// The action at the reusable workflow's own commit.
			case strings.HasPrefix(u, "hallmark-dev/hallmark"):
				if !strings.HasSuffix(u, "@"+hallmarkRef) {
					t.Errorf("%s: %s: Hallmark's own uses must all name %s", f, u, hallmarkRef)
				}
			case !sha.MatchString(u):
				t.Errorf("%s: %s is not pinned by a full commit SHA", f, u)
			}
		}
	}
}

// TestDocsPinOneRelease: every mention of Hallmark at a release in the
// docs, examples and workflow comments names the same release, the one
// scripts/release.sh --pin wrote.
func TestDocsPinOneRelease(t *testing.T) {
	root := repoRoot(t)
	pin := regexp.MustCompile(`hallmark-dev/hallmark(/[A-Za-z0-9_./-]*)?@(v[0-9]+\.[0-9]+\.[0-9]+[-+0-9A-Za-z.]*)`)
	files := []string{"README.md", "reusable-workflows/README.md"}
	files = append(files, ourWorkflows...)
	for _, f := range callerWorkflows(t) {
		files = append(files, filepath.Join("reusable-workflows", f))
	}
	seen := 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pin.FindAllStringSubmatch(string(data), -1) {
			seen++
			if m[2] != hallmarkRef {
				t.Errorf("%s: %s names %s, the examples %s: run scripts/release.sh --pin %s", f, m[0], m[2], hallmarkRef, hallmarkRef)
			}
		}
	}
	if seen == 0 {
		t.Error("no pin found: the pattern no longer matches the docs")
	}
}

// TestSelfCheckoutIdentical: the three reusable workflows find their own
// commit with the same steps.
func TestSelfCheckoutIdentical(t *testing.T) {
	root := repoRoot(t)
	var first string
	for _, f := range []string{".github/workflows/generic.yml", ".github/workflows/container.yml", ".github/workflows/go.yml"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		i, j := strings.Index(s, "      # This workflow runs the attest action of its own commit"), strings.Index(s, "        uses: ./.hallmark-action")
		if i < 0 || j < i {
			t.Fatalf("%s: no self checkout before the action", f)
		}
		if first == "" {
			first = s[i:j]
		} else if s[i:j] != first {
			t.Errorf("%s: its self checkout differs from generic.yml's", f)
		}
	}
}

// TestActionlint runs actionlint over our workflows and the callers.
func TestActionlint(t *testing.T) {
	if testing.Short() {
		t.Skip("installs actionlint; runs without -short")
	}
	bin := toolcachetest.Tool(t, toolcache.Actionlint)
	root := repoRoot(t)
	args := []string{"-no-color"}
	for _, f := range ourWorkflows {
		args = append(args, filepath.Join(root, f))
	}
	args = append(args, callerWorkflows(t)...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}
