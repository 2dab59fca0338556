package workflows_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// The ref the example callers use, and the remote actions the workflows
// use, each replaced under act by a local folder.
const (
	hallmarkRef  = "v1.0.0"
	callerRepo   = "acme/app"
	repositoryID = "700000001"
	ownerID      = "700000000"
)

var stubs = map[string]string{
	"actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02":   "upload-artifact",
	"actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093": "download-artifact",
	"actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5":          "setup-go",
}

// repoRoot is the module's root folder.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// actionRepo copies what the hallmark-dev/hallmark repository holds at a
// ref (sources, actions, workflows) into a folder act uses in its stead.
// With prebuilt set, its checksums file lists bin as the release binary
// for linux/amd64.
func actionRepo(tb testing.TB, prebuilt string) string {
	tb.Helper()
	root := repoRoot(tb)
	dst := tb.TempDir()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" || !(f == "go.mod" || f == "go.sum" || f == "action.yml" ||
			strings.HasPrefix(f, "cmd/") || strings.HasPrefix(f, "internal/") ||
			strings.HasPrefix(f, "verifier/") || strings.HasPrefix(f, ".github/")) ||
			strings.Contains(f, "/testdata/") || strings.HasSuffix(f, "_test.go") && !strings.Contains(f, "sandboxtest") {
			continue
		}
		copyFile(tb, filepath.Join(root, f), filepath.Join(dst, f))
	}
	if prebuilt != "" {
		sum := sha256File(tb, prebuilt)
		line := fmt.Sprintf("%s  %s/hallmark_linux_amd64\n", sum, hallmarkRef)
		if err := os.WriteFile(filepath.Join(dst, ".github", "hallmark-checksums.txt"), []byte(line), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

func copyFile(tb testing.TB, src, dst string) {
	tb.Helper()
	fi, err := os.Lstat(src)
	if err != nil || !fi.Mode().IsRegular() {
		return // deleted in the working tree, or not a file
	}
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
		tb.Fatal(err)
	}
}

func sha256File(tb testing.TB, path string) string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// releaseServer serves bin as the release binary at /TAG/hallmark_linux_amd64.
func releaseServer(tb testing.TB, bin string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+hallmarkRef+"/hallmark_linux_amd64" {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, bin)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// callerRepo makes a git repository acme/app holding the example caller
// workflow, the policy and trusted root its verify job reads, and files.
func newCaller(tb testing.TB, workflow string, files map[string]string) (dir, sha string) {
	tb.Helper()
	dir = tb.TempDir()
	data, err := os.ReadFile(filepath.Join("examples", workflow))
	if err != nil {
		tb.Fatal(err)
	}
	files[".github/workflows/"+workflow] = string(data)
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=ci@example.com", "-c", "user.name=ci"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://github.com/"+callerRepo+".git")
	git("add", "-A")
	git("commit", "-q", "-m", "caller")
	return dir, git("rev-parse", "HEAD")
}

// policy demands L3 from Hallmark's reusable workflows at v* tags, with
// the sandbox's issuer.
func policy(issuer string) string {
	return fmt.Sprintf(`issuers: [%q]
minLevel: 3
builders:
  - name: hallmark
    signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/{generic,container,go}.yml@refs/tags/v*"
    maxLevel: 3
`, issuer)
}

type actRun struct {
	Output    string
	Artifacts string
	// ActionTime is the attest action's wall time as act reports it, from
	// its first step to the bundle written.
	ActionTime time.Duration
}

// runAct runs the workflow of caller under act in self-hosted mode, with
// the sandbox's token endpoint for a job whose tokens name jobWorkflow.
func runAct(tb testing.TB, sb *sandbox.Sandbox, caller, sha, workflow, jobWorkflow string, actionDir string, extraEnv map[string]string) actRun {
	tb.Helper()
	act := sandboxtest.Tool(tb, sandbox.Act)
	wfRef := callerRepo + "/.github/workflows/" + workflow + "@refs/heads/main"
	runID := fmt.Sprint(time.Now().UnixNano() % 1e9)
	env, err := sb.ActionsEnv(map[string]string{
		"repository": callerRepo, "repository_id": repositoryID, "repository_owner_id": ownerID,
		"ref": "refs/heads/main", "sha": sha, "event_name": "push", "run_id": runID, "run_attempt": "1",
		"workflow_ref": wfRef, "job_workflow_ref": jobWorkflow, "runner_environment": "github-hosted",
	})
	if err != nil {
		tb.Fatal(err)
	}
	artifacts := tb.TempDir()
	env["GITHUB_RUN_ID"] = runID
	env["GITHUB_RUN_ATTEMPT"] = "1"
	env["GITHUB_REPOSITORY_ID"] = repositoryID
	env["GITHUB_REPOSITORY_OWNER_ID"] = ownerID
	env["GITHUB_WORKFLOW_REF"] = wfRef
	env["RUNNER_ENVIRONMENT"] = "github-hosted"
	env["HALLMARK_TEST_ARTIFACTS"] = artifacts
	for k, v := range extraEnv {
		env[k] = v
	}
	args := []string{"push", "-W", ".github/workflows/" + workflow, "-P", "ubuntu-latest=-self-hosted",
		"--action-offline-mode",
		"--local-repository", "hallmark-dev/hallmark@" + hallmarkRef + "=" + actionDir}
	for uses, dir := range stubs {
		args = append(args, "--local-repository", uses+"="+filepath.Join(repoRoot(tb), "reusable-workflows", "testdata", "stubs", dir))
	}
	// The request token is a secret of the job: it goes to act in a
	// private env file, not on its command line.
	var envFile strings.Builder
	for k, v := range env {
		fmt.Fprintf(&envFile, "%s=%q\n", k, v)
	}
	envPath := filepath.Join(tb.TempDir(), "act.env")
	if err := os.WriteFile(envPath, []byte(envFile.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	args = append(args, "--env-file", envPath)
	cmd := exec.Command(act, args...)
	cmd.Dir = caller
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	tb.Logf("act %s: %s", workflow, time.Since(start).Round(time.Millisecond))
	log := strings.ReplaceAll(out.String(), env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], "***")
	if err != nil {
		tb.Fatalf("act %s: %v\n%s", workflow, err, tail(log, 80))
	}
	return actRun{Output: log, Artifacts: artifacts, ActionTime: actionTime(log)}
}

var actionDone = regexp.MustCompile(`Success - Main (?:Sign the provenance|hallmark-dev/hallmark@` + regexp.QuoteMeta(hallmarkRef) + `) \[([0-9.smhµn]+)\]`)

// actionTime is the attest action's duration from act's log.
func actionTime(log string) time.Duration {
	m := actionDone.FindStringSubmatch(log)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(m[1])
	return d
}

func tail(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// verifyL3 checks artifact against bundle with `hallmark verify-artifact`
// under a policy that demands L3 from Hallmark's reusable workflows.
func verifyL3(tb testing.TB, sb *sandbox.Sandbox, policyPath, artifact, bundle, builder string) {
	tb.Helper()
	cmd := exec.Command(sandboxtest.Binary(tb), "verify-artifact", artifact, "--provenance-path", bundle,
		"--source-uri", "github.com/"+callerRepo, "--source-branch", "main", "--builder-id", builder,
		"--policy", policyPath, "--trusted-root", sb.TrustedRootPath(), "--format", "json")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("verify-artifact %s: %v\n%s", artifact, err, out)
	}
	var res struct {
		Passed   bool `json:"passed"`
		Verdicts []struct {
			Level int `json:"slsaBuildLevel"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		tb.Fatal(err)
	}
	if !res.Passed || len(res.Verdicts) != 1 || res.Verdicts[0].Level != 3 {
		tb.Fatalf("verify-artifact %s: want passed at L3, got %s", artifact, out)
	}
}

func mustContain(tb testing.TB, log string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(log, w) {
			tb.Errorf("act log lacks %q", w)
		}
	}
}
