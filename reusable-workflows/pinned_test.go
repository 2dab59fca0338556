package workflows_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/githubapi/githubtest"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestPinnedPrivateRepository runs a caller that pins the generic workflow
// by commit, for a private repository, under act, twice:
//
//  1. without private-repository and with the public-good Sigstore's
//     signing config: the run fails before anything is signed, naming
//     private-repository; no log entry, no attestation, no bundle;
//  2. with private-repository: true on the sandbox: it signs, the action
//     that ran is the one of the pinned commit (built from that commit's
//     source: its version names the commit), the provenance's builder is
//     the workflow at that commit, the bundle is in the repository's
//     attestation store, and `hallmark verify-artifact --from-github`
//     finds and verifies it at L3 under a policy naming that commit.
func TestPinnedPrivateRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a workflow under act; runs without -short")
	}
	sb := sandboxtest.Start(t)
	// hallmark-dev/hallmark at a commit after the release tag, whose
	// checksums file lists no release binary: the action builds itself
	// from this commit's source.
	actionDir := actionRepo(t, "")
	gitHead(t, actionDir)
	if err := os.WriteFile(filepath.Join(actionDir, "PINNED"), []byte("a commit after "+hallmarkRef+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "PINNED"}, {"commit", "-q", "-m", "after the release"}} {
		if out, err := exec.Command("git", append([]string{"-C", actionDir, "-c", "user.email=r@example.com", "-c", "user.name=r"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	pinned := gitHead(t, actionDir)
	jobWorkflow := "hallmark-dev/hallmark/.github/workflows/generic.yml@" + pinned
	builder := "https://github.com/" + jobWorkflow

	src, err := os.ReadFile(filepath.Join("testdata", "pinned-caller.yml"))
	if err != nil {
		t.Fatal(err)
	}
	callerFile := filepath.Join(t.TempDir(), "pinned.yml")
	if err := os.WriteFile(callerFile, []byte(strings.ReplaceAll(string(src), "HALLMARK_SHA", pinned)), 0o644); err != nil {
		t.Fatal(err)
	}
	caller, sha := newCaller(t, callerFile, map[string]string{})
	gh := githubtest.Start(t)
	gh.AddRepository(callerRepo, 700000001, true)
	publicGood, err := filepath.Abs(filepath.Join("..", "testdata", "signing-configs", "public-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := actCase{
		workflow: "pinned.yml", jobWorkflow: jobWorkflow, jobWorkflowSHA: pinned,
		actionRefs: map[string]string{pinned: actionDir}, github: gh,
		claims: map[string]string{"repository_visibility": "private"},
	}

	t.Run("without consent, on public-good", func(t *testing.T) {
		before := logSize(t, sb)
		c := c
		c.wantFail = true
		c.vars = map[string]string{"PRIVATE_REPOSITORY": "false"}
		c.env = map[string]string{"HALLMARK_SIGNING_CONFIG": publicGood}
		run := runAct(t, sb, caller, sha, c, actionDir)
		mustContain(t, stepSummary(run.Output, "provenance/Hallmark generic provenance/provenance"),
			"### Hallmark: attestation FAILED", "acme/app is private", "--private-repository", "private-repository: true", "(nothing was signed)")
		if n := len(gh.Attestations(callerRepo)); n != 0 {
			t.Errorf("the attestation store holds %d attestations", n)
		}
		if after := logSize(t, sb); after != before {
			t.Errorf("the log grew from %d to %d entries", before, after)
		}
		if _, err := os.Stat(filepath.Join(run.Artifacts, "provenance.sigstore.json")); !os.IsNotExist(err) {
			t.Errorf("a bundle was uploaded: %v", err)
		}
	})

	t.Run("with consent", func(t *testing.T) {
		c := c
		c.vars = map[string]string{"PRIVATE_REPOSITORY": "true"}
		run := runAct(t, sb, caller, sha, c, actionDir)
		// The action of the pinned commit ran: built from that commit's
		// source, its version is the commit's pseudo-version.
		mustContain(t, run.Output, "hallmark: this workflow is "+jobWorkflow+", commit "+pinned,
			"checked out hallmark-dev/hallmark at "+pinned, "no release binary for hallmark_linux_amd64 at this ref; building from the action's source")
		version := ""
		for _, line := range strings.Split(run.Output, "\n") {
			if _, v, ok := strings.Cut(line, "hallmark: running "); ok {
				version = strings.TrimSpace(v)
			}
		}
		if !strings.HasSuffix(version, "-"+pinned[:12]) {
			t.Errorf("the action ran hallmark %q, want the pseudo-version of %s", version, pinned[:12])
		}
		bundle := filepath.Join(run.Artifacts, "provenance.sigstore.json", "provenance.sigstore.json")
		if got := builderOf(t, bundle); got != builder {
			t.Errorf("builder.id %s, want %s", got, builder)
		}
		stored := gh.Attestations(callerRepo)
		if len(stored) != 1 {
			t.Fatalf("the attestation store holds %d attestations, want 1", len(stored))
		}

		// The verifier finds it in the store and trusts the workflow at
		// the pinned commit for L3, named exactly.
		policy := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(policy, []byte(fmt.Sprintf(`issuers: [%q]
minLevel: 3
builders:
  - name: hallmark-pinned
    signer: %q
    maxLevel: 3
`, sb.IssuerURL, builder)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sandboxtest.Binary(t), "verify-artifact", filepath.Join(run.Artifacts, "dist", "app.txt"),
			"--from-github", callerRepo, "--github-api-url", gh.URL, "--builder-id", builder,
			"--source-uri", "github.com/"+callerRepo, "--source-branch", "main",
			"--policy", policy, "--trusted-root", sb.TrustedRootPath(), "--format", "json")
		cmd.Env = append(os.Environ(), "GITHUB_TOKEN="+jobToken)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("verify-artifact --from-github: %v\n%s", err, out)
		}
		var res struct {
			Passed   bool `json:"passed"`
			Verdicts []struct {
				Level     int    `json:"slsaBuildLevel"`
				BuilderID string `json:"builderID"`
			} `json:"verdicts"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		if !res.Passed || len(res.Verdicts) != 1 || res.Verdicts[0].Level != 3 || res.Verdicts[0].BuilderID != builder {
			t.Fatalf("verify-artifact --from-github: %s", out)
		}
	})
}

// logSize reads the size of the sandbox's log from its checkpoint, after
// the next publication (every 500 ms).
func logSize(tb testing.TB, sb *sandbox.Sandbox) int64 {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(sb.Dir, "rekor", "tiles", "checkpoint"))
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 2 {
		tb.Fatalf("checkpoint %q has no size line", data)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// builderOf reads builder.id from the provenance in bundle.
func builderOf(tb testing.TB, bundle string) string {
	tb.Helper()
	var st struct {
		Predicate struct {
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	statementOf(tb, bundle, &st)
	return st.Predicate.RunDetails.Builder.ID
}
