package interop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
)

// The clients, in the matrix's order, and the versions the README names.
const (
	hallmark   = "hallmark"
	cosign     = "cosign"
	gh         = "gh"
	sigstoreGo = "sigstore-go"
	sigstoreJS = "sigstore-js"
	oras       = "oras"
)

var clientOrder = []string{hallmark, cosign, gh, sigstoreGo, sigstoreJS, oras}

var clientVersions = map[string]string{
	hallmark:   "",
	cosign:     sandbox.Cosign.Version,
	gh:         sandbox.Gh.Version,
	sigstoreGo: sandbox.SigstoreGoVerifier.Version + " (examples/sigstore-go-verification)",
	sigstoreJS: sandbox.SigstoreJS.Version + " (@sigstore/verify)",
	oras:       sandbox.Oras.Version,
	// Producers of what Hallmark verifies.
	"actions/attest": "(real bundles from gh's tests)",
}

// tools are the clients' programs.
type tools struct {
	hallmark, cosign, gh, sigstoreGo, oras string
	sigstoreJS                             string // the verifier script, run with node
}

// findTools returns the installed clients. A missing one fails the test:
// scripts/install-deps.sh installs them all.
func findTools(t *testing.T, hallmarkBin string) tools {
	t.Helper()
	cache, err := sandbox.DefaultCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	missing := func(what string) {
		t.Fatalf("%s is not in the tool cache %s: run scripts/install-deps.sh (or go run ./internal/interop/testtools)", what, cache)
	}
	tl := tools{hallmark: hallmarkBin}
	for _, x := range []struct {
		t   sandbox.Tool
		dst *string
	}{{sandbox.Cosign, &tl.cosign}, {sandbox.Oras, &tl.oras}, {sandbox.SigstoreGoVerifier, &tl.sigstoreGo}} {
		p := x.t.Path(cache)
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm()&0o111 == 0 {
			missing(x.t.Name + " " + x.t.Version)
		}
		*x.dst = p
	}
	if !sandbox.Gh.Installed(cache) {
		missing("gh " + sandbox.Gh.Version)
	}
	tl.gh = sandbox.Gh.Path(cache, "gh")
	if !sandbox.SigstoreJS.Installed(cache) {
		missing("sigstore-js " + sandbox.SigstoreJS.Version)
	}
	if tl.sigstoreJS, err = sandbox.SigstoreJS.Path(cache); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: sigstore-js needs Node.js 20 or newer")
	}
	return tl
}

// outcome is what one run of a client said.
type outcome struct {
	ok     bool
	reason string // the client's error, when not ok
	flags  []string
}

// runner runs programs with a private home for their state, no
// credentials and no network but loopback.
type runner struct {
	home string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	home := t.TempDir()
	// An empty docker config: the registries need no credentials.
	os.MkdirAll(filepath.Join(home, ".docker"), 0o700)
	os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(`{"auths":{}}`), 0o600)
	return &runner{home: home}
}

func (r *runner) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "DOCKER_CONFIG", k == "TUF_ROOT", strings.HasPrefix(k, "GH_"), strings.HasPrefix(k, "GITHUB_"),
			strings.HasPrefix(k, "HALLMARK_"), strings.HasPrefix(k, "SIGSTORE_"), strings.HasPrefix(k, "ACTIONS_"), k == "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+r.home,
		"DOCKER_CONFIG="+filepath.Join(r.home, ".docker"),
		"TUF_ROOT="+filepath.Join(r.home, "tuf"),
		"GH_CONFIG_DIR="+filepath.Join(r.home, "gh"),
		"GH_NO_UPDATE_NOTIFIER=1", "GH_PROMPT_DISABLED=1", "NO_COLOR=1",
		"HALLMARK_CACHE="+filepath.Join(r.home, "hallmark-cache"),
	)
}

// run runs a program and returns its output and exit code; a program that
// could not start or ran past the deadline fails the test.
func (r *runner) run(t *testing.T, prog string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return r.runEnv(t, nil, prog, args...)
}

// runEnv is run with more environment variables.
func (r *runner) runEnv(t *testing.T, env []string, prog string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(r.env(), env...)
	cmd.Dir = r.home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(prog), strings.Join(redactTokens(args), " "), err, out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

// verdict turns a run into an outcome; reason picks the client's error
// out of its output.
func verdict(stdout, stderr string, code int, reason func(stdout, stderr string) string, flags []string) outcome {
	if code == 0 {
		return outcome{ok: true, flags: flags}
	}
	return outcome{reason: normalize(reason(stdout, stderr)), flags: flags}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// lineWith is the first line of s that starts with prefix, else the last.
func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return strings.TrimSpace(l)
		}
	}
	return lastLine(s)
}

// hallmarkReason is the FAILED line, else the error on stderr.
func hallmarkReason(stdout, stderr string) string {
	if strings.Contains(stdout, "FAILED:") {
		return lineWith(stdout, "FAILED:")
	}
	return lastLine(stderr)
}

// cosignReason is cosign's "Error: ..." line.
func cosignReason(stdout, stderr string) string { return lineWith(stderr, "Error:") }

// ghReason is gh's error, with the verbose line that says why when there
// is one.
func ghReason(stdout, stderr string) string {
	return lineWith(stderr+"\n"+stdout, "Error:")
}

// plainReason is the last line the program wrote.
func plainReason(stdout, stderr string) string {
	if s := strings.TrimSpace(stderr); s != "" {
		return lastLine(s)
	}
	return lastLine(stdout)
}

// orasReferrer finds, with oras, the one Sigstore bundle referrer of img
// (by its artifactType when byType) and fetches its bundle and img's
// manifest into dir, as a user of a verifier without registry support
// would.
func (r *runner) orasReferrer(t *testing.T, tl tools, img, dir string, byType bool) (bundle, manifest string, o outcome) {
	t.Helper()
	flags := []string{"--plain-http"}
	fail := func(step, stdout, stderr string) (string, string, outcome) {
		return "", "", outcome{reason: normalize("oras " + step + ": " + plainReason(stdout, stderr)), flags: flags}
	}
	args := []string{"discover", "--plain-http", "--format", "json"}
	if byType {
		args = append(args, "--artifact-type", "application/vnd.dev.sigstore.bundle.v0.3+json")
	}
	stdout, stderr, code := r.run(t, tl.oras, append(args, img)...)
	if code != 0 {
		return fail("discover", stdout, stderr)
	}
	var found struct {
		Referrers []struct {
			Reference    string `json:"reference"`
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
	}
	if err := json.Unmarshal([]byte(stdout), &found); err != nil {
		return fail("discover", "", "output is not JSON: "+err.Error())
	}
	if len(found.Referrers) != 1 {
		return fail("discover", "", fmt.Sprintf("want 1 Sigstore bundle referrer, found %d", len(found.Referrers)))
	}
	ref := found.Referrers[0].Reference
	if ref == "" {
		repo, _, _ := strings.Cut(img, "@")
		ref = repo + "@" + found.Referrers[0].Digest
	}
	stdout, stderr, code = r.run(t, tl.oras, "manifest", "fetch", "--plain-http", ref)
	if code != 0 {
		return fail("manifest fetch", stdout, stderr)
	}
	var m struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil || len(m.Layers) != 1 {
		return fail("manifest fetch", "", fmt.Sprintf("want one bundle layer: %s", stdout))
	}
	repo, _, _ := strings.Cut(img, "@")
	bundle = filepath.Join(dir, "oras-bundle.sigstore.json")
	if stdout, stderr, code = r.run(t, tl.oras, "blob", "fetch", "--plain-http", "--output", bundle, repo+"@"+m.Layers[0].Digest); code != 0 {
		return fail("blob fetch", stdout, stderr)
	}
	manifest = filepath.Join(dir, "image-manifest.json")
	if stdout, stderr, code = r.run(t, tl.oras, "manifest", "fetch", "--plain-http", "--output", manifest, img); code != 0 {
		return fail("manifest fetch", stdout, stderr)
	}
	return bundle, manifest, outcome{ok: true, flags: flags}
}
