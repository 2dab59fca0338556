package rekorv1_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/rekorv1/rekorv1test"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestVerifyArtifactRekorURL runs `hallmark verify-artifact --rekor-url`
// on .intoto.jsonl files of bare envelopes, as slsa-github-generator up to
// v2.0.0 wrote them, whose entries are on a real Rekor v1 log.
func TestVerifyArtifactRekorURL(t *testing.T) {
	sb := sandboxtest.Start(t)
	log := rekorv1test.Start(t)
	base, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	withLog := writeFile(t, "trusted_root.json", log.TrustedRoot(t, base))
	policyPath := writeFile(t, "policy.yaml", []byte(policyYAML(sb)))
	art := writeFile(t, "artifact.txt", []byte(artifact))
	other := writeFile(t, "other.txt", []byte("another artifact\n"))

	// Logged as intoto v0.0.2 (the file carries the certificate, as the
	// generator's did), as dsse v0.0.1 (the file does not), and as
	// intoto v0.0.1.
	v002 := sign(t, sb, statement(artifact, "intoto-0.0.2"))
	log.Upload(t, "intoto", "0.0.2", v002.envelope(true), v002.certPEM, v002.payload)
	dsse := sign(t, sb, statement(artifact, "dsse-0.0.1"))
	log.Upload(t, "dsse", "0.0.1", dsse.envelope(true), dsse.certPEM, dsse.payload)
	v001 := sign(t, sb, statement(artifact, "intoto-0.0.1"))
	log.Upload(t, "intoto", "0.0.1", v001.envelope(true), v001.certPEM, v001.payload)
	// The same statement as v002's, signed again and never logged.
	unlogged := sign(t, sb, v002.payload)

	alteredPayload := v002
	alteredPayload.payload = statement(artifact, "edited")
	alteredSig := v002
	alteredSig.sig = bytes.Clone(v002.sig)
	alteredSig.sig[len(alteredSig.sig)/2] ^= 1

	closed := closedPort(t)
	bareFile := writeFile(t, "bare.intoto.jsonl", append(v002.envelope(true), '\n'))

	tests := []struct {
		name         string
		envelope     []byte
		artifact     string
		trustedRoot  string
		rekorURL     string
		wantCode     int
		wantCheck    verifier.Check // for exit 1
		wantInStderr string
	}{
		{name: "intoto-0.0.2", envelope: v002.envelope(true), wantCode: 0},
		{name: "dsse-0.0.1-no-certificate-in-file", envelope: dsse.envelope(false), wantCode: 0},
		{name: "intoto-0.0.1", envelope: v001.envelope(true), wantCode: 0},
		{name: "other-artifact", envelope: v002.envelope(true), artifact: other, wantCode: 1, wantCheck: verifier.CheckSubject},
		{name: "payload-altered", envelope: alteredPayload.envelope(true), wantCode: 1, wantCheck: verifier.CheckTlog},
		{name: "signature-altered", envelope: alteredSig.envelope(true), wantCode: 1, wantCheck: verifier.CheckTlog},
		{name: "entry-of-another-envelope", envelope: unlogged.envelope(true), wantCode: 1, wantCheck: verifier.CheckTlog},
		{name: "log-key-not-in-trusted-root", envelope: v002.envelope(true), trustedRoot: sb.TrustedRootPath(), wantCode: 1, wantCheck: verifier.CheckTlog},
		{name: "log-unreachable", envelope: v002.envelope(true), rekorURL: closed, wantCode: 2, wantInStderr: "rekor " + closed + ": "},
		{name: "plain-http-elsewhere", envelope: v002.envelope(true), rekorURL: "http://rekor.example", wantCode: 2, wantInStderr: "--rekor-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prov := writeFile(t, "provenance.intoto.jsonl", append(bytes.Clone(tc.envelope), '\n'))
			a, tr, url := tc.artifact, tc.trustedRoot, tc.rekorURL
			if a == "" {
				a = art
			}
			if tr == "" {
				tr = withLog
			}
			if url == "" {
				url = log.URL
			}
			out, stderr, code := hallmark(t, "verify-artifact", a, "--provenance-path", prov, "--policy", policyPath,
				"--trusted-root", tr, "--rekor-url", url, "--format", "json")
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, stderr)
			}
			if !strings.Contains(stderr, tc.wantInStderr) {
				t.Fatalf("stderr %q does not say %q", stderr, tc.wantInStderr)
			}
			if code == 2 {
				t.Logf("exit 2: %s", strings.TrimSpace(stderr))
				return
			}
			f := failureOf(t, out)
			if tc.wantCode == 0 {
				if f != nil {
					t.Fatalf("failed: %+v", f)
				}
				if !strings.Contains(stderr, "on "+log.URL) {
					t.Fatalf("stderr does not name the entry used: %s", stderr)
				}
				return
			}
			t.Logf("exit 1: %+v", f)
			if f == nil || f.Check != string(tc.wantCheck) {
				t.Fatalf("failure %+v, want check %s\nstderr: %s", f, tc.wantCheck, stderr)
			}
		})
	}

	// Without --rekor-url nothing is looked up, and the refusal is the
	// offline one.
	t.Run("without-rekor-url", func(t *testing.T) {
		out, stderr, code := hallmark(t, "verify-artifact", art, "--provenance-path", bareFile, "--policy", policyPath,
			"--trusted-root", withLog, "--format", "json")
		data, err := os.ReadFile(bareFile)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := verifier.ParseBundles(data)
		var want *verifier.CheckError
		if !errors.As(perr, &want) || !errors.Is(perr, verifier.ErrBareEnvelope) {
			t.Fatalf("ParseBundles: %v", perr)
		}
		f := failureOf(t, out)
		if code != 1 || f == nil || f.Check != string(want.Check) || f.Want != want.Want || f.Got != want.Got || f.Message != perr.Error() || f.Fix != want.Fix {
			t.Fatalf("exit %d, failure %+v; want exit 1 and %+v\nstderr: %s", code, f, want, stderr)
		}
		if strings.Contains(stderr, "rekor") {
			t.Fatalf("stderr mentions rekor without --rekor-url: %s", stderr)
		}
	})
}

type failure struct {
	Check, Want, Got, Message, Fix string
}

// failureOf reads the one verdict of verify-artifact --format json; nil
// when it passed.
func failureOf(t *testing.T, out string) *failure {
	t.Helper()
	var r struct {
		Passed   bool `json:"passed"`
		Verdicts []struct {
			Passed  bool     `json:"passed"`
			Failure *failure `json:"failure"`
		} `json:"verdicts"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Verdicts) != 1 {
		t.Fatalf("output is not one verdict: %v\n%s", err, out)
	}
	if r.Passed != r.Verdicts[0].Passed || r.Passed != (r.Verdicts[0].Failure == nil) {
		t.Fatalf("inconsistent verdict: %s", out)
	}
	return r.Verdicts[0].Failure
}

// hallmark runs the hallmark binary and returns stdout, stderr and the
// exit code.
func hallmark(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(sandboxtest.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

// closedPort is the URL of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return "http://127.0.0.1:" + strconv.Itoa(port)
}
