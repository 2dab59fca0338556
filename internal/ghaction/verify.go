package ghaction

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/hallmark-dev/hallmark/internal/result"
)

// A Runner runs a hallmark command line in-process and returns its exit
// code: 0 passed, 1 verification failed, 2 usage error.
type Runner func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// VerifyConfig wires the verify action to the rest of hallmark.
type VerifyConfig struct {
	Run            Runner
	Getenv         func(string) string
	Stdout, Stderr io.Writer
}

// VerifyError is the verify action's failure: the first failed check.
type VerifyError struct {
	Artifact string
	Check    string
	Message  string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("FAILED: %s: %s: %s", e.Check, e.Artifact, e.Message)
}

// verdicts is what `hallmark verify-artifact --format json` prints.
type verdicts = result.Verify

// verifyFlags maps the action's inputs to verify-artifact's flags: string
// inputs, repeatable inputs (one value a line) and booleans.
var (
	verifyStringFlags = []string{"provenance-path", "source-uri", "source-tag", "source-branch", "source-versioned-tag",
		"builder-id", "cert-identity", "cert-identity-regex", "cert-oidc-issuer", "signer-workflow", "min-level", "trusted-root", "policy"}
	verifyListFlags = []string{"build-workflow-input"}
	verifyBoolFlags = []string{"deny-self-hosted-runners"}
)

// VerifyArgs turns the verify action's inputs into verify-artifact's command
// line. artifact-path lists the artifacts, one glob a line.
func VerifyArgs(a *githubactions.Action) ([]string, error) {
	args := []string{"verify-artifact"}
	var artifacts []string
	for _, g := range lines(a.GetInput("artifact-path")) {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("input artifact-path %q: %w", g, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("input artifact-path %q matches no file", g)
		}
		for _, f := range m {
			if strings.HasPrefix(f, "-") {
				f = "./" + f // a file, never a flag
			}
			artifacts = append(artifacts, f)
		}
	}
	if len(artifacts) == 0 {
		return nil, errors.New("input artifact-path is required: the artifacts to verify")
	}
	args = append(args, artifacts...)
	for _, f := range verifyStringFlags {
		if v := a.GetInput(f); v != "" {
			args = append(args, "--"+f, v)
		}
	}
	for _, f := range verifyListFlags {
		for _, v := range lines(a.GetInput(f)) {
			args = append(args, "--"+f, v)
		}
	}
	for _, f := range verifyBoolFlags {
		on, err := boolInput(a, f, false)
		if err != nil {
			return nil, err
		}
		if on {
			args = append(args, "--"+f)
		}
	}
	return append(args, "--format", "json"), nil
}

// Verify runs the verify action: `hallmark verify-artifact` with the
// inputs as flags. It writes a summary table of the verdicts, sets the
// outputs passed and slsa-level (the lowest level of all artifacts), and
// returns a [*VerifyError] naming the failed check when any artifact fails.
func Verify(ctx context.Context, cfg VerifyConfig) error {
	a := githubactions.New(githubactions.WithGetenv(cfg.Getenv), githubactions.WithWriter(cfg.Stdout))
	args, err := VerifyArgs(a)
	if err != nil {
		return err
	}
	var out, errb bytes.Buffer
	exit := cfg.Run(ctx, args, &out, io.MultiWriter(&errb, cfg.Stderr))
	var v verdicts
	if jerr := json.Unmarshal(out.Bytes(), &v); jerr != nil || len(v.Verdicts) == 0 {
		// verify-artifact failed before any verdict: bad input, unreadable
		// bundle or trusted root.
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = fmt.Sprintf("hallmark verify-artifact exited %d", exit)
		}
		a.AddStepSummary("### Hallmark: verification FAILED\n\n" + fenced("", msg))
		a.SetOutput("passed", "false")
		return &VerifyError{Artifact: strings.Join(artifactArgs(args), " "), Check: "input", Message: msg}
	}
	var s strings.Builder
	title := "passed"
	if !v.Passed || exit != 0 {
		title = "FAILED"
	}
	fmt.Fprintf(&s, "### Hallmark: verification %s\n\n| Artifact | Digest | Result | Level | Builder or failed check |\n|---|---|---|---|---|\n", title)
	var first *VerifyError
	level := 3
	for _, vd := range v.Verdicts {
		if vd.Passed {
			fmt.Fprintf(&s, "| %s | %s | passed | L%d | %s |\n", code(vd.Artifact), code(vd.Digest), vd.Level, code(vd.BuilderID))
			level = min(level, vd.Level)
			fmt.Fprintf(cfg.Stderr, "PASSED: %s: SLSA build level %d, builder %s\n", vd.Artifact, vd.Level, vd.BuilderID)
			continue
		}
		check, msg := "input", "failed"
		if vd.Failure != nil {
			check, msg = vd.Failure.Check, vd.Failure.Message
		}
		fmt.Fprintf(&s, "| %s | %s | **FAILED** | | %s: %s |\n", code(vd.Artifact), code(vd.Digest), code(check), code(msg))
		if first == nil {
			first = &VerifyError{Artifact: vd.Artifact, Check: check, Message: msg}
		}
	}
	a.AddStepSummary(s.String())
	if first == nil && exit != 0 {
		first = &VerifyError{Artifact: strings.Join(artifactArgs(args), " "), Check: "input", Message: fmt.Sprintf("hallmark verify-artifact exited %d", exit)}
	}
	if first != nil {
		a.SetOutput("passed", "false")
		return first
	}
	a.SetOutput("passed", "true")
	a.SetOutput("slsa-level", fmt.Sprint(level))
	return nil
}

// artifactArgs are the artifacts of a verify-artifact command line: the
// arguments before the first flag.
func artifactArgs(args []string) []string {
	for i, a := range args[1:] {
		if strings.HasPrefix(a, "--") {
			return args[1 : i+1]
		}
	}
	return args[1:]
}
