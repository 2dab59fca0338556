package workflows_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/githubapi/githubtest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// The ref the example callers use, and the remote actions the workflows
// use, each replaced under act by a local folder.
const (
	callerRepo   = "acme/app"
	repositoryID = "700000001"
	ownerID      = "700000000"
)

// hallmarkRef is the release the docs and example callers name
// (scripts/release.sh --pin rewrites it); TestPinnedRefs holds every pin to
// it.
var hallmarkRef = func() string {
	data, err := os.ReadFile(filepath.Join("examples", "generic.yml"))
	if err != nil {
		panic(err)
	}
	m := regexp.MustCompile(`hallmark-dev/hallmark/\.github/workflows/generic\.yml@(v[0-9][^\s]*)`).FindSubmatch(data)
	if m == nil {
		panic("examples/generic.yml names no release of the generic workflow")
	}
	return string(m[1])
}()

var stubs = map[string]string{
	"actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02":   "upload-artifact",
	"actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093": "download-artifact",
	"actions/setup-go@d35c59abb061a4a6fb18e82ac0862c26744d6ab5":          "setup-go",
	"docker/login-action@74a5d142397b4f367a81961eba4e8cd7edddf772":       "login-action",
	"docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83":  "build-push-action",
	// Only checkouts of another repository reach the stand-in (the
	// reusable workflows' checkout of their own commit): act copies the
	// caller's own repository itself.
	"actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683": "checkout",
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
// With prebuilt set, its checksums file lists it as the release binary
// for linux/amd64, and each of more (hallmark-sbom) under its own name.
func actionRepo(tb testing.TB, prebuilt string, more ...string) string {
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
		var lines strings.Builder
		for _, bin := range append([]string{prebuilt}, more...) {
			fmt.Fprintf(&lines, "%s  %s/%s_linux_amd64\n", sha256File(tb, bin), hallmarkRef, releaseName(bin))
		}
		if err := os.WriteFile(filepath.Join(dst, ".github", "hallmark-checksums.txt"), []byte(lines.String()), 0o644); err != nil {
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

// releaseName is the release asset a binary stands for: hallmark for the
// hallmark binary, hallmark-sbom for the SBOM generator.
func releaseName(bin string) string {
	if filepath.Base(bin) == "hallmark-sbom" {
		return "hallmark-sbom"
	}
	return "hallmark"
}

// releaseServer serves each of bins as its release binary at
// /TAG/NAME_linux_amd64.
func releaseServer(tb testing.TB, bins ...string) string {
	tb.Helper()
	assets := map[string]string{}
	for _, bin := range bins {
		assets["/"+hallmarkRef+"/"+releaseName(bin)+"_linux_amd64"] = bin
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bin, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, bin)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// newCaller makes a git repository acme/app holding the caller workflow
// src (a file of this folder, such as examples/generic.yml), the policy
// and trusted root its verify job reads, and files.
func newCaller(tb testing.TB, src string, files map[string]string) (dir, sha string) {
	tb.Helper()
	dir = tb.TempDir()
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	files[".github/workflows/"+filepath.Base(src)] = string(data)
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

// fixture is what an act run of an example needs: the sandbox, the L3
// policy, and a copy of this repository standing in for
// hallmark-dev/hallmark@v1.0.0 whose checksums file pins a hallmark built
// from this tree, served as its release binary.
type fixture struct {
	sb         *sandbox.Sandbox
	policy     string
	policyPath string
	actionDir  string
	releaseURL string
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	return newFixtureWith(tb)
}

// newSBOMFixture is newFixture whose release also holds hallmark-sbom.
func newSBOMFixture(tb testing.TB) *fixture {
	tb.Helper()
	return newFixtureWith(tb, sandboxtest.SBOMGenerator(tb))
}

func newFixtureWith(tb testing.TB, more ...string) *fixture {
	tb.Helper()
	sb := sandboxtest.Start(tb)
	bin := sandboxtest.Binary(tb)
	f := &fixture{sb: sb, policy: policy(sb.IssuerURL), actionDir: actionRepo(tb, bin, more...), releaseURL: releaseServer(tb, append([]string{bin}, more...)...)}
	f.policyPath = filepath.Join(tb.TempDir(), "policy.yaml")
	if err := os.WriteFile(f.policyPath, []byte(f.policy), 0o644); err != nil {
		tb.Fatal(err)
	}
	return f
}

// caller makes the caller repository for src with the policy and the
// sandbox's trusted root under .github/, and files.
func (f *fixture) caller(tb testing.TB, src string, files map[string]string) (dir, sha string) {
	tb.Helper()
	trusted, err := os.ReadFile(f.sb.TrustedRootPath())
	if err != nil {
		tb.Fatal(err)
	}
	if files == nil {
		files = map[string]string{}
	}
	files[".github/hallmark-policy.yaml"] = f.policy
	files[".github/trusted_root.json"] = string(trusted)
	return newCaller(tb, src, files)
}

// actionSHA is the commit of the action folder, hallmark-dev/hallmark at
// hallmarkRef.
func (f *fixture) actionSHA(tb testing.TB) string {
	tb.Helper()
	return gitHead(tb, f.actionDir)
}

// run runs c in the caller's folder with the release binary served.
func (f *fixture) run(tb testing.TB, dir, sha string, c actCase) actRun {
	tb.Helper()
	env := map[string]string{"HALLMARK_RELEASE_BASE_URL": f.releaseURL}
	maps.Copy(env, c.env)
	c.env = env
	return runAct(tb, f.sb, dir, sha, c, f.actionDir)
}

// hallmarkWorkflow is the job_workflow_ref of Hallmark's reusable workflow
// file at the ref the examples use, and builderID the builder.id it gives.
func hallmarkWorkflow(file string) (jobWorkflow, builderID string) {
	jobWorkflow = "hallmark-dev/hallmark/.github/workflows/" + file + "@refs/tags/" + hallmarkRef
	return jobWorkflow, "https://github.com/" + jobWorkflow
}

type actRun struct {
	Output    string
	Artifacts string
	// GitHub is the fake of GitHub's API the run's jobs used.
	GitHub *githubtest.Server
	// ActionTime is the attest action's wall time as act reports it, from
	// its first step to the bundle written.
	ActionTime time.Duration
	// Err is act's exit error, for runs expected to fail.
	Err error
}

// actCase is one act run of a caller's workflow.
type actCase struct {
	// workflow is the caller's workflow file under .github/workflows.
	workflow string
	// jobWorkflow is the job_workflow_ref claim of the signing job's
	// tokens: Hallmark's reusable workflow at its ref.
	jobWorkflow string
	// event triggers the run (push when empty); payload is its event
	// payload, JSON, given to act with -e.
	event, payload string
	// ref is the run's GITHUB_REF and the tokens' ref claim
	// (refs/heads/main when empty). It must be what act derives from the
	// event: the ref of a push or workflow_dispatch payload,
	// refs/tags/TAG of a release, refs/pull/N/merge of a pull request.
	ref string
	// noToken leaves out the token request variables, as GitHub does for
	// pull requests from forks.
	noToken bool
	// wantFail expects act to fail; the run is returned, not fatal.
	wantFail bool
	// env, vars and secrets are the run's environment, `vars` and
	// `secrets` contexts; actor is github.actor.
	env, vars, secrets map[string]string
	actor              string
	// claims are more claims of the run's tokens, such as
	// repository_visibility.
	claims map[string]string
	// actionRefs are more refs of hallmark-dev/hallmark act reads from
	// local folders (REF -> folder), beyond hallmarkRef.
	actionRefs map[string]string
	// jobWorkflowSHA is the job_workflow_sha claim: the commit of the
	// reusable workflow; default, the commit of the action folder.
	jobWorkflowSHA string
	// github is the fake of GitHub's API; a new one when nil.
	github *githubtest.Server
}

// jobToken is the GITHUB_TOKEN of act's jobs, unless a test sets its own.
const jobToken = "ghs_act_job_token_3f9a"

// gitHead commits dir as a git repository when it is not one yet, and
// returns its HEAD.
func gitHead(tb testing.TB, dir string) string {
	tb.Helper()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=release@example.com", "-c", "user.name=release"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		git("init", "-q", "-b", "main")
		git("add", "-A")
		git("commit", "-q", "-m", "hallmark")
		git("tag", hallmarkRef)
	}
	return git("rev-parse", "HEAD")
}

// runAct runs c under act in self-hosted mode in the caller's folder, with
// the sandbox's token endpoint issuing tokens whose claims match the event.
func runAct(tb testing.TB, sb *sandbox.Sandbox, caller, sha string, c actCase, actionDir string) actRun {
	tb.Helper()
	act := toolcachetest.Tool(tb, toolcache.Act)
	event, ref := c.event, c.ref
	if event == "" {
		event = "push"
	}
	if ref == "" {
		ref = "refs/heads/main"
	}
	wfRef := callerRepo + "/.github/workflows/" + c.workflow + "@" + ref
	runID := fmt.Sprint(time.Now().UnixNano() % 1e9)
	jobSHA := c.jobWorkflowSHA
	if jobSHA == "" {
		jobSHA = gitHead(tb, actionDir)
	}
	claims := map[string]string{
		"repository": callerRepo, "repository_id": repositoryID, "repository_owner_id": ownerID,
		"ref": ref, "sha": sha, "event_name": event, "run_id": runID, "run_attempt": "1",
		"workflow_ref": wfRef, "job_workflow_ref": c.jobWorkflow, "job_workflow_sha": jobSHA, "runner_environment": "github-hosted",
	}
	maps.Copy(claims, c.claims)
	env, err := sb.ActionsEnv(claims)
	if err != nil {
		tb.Fatal(err)
	}
	// GitHub's API for the attestation store, with the job's token.
	gh := c.github
	if gh == nil {
		gh = githubtest.Start(tb)
		gh.AddRepository(callerRepo, 700000001, claims["repository_visibility"] == "private")
	}
	secrets := map[string]string{"GITHUB_TOKEN": jobToken}
	maps.Copy(secrets, c.secrets)
	gh.AddToken(secrets["GITHUB_TOKEN"], true)
	env["GITHUB_API_URL"] = gh.URL
	// The reusable workflows check out hallmark-dev/hallmark at their own
	// commit from here.
	repos := tb.TempDir()
	if err := os.MkdirAll(filepath.Join(repos, "hallmark-dev"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(actionDir, filepath.Join(repos, "hallmark-dev", "hallmark")); err != nil {
		tb.Fatal(err)
	}
	env["HALLMARK_TEST_REPOSITORIES"] = repos
	requestToken := env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
	if c.noToken {
		// Set empty rather than left out, so that none leaks in from the
		// environment of the test.
		env["ACTIONS_ID_TOKEN_REQUEST_URL"], env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "", ""
	}
	artifacts := tb.TempDir()
	env["GITHUB_RUN_ID"] = runID
	env["GITHUB_RUN_ATTEMPT"] = "1"
	env["GITHUB_REPOSITORY_ID"] = repositoryID
	env["GITHUB_REPOSITORY_OWNER_ID"] = ownerID
	env["GITHUB_WORKFLOW_REF"] = wfRef
	env["RUNNER_ENVIRONMENT"] = "github-hosted"
	env["HALLMARK_TEST_ARTIFACTS"] = artifacts
	maps.Copy(env, c.env)
	args := []string{event, "-W", ".github/workflows/" + c.workflow, "-P", "ubuntu-latest=-self-hosted",
		"--action-offline-mode",
		"--local-repository", "hallmark-dev/hallmark@" + hallmarkRef + "=" + actionDir}
	for ref, dir := range c.actionRefs {
		args = append(args, "--local-repository", "hallmark-dev/hallmark@"+ref+"="+dir)
	}
	for uses, dir := range stubs {
		args = append(args, "--local-repository", uses+"="+filepath.Join(repoRoot(tb), "reusable-workflows", "testdata", "stubs", dir))
	}
	private := tb.TempDir()
	if c.payload != "" {
		p := filepath.Join(private, "event.json")
		if err := os.WriteFile(p, []byte(c.payload), 0o644); err != nil {
			tb.Fatal(err)
		}
		args = append(args, "-e", p)
	}
	if c.actor != "" {
		args = append(args, "--actor", c.actor)
	}
	for k, v := range c.vars {
		args = append(args, "--var", k+"="+v)
	}
	// The request token and the secrets go to act in private files, not
	// on its command line.
	args = append(args, "--env-file", dotenv(tb, filepath.Join(private, "act.env"), env))
	args = append(args, "--secret-file", dotenv(tb, filepath.Join(private, "act.secrets"), secrets))
	cmd := exec.Command(act, args...)
	cmd.Dir = caller
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	tb.Logf("act %s %s: %s", event, c.workflow, time.Since(start).Round(time.Millisecond))
	log := strings.ReplaceAll(out.String(), requestToken, "***")
	if strings.Contains(log, secrets["GITHUB_TOKEN"]) {
		tb.Errorf("the job's GITHUB_TOKEN is in act's log")
	}
	switch {
	case err != nil && !c.wantFail:
		tb.Fatalf("act %s %s: %v\n%s", event, c.workflow, err, tail(log, 80))
	case err == nil && c.wantFail:
		tb.Fatalf("act %s %s passed; want it to fail\n%s", event, c.workflow, tail(log, 80))
	}
	return actRun{Output: log, Artifacts: artifacts, ActionTime: actionTime(log), Err: err, GitHub: gh}
}

// dotenv writes vars to path in the format of act's --env-file and
// --secret-file, readable only by the owner, and returns path.
func dotenv(tb testing.TB, path string, vars map[string]string) string {
	tb.Helper()
	var b strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&b, "%s=%q\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
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
// under a policy that demands L3 from Hallmark's reusable workflows, built
// from ref (refs/heads/B or refs/tags/T) of the caller by builder.
func verifyL3(tb testing.TB, f *fixture, artifact, bundle, builder, ref string) {
	tb.Helper()
	verifyCommandL3(tb, f, "verify-artifact", artifact, "--provenance-path", bundle, "--builder-id", builder, sourceRefFlag(ref))
}

func sourceRefFlag(ref string) string {
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "--source-tag=" + tag
	}
	return "--source-branch=" + strings.TrimPrefix(ref, "refs/heads/")
}

// verifyCommandL3 runs a hallmark verify command with args, the caller's
// source, the policy and the sandbox's trusted root, and wants one verdict:
// passed at L3.
func verifyCommandL3(tb testing.TB, f *fixture, args ...string) {
	tb.Helper()
	args = append(args, "--source-uri", "github.com/"+callerRepo,
		"--policy", f.policyPath, "--trusted-root", f.sb.TrustedRootPath(), "--format", "json")
	out, err := exec.Command(sandboxtest.Binary(tb), args...).Output()
	if err != nil {
		tb.Fatalf("hallmark %s: %v\n%s", strings.Join(args, " "), err, out)
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
		tb.Fatalf("hallmark %s: want passed at L3, got %s", strings.Join(args, " "), out)
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

// statementOf decodes the in-toto statement in the bundle's DSSE envelope
// into st.
func statementOf(tb testing.TB, bundle string, st any) {
	tb.Helper()
	data, err := os.ReadFile(bundle)
	if err != nil {
		tb.Fatal(err)
	}
	var b struct {
		DSSE struct {
			Payload []byte `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b.DSSE.Payload, st); err != nil {
		tb.Fatal(err)
	}
}

// mustContainEvent checks that the provenance in bundle records the event
// that triggered the run and the ref it built.
func mustContainEvent(tb testing.TB, bundle, event, ref string) {
	tb.Helper()
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				InternalParameters struct {
					GitHub struct {
						EventName string `json:"event_name"`
					} `json:"github"`
				} `json:"internalParameters"`
				ResolvedDependencies []struct {
					URI string `json:"uri"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	statementOf(tb, bundle, &st)
	bd := st.Predicate.BuildDefinition
	if got := bd.InternalParameters.GitHub.EventName; got != event {
		tb.Errorf("provenance event_name = %q, want %q", got, event)
	}
	if len(bd.ResolvedDependencies) == 0 || !strings.HasSuffix(bd.ResolvedDependencies[0].URI, "@"+ref) {
		tb.Errorf("provenance resolvedDependencies = %+v, want the source at %s", bd.ResolvedDependencies, ref)
	}
}

// stepSummary returns what the steps of job (as act names it in its log,
// WORKFLOW/JOB) wrote to GITHUB_STEP_SUMMARY: act reads the file after each
// step and logs it as "Summary - CONTENT", continued on lines of their own.
//
// Tests read why a step failed from its summary, not from its log: act
// v0.2.89 in self-hosted mode (pkg/container/host_environment.go) returns
// as soon as a failing step's process exits, without draining the
// terminal its output goes through, so the last lines of a failing step
// are sometimes missing from act's log. The summary is a file.
func stepSummary(log, job string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(log, "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(line, "["), "]"); ok && strings.HasPrefix(line, "[") {
			in = false
			if strings.TrimSpace(name) == job {
				if _, s, ok := strings.Cut(line, "Summary - "); ok {
					in = true
					b.WriteString(s + "\n")
				}
			}
			continue
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
