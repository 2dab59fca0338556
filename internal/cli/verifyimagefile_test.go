package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
)

// Cloud Build provenance and attestor keys from the real-world corpus:
// slsa-verifier's Test_runVerifyGCBArtifactImage fixtures.
var (
	gcbCorpus = filepath.Join("..", "..", "testdata", "realworld")
	gcbKeys   = filepath.Join(gcbCorpus, "keys", "gcb")
	gcbTag    = filepath.Join(gcbCorpus, "slsa-verifier", "gcb_container", "v0.3", "gcloud-container-github-tag.json")
	// gcbTagImage is the image gcbTag is for; its registry is never asked.
	gcbTagImage = "us-west2-docker.pkg.dev/gosst-scare-sandbox/quickstart-docker-repo/quickstart-image@sha256:87db6d5226440e72f7134b71163df45282127a3f7b0600c946683cb2f43a70a9"
)

const gcbWorker = "https://cloudbuild.googleapis.com/GoogleHostedWorker"

func TestVerifyImageCloudBuild(t *testing.T) {
	base := []string{"verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", gcbKeys}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "passes", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--builder-id", gcbWorker + "@v0.3", "--source-versioned-tag", "v33"}, code: 0,
			stdout: []string{"PASSED: " + gcbTagImage, "SLSA build level 3, builder " + gcbWorker + "@v0.3", "source https://github.com/slsa-framework/example-package@refs/tags/v33.0.4",
				"signed by gcpkms://projects/verified-builder/locations/"}},
		{name: "no builder named: the built-in policy names it", args: []string{"--source-uri", "github.com/slsa-framework/example-package"}, code: 0,
			stdout: []string{"PASSED: ", "SLSA build level 3"}},
		{name: "another source", args: []string{"--source-uri", "github.com/acme/app", "--builder-id", gcbWorker}, code: 1,
			stdout: []string{"FAILED: source: want https://github.com/acme/app, got https://github.com/slsa-framework/example-package"}},
		{name: "another tag", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--source-tag", "v33.0.5"}, code: 1,
			stdout: []string{"FAILED: ref: want tag v33.0.5, got tag v33.0.4"}},
		{name: "another builder version", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--builder-id", gcbWorker + "@v0.2"}, code: 1,
			stdout: []string{"FAILED: builder: want " + gcbWorker + "@v0.2"}},
		{name: "a certificate flag", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--cert-identity", "https://github.com/x/y/.github/workflows/z.yml@refs/heads/main"}, code: 1,
			stdout: []string{"FAILED: identity: "}},
		{name: "a trusted root too", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--trusted-root", "trusted_root.json"}, code: 2,
			stderr: "--trusted-root does not apply"},
		{name: "no source", args: nil, code: 2, stderr: "--source-uri is required"},
		{name: "bad format", args: []string{"--source-uri", "github.com/slsa-framework/example-package", "--format", "yaml"}, code: 2, stderr: "yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, append(append([]string{}, base...), tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout %q lacks %q", stdout, want)
				}
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, tc.stderr)
			}
		})
	}
}

func TestVerifyImageCloudBuildJSON(t *testing.T) {
	stdout, stderr, code := run(t, "verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", gcbKeys,
		"--source-uri", "github.com/slsa-framework/example-package", "--format", "json", "--print-provenance")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	var out struct {
		Passed   bool `json:"passed"`
		Verdicts []struct {
			Digest    string `json:"digest"`
			Level     int    `json:"slsaBuildLevel"`
			BuilderID string `json:"builderID"`
			Trusted   string `json:"trustedBuilder"`
			Source    string `json:"sourceRepository"`
			Ref       string `json:"sourceRef"`
			Commit    string `json:"sourceCommit"`
			Predicate string `json:"predicateType"`
		} `json:"verdicts"`
		Provenance []map[string]any `json:"provenance"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if !out.Passed || len(out.Verdicts) != 1 || len(out.Provenance) != 1 {
		t.Fatalf("want one passed verdict with its provenance: %s", stdout)
	}
	resulttest.Check(t, resulttest.VerifySchema, []byte(stdout))
	v := out.Verdicts[0]
	got := []any{v.Digest, v.Level, v.BuilderID, v.Trusted, v.Source, v.Ref, v.Commit, v.Predicate, out.Provenance[0]["predicateType"]}
	want := []any{"sha256:87db6d5226440e72f7134b71163df45282127a3f7b0600c946683cb2f43a70a9", 3, gcbWorker + "@v0.3", "google-cloud-build",
		"https://github.com/slsa-framework/example-package", "refs/tags/v33.0.4", "c750fd73a1669b095df7c74da9f1ff2032f926c9",
		"https://slsa.dev/provenance/v0.1", "https://slsa.dev/provenance/v0.1"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d: %v, want %v", i, got[i], want[i])
		}
	}

	// A failed verdict, with --print-provenance and so no statement to
	// print, follows the schema too.
	stdout, stderr, code = run(t, "verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", gcbKeys,
		"--source-uri", "github.com/acme/other", "--format", "json", "--print-provenance")
	if code != 1 || !strings.Contains(stdout, `"passed": false`) || !strings.Contains(stdout, `"provenance": null`) {
		t.Fatalf("another source: exit %d: %s %s", code, stdout, stderr)
	}
	resulttest.Check(t, resulttest.VerifySchema, []byte(stdout))
}

// TestVerifyImageFileInputs: what --provenance-path and --gcb-keys refuse
// before any verification, and what fails as a verdict.
func TestVerifyImageFileInputs(t *testing.T) {
	dir := t.TempDir()
	notKeys := filepath.Join(dir, "empty")
	if err := os.Mkdir(notKeys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notKeys, "README.md"), []byte("keys go here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badKey := filepath.Join(dir, "bad")
	if err := os.Mkdir(badKey, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badKey, "us-west2.key"), []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.json")
	if err := os.WriteFile(garbage, []byte(`{"provenance_summary": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := []string{"--source-uri", "github.com/slsa-framework/example-package"}
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"keys without a file", []string{"verify-image", gcbTagImage, "--gcb-keys", gcbKeys}, 2, "", "give the file with --provenance-path"},
		{"keys folder missing", []string{"verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", filepath.Join(dir, "nope")}, 2, "", "--gcb-keys: want a folder"},
		{"keys folder a file", []string{"verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", gcbTag}, 2, "", "--gcb-keys: want a folder"},
		{"keys folder without keys", []string{"verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", notKeys}, 2, "", "no .key or .pem files"},
		{"a key that is not one", []string{"verify-image", gcbTagImage, "--provenance-path", gcbTag, "--gcb-keys", badKey}, 2, "", "us-west2.key"},
		{"provenance missing", []string{"verify-image", gcbTagImage, "--provenance-path", filepath.Join(dir, "nope.json"), "--gcb-keys", gcbKeys}, 2, "", "--provenance-path"},
		{"provenance that does not parse", []string{"verify-image", gcbTagImage, "--provenance-path", garbage, "--gcb-keys", gcbKeys}, 1, "FAILED: input: want gcloud's JSON", ""},
		{"a tag", []string{"verify-image", "us-west2-docker.pkg.dev/p/r/i:v1", "--provenance-path", gcbTag, "--gcb-keys", gcbKeys}, 1, "FAILED: input: want an image named by digest", ""},
		{"another image", []string{"verify-image", "us-west2-docker.pkg.dev/p/r/i@sha256:" + strings.Repeat("ab", 32), "--provenance-path", gcbTag, "--gcb-keys", gcbKeys}, 1, "FAILED: subject: ", ""},
		{"a sha512 image", []string{"verify-image", "us-west2-docker.pkg.dev/p/r/i@sha512:" + strings.Repeat("ab", 64), "--provenance-path", gcbTag, "--gcb-keys", gcbKeys}, 1, "FAILED: input: want an image digest sha256:HEX", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.name != "keys without a file" {
				args = append(append([]string{}, args...), src...)
			}
			stdout, stderr, code := run(t, args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tc.stdout) || !strings.Contains(stderr, tc.errs) {
				t.Errorf("stdout %q, stderr %q; want %q and %q", stdout, stderr, tc.stdout, tc.errs)
			}
		})
	}
}

// TestVerifyImageBundleFile: without --gcb-keys, --provenance-path holds
// Sigstore bundles, verified offline against the image digest with the
// trusted root (slsa-verifier's real generic-generator provenance; a
// registry that does not exist is never asked).
func TestVerifyImageBundleFile(t *testing.T) {
	bundle := filepath.Join("..", "..", "testdata", "realworld", "slsa-verifier", "gha_generic", "v2.1.0", "binary-linux-amd64-push-v13.0.30.intoto.jsonl")
	root := filepath.Join("..", "..", "testdata", "realworld", "sigstore-go", "examples", "trusted-root-public-good.json")
	const img = "registry.invalid/acme/app@sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa"
	args := []string{"verify-image", img, "--provenance-path", bundle, "--trusted-root", root, "--source-uri", "github.com/slsa-framework/example-package"}
	stdout, stderr, code := run(t, args...)
	if code != 0 || !strings.Contains(stdout, "PASSED: "+img) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	stdout, _, code = run(t, append(args, "--source-tag", "v13.0.29")...)
	if code != 1 || !strings.Contains(stdout, "FAILED: ref: ") {
		t.Fatalf("exit %d, stdout %s", code, stdout)
	}
	// No trusted root given, none in the environment, no TUF cache.
	t.Setenv("HALLMARK_CACHE", t.TempDir())
	t.Setenv("HALLMARK_TRUSTED_ROOT", "")
	if _, stderr, code := run(t, "verify-image", img, "--provenance-path", bundle, "--source-uri", "github.com/a/b"); code != 2 || !strings.Contains(stderr, "no trusted root: give --trusted-root FILE") {
		t.Fatalf("no trusted root: exit %d, %s", code, stderr)
	}
}
