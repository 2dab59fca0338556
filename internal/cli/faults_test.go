package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/faultproxy"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// Runs under a fault sign with shorter deadlines than the defaults, so a
// server that hangs costs seconds rather than most of a minute, yet long
// enough for the servers that work to answer on a loaded machine. Runs
// that must succeed (a survivable fault, the retry once a fault clears)
// use the defaults. TestAttestDefaultTimes checks the defaults by their
// help text instead of by waiting for them.
const (
	faultDeadline     = 12 * time.Second
	faultTimeout      = 5 * time.Second
	faultPushDeadline = 8 * time.Second
	// faultBound is how long a failing run may take at most: the deadline
	// and a generous margin. It proves "does not hang", nothing about speed.
	faultBound = faultDeadline + 15*time.Second
)

// The identity the bench's tokens ask for.
var (
	faultClaims = map[string]string{
		"repository": "acme/app", "repository_id": "42", "repository_owner_id": "7",
		"job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/heads/main",
	}
	faultSAN = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
)

// faultBench is the sandbox with a fault proxy in front of each server, a
// signing config that names the proxies, and a subject to attest.
type faultBench struct {
	sb                 *sandbox.Sandbox
	fulcio, rekor, tsa *faultproxy.Proxy
	signingConfig      string
	subject            string // a file to attest
	outcomes           []string
}

const faultArtifact = "release tarball for the fault suite\n"

func newFaultBench(t *testing.T) *faultBench {
	t.Helper()
	sb := sandboxtest.Start(t)
	b := &faultBench{
		sb:     sb,
		fulcio: faultproxy.Start(t, sb.FulcioURL),
		rekor:  faultproxy.Start(t, sb.RekorURL),
		tsa:    faultproxy.Start(t, sb.TSAURL),
	}
	data, err := os.ReadFile(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(data, &sc); err != nil {
		t.Fatal(err)
	}
	set := func(key, url string) {
		list, _ := sc[key].([]any)
		if len(list) != 1 {
			t.Fatalf("the sandbox's signing config lists %d %s, want 1", len(list), key)
		}
		list[0].(map[string]any)["url"] = url
	}
	set("caUrls", b.fulcio.URL())
	set("rekorTlogUrls", b.rekor.URL())
	set("tsaUrls", b.tsa.URL()+"/api/v1/timestamp")
	out, _ := json.Marshal(sc)
	b.signingConfig = filepath.Join(t.TempDir(), "signing_config.json")
	if err := os.WriteFile(b.signingConfig, out, 0o644); err != nil {
		t.Fatal(err)
	}
	b.subject = filepath.Join(t.TempDir(), "app.tar.gz")
	if err := os.WriteFile(b.subject, []byte(faultArtifact), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(b.outcomes) > 0 {
			t.Logf("outcomes (case | exit | seconds | log entries spent | message):\n%s", strings.Join(b.outcomes, "\n"))
		}
	})
	return b
}

// checkpointPath is where rekor-tiles' POSIX driver keeps the log's
// checkpoint: origin, tree size, root hash, signatures.
func (b *faultBench) checkpointPath() string {
	return filepath.Join(b.sb.Dir, "rekor", "tiles", "checkpoint")
}

// logSize reads the log's size from its checkpoint.
func (b *faultBench) logSize(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile(b.checkpointPath())
	if err != nil {
		t.Fatalf("reading the log's checkpoint: %v", err)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < 3 {
		t.Fatalf("checkpoint %q has no size line", data)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	return n
}

// settledLogSize reads the log's size once any write the run made is in a
// published checkpoint: the sandbox publishes one every 500 ms.
func (b *faultBench) settledLogSize(t *testing.T) int64 {
	t.Helper()
	if b.rekor.Forwarded(http.MethodPost, "/api/v2/log/entries") > 0 {
		time.Sleep(1500 * time.Millisecond)
	}
	return b.logSize(t)
}

// token mints a token for the bench's identity with overrides on top.
func (b *faultBench) token(t *testing.T, audience string, overrides map[string]string) string {
	t.Helper()
	claims := map[string]string{}
	for k, v := range faultClaims {
		claims[k] = v
	}
	for k, v := range overrides {
		claims[k] = v
	}
	tok, err := b.sb.Token(audience, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (b *faultBench) clear() {
	b.fulcio.Clear()
	b.rekor.Clear()
	b.tsa.Clear()
}

// seen counts the signing requests each proxy received.
func (b *faultBench) seen() (fulcio, tsa, rekor int) {
	return b.fulcio.Seen(http.MethodPost, "/api/v2/signingCert"),
		b.tsa.Seen(http.MethodPost, "/api/v1/timestamp"),
		b.rekor.Seen(http.MethodPost, "/api/v2/log/entries")
}

// flags are attest's flags for the bench with the fault suite's short
// deadlines; calm(f) restores the defaults.
func (b *faultBench) flags(t *testing.T, out string) attestFlags {
	return attestFlags{
		subjectPaths: []string{b.subject}, bundlePath: out, format: "json",
		signingConfig: b.signingConfig, trustedRoot: b.sb.TrustedRootPath(),
		identityToken: b.token(t, oidc.DefaultAudience, nil), factsFromToken: true,
		deadline: faultDeadline, timeout: faultTimeout, retries: signer.DefaultRetries, pushDeadline: faultPushDeadline,
	}
}

// calm gives f the default deadlines and timeouts (attest's for zero).
func calm(f attestFlags) attestFlags {
	f.deadline, f.timeout, f.pushDeadline = 0, 0, 0
	return f
}

// run runs attest in-process as the CLI does, and returns its exit code,
// stderr, duration and error.
func (b *faultBench) run(t *testing.T, f attestFlags) (int, string, time.Duration, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil))
	took := time.Since(start)
	code := exitCode(err, &stderr)
	if strings.Contains(stdout.String()+stderr.String(), f.identityToken) {
		t.Fatal("the identity token reached the output")
	}
	return code, stderr.String(), took, err
}

// record notes a case's outcome for the suite's summary.
func (b *faultBench) record(name string, code int, took time.Duration, spent int64, msg string) {
	msg = strings.ReplaceAll(msg, "\n", " / ")
	if len(msg) > 180 {
		msg = msg[:180] + "…"
	}
	b.outcomes = append(b.outcomes, fmt.Sprintf("%-44s | %d | %4.1f | %d | %s", name, code, took.Seconds(), spent, msg))
}

// retrySucceeds runs attest again once the fault is cleared: it must
// succeed with exactly one new log entry and a bundle that verifies as the
// token's identity.
func (b *faultBench) retrySucceeds(t *testing.T, f attestFlags) {
	t.Helper()
	b.clear()
	f = calm(f)
	f.identityToken = b.token(t, oidc.DefaultAudience, nil)
	before := b.logSize(t)
	code, stderr, _, err := b.run(t, f)
	if err != nil || code != 0 {
		t.Fatalf("the retry after the fault cleared failed (exit %d): %v\n%s", code, err, stderr)
	}
	// The entry is in a checkpoint within one publishing interval (500 ms);
	// wait for it, then as long again for any second one.
	for end := time.Now().Add(3 * time.Second); b.logSize(t) == before && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(700 * time.Millisecond)
	if got := b.logSize(t) - before; got != 1 {
		t.Errorf("the retry spent %d log entries, want exactly 1", got)
	}
	bnd, _ := statementOf(t, f.bundlePath)
	verifyWithSigstoreGo(t, b.sb, bnd, faultArtifact, faultSAN)
}

// leftovers lists what a failed run left in dir, besides keep.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !contains(keep, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// evilToken asks for the certificate of another workflow with the same
// subject, so Fulcio's proof of possession still holds: what a proxy (or a
// Fulcio) that certifies someone else would hand back.
func (b *faultBench) evilToken(t *testing.T) string {
	return b.token(t, oidc.DefaultAudience, map[string]string{
		"repository": "evil/tools", "repository_id": "666", "repository_owner_id": "666",
		"job_workflow_ref": "evil/tools/.github/workflows/evil.yml@refs/heads/main",
		"sub":              "repo:acme/app:ref:refs/heads/main",
	})
}

func otherBytesTimestampRequest(*http.Request, []byte) []byte {
	sum := sha256.Sum256([]byte("other bytes"))
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:]}).Marshal()
	if err != nil {
		panic(err)
	}
	return req
}

// wrongLogIndex answers with the entry the log wrote, but claiming another
// index: well-formed, and wrong.
func wrongLogIndex(_ *http.Request, body []byte) []byte {
	var e map[string]any
	if json.Unmarshal(body, &e) != nil {
		return body
	}
	e["logIndex"] = "999999"
	if p, ok := e["inclusionProof"].(map[string]any); ok {
		p["logIndex"] = "999999"
	}
	out, _ := json.Marshal(e)
	return out
}

// TestAttestUnderServerFaults puts each fault in front of Fulcio, the TSA
// and Rekor in turn. Every failing case must end in time with exit 2, an
// error that names the server by its URL, no file left behind and no log
// entry spent that could have been saved; after the fault clears, the same
// command succeeds with exactly one new entry.
func TestAttestUnderServerFaults(t *testing.T) {
	b := newFaultBench(t)
	fulcioPath, tsaPath, rekorPath := "/api/v2/signingCert", "/api/v1/timestamp", "/api/v2/log/entries"
	type server struct {
		name  string
		proxy func() *faultproxy.Proxy
		path  string
		kind  error
		url   func() string
	}
	servers := []server{
		{"fulcio", func() *faultproxy.Proxy { return b.fulcio }, fulcioPath, signer.ErrCertificate, func() string { return b.fulcio.URL() }},
		{"tsa", func() *faultproxy.Proxy { return b.tsa }, tsaPath, signer.ErrTimestamp, func() string { return b.tsa.URL() + tsaPath }},
		{"rekor", func() *faultproxy.Proxy { return b.rekor }, rekorPath, signer.ErrLog, func() string { return b.rekor.URL() }},
	}
	type faultCase struct {
		name  string
		fault faultproxy.Fault
		times int
		// wantErr is the error beyond the server's kind; nil with ok.
		wantErr error
		wantMsg string
		// ok: the fault is survivable and attest succeeds anyway.
		ok bool
		// spent is the log entries the failure may not avoid.
		spent int64
		// fast: must end before the deadline, not wait for it.
		fast bool
		// refused: the server refused the request (or was never
		// reached), so the error must not say an entry may be spent.
		refused bool
	}
	cases := func(s server) []faultCase {
		cs := []faultCase{
			{name: "refused", fault: faultproxy.Refuse(), wantMsg: "connection refused", refused: true},
			{name: "hangs", fault: faultproxy.Hang(), wantErr: signer.ErrTimeout, wantMsg: "no answer"},
			{name: "slower than the timeout", fault: faultproxy.Delay(2 * faultDeadline), wantErr: signer.ErrTimeout},
			{name: "slow within the timeout", fault: faultproxy.Delay(500 * time.Millisecond), ok: true},
			{name: "503", fault: faultproxy.Status(503), wantMsg: "HTTP 503", refused: true},
			{name: "429 with Retry-After 1, once", fault: faultproxy.TooManyRequests("1"), times: 1, ok: true},
			{name: "429 with Retry-After past the deadline", fault: faultproxy.TooManyRequests("120"), wantErr: signer.ErrTimeout, wantMsg: "past the signing deadline", fast: true, refused: true},
			{name: "truncated answer", fault: faultproxy.Truncate(), wantMsg: "unexpected EOF"},
		}
		switch s.name {
		case "fulcio":
			evil := b.evilToken(t)
			cs = append(cs, faultCase{name: "certificate for another identity", fault: faultproxy.RewriteRequest(func(r *http.Request, body []byte) []byte {
				r.Header.Set("Authorization", "Bearer "+evil)
				return body
			}), wantErr: signer.ErrIdentity, wantMsg: "evil/tools"})
		case "tsa":
			cs = append(cs, faultCase{name: "timestamp over other bytes", fault: faultproxy.RewriteRequest(otherBytesTimestampRequest), wantMsg: "other bytes"})
		case "rekor":
			// The log wrote the entry before the answer went wrong: that
			// one entry is spent, and the error says so.
			cs[len(cs)-1].spent, cs[len(cs)-1].wantMsg = 1, "may hold an entry"
			cs = append(cs, faultCase{name: "entry with a wrong index", fault: faultproxy.RewriteResponse(wrongLogIndex), wantMsg: "may hold an entry", spent: 1})
		}
		return cs
	}
	for _, s := range servers {
		for _, c := range cases(s) {
			name := s.name + " " + c.name
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				f := b.flags(t, filepath.Join(dir, "provenance.sigstore.json"))
				if c.ok {
					f = calm(f)
				}
				b.clear()
				s.proxy().Inject(faultproxy.Rule{Method: http.MethodPost, Path: s.path, Times: c.times, Fault: c.fault})
				before := b.logSize(t)
				rekorBefore := b.rekor.Forwarded(http.MethodPost, rekorPath)
				code, stderr, took, err := b.run(t, f)
				spent := b.settledLogSize(t) - before
				b.record(name, code, took, spent, firstLine(err))
				t.Logf("exit %d after %s, %d log entries spent: %v", code, took.Round(100*time.Millisecond), spent, err)
				if c.ok {
					if err != nil {
						t.Fatalf("attest failed under a survivable fault (exit %d): %v\n%s", code, err, stderr)
					}
					if spent != 1 {
						t.Errorf("spent %d log entries, want 1", spent)
					}
					bnd, _ := statementOf(t, f.bundlePath)
					verifyWithSigstoreGo(t, b.sb, bnd, faultArtifact, faultSAN)
					return
				}
				if err == nil || code != 2 {
					t.Fatalf("attest succeeded or exited %d under the fault: %v", code, err)
				}
				if !errors.Is(err, s.kind) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
					t.Errorf("err = %v\nwant %v and %v", err, s.kind, c.wantErr)
				}
				if !strings.Contains(err.Error(), s.url()) || !strings.Contains(err.Error(), c.wantMsg) {
					t.Errorf("err = %v\nwant it to name %s and say %q", err, s.url(), c.wantMsg)
				}
				if took > faultBound || (c.fast && took >= faultDeadline) {
					t.Errorf("took %s", took)
				}
				if got := leftovers(t, dir); len(got) > 0 {
					t.Errorf("a failed run left %v", got)
				}
				if spent != c.spent {
					t.Errorf("spent %d log entries, want %d", spent, c.spent)
				}
				if c.refused && strings.Contains(err.Error(), "may hold an entry") {
					t.Errorf("err = %v: the log refused or was never reached, yet the error says an entry may be spent", err)
				}
				if c.spent == 0 && s.name != "rekor" && b.rekor.Forwarded(http.MethodPost, rekorPath) != rekorBefore {
					t.Errorf("the log was written to although %s failed first", s.name)
				}
				b.retrySucceeds(t, f)
			})
		}
	}
}

func firstLine(err error) string {
	if err == nil {
		return "ok"
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// TestAttestRefusesBadTokensBeforeFulcio: an expired token and one for
// another audience are refused with what to change, and Fulcio is never
// asked.
func TestAttestRefusesBadTokensBeforeFulcio(t *testing.T) {
	b := newFaultBench(t)
	now := time.Now()
	for _, c := range []struct {
		name, audience string
		overrides      map[string]string
		wantMsg        string
	}{
		{name: "expired token", audience: oidc.DefaultAudience, overrides: map[string]string{
			"iat": fmt.Sprint(now.Add(-20 * time.Minute).Unix()), "nbf": fmt.Sprint(now.Add(-30 * time.Minute).Unix()),
			"exp": fmt.Sprint(now.Add(-10 * time.Minute).Unix())}, wantMsg: "expired at"},
		{name: "token for another audience", audience: "other", wantMsg: `audience "other", Fulcio wants "sigstore"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := b.flags(t, filepath.Join(dir, "provenance.sigstore.json"))
			f.identityToken = b.token(t, c.audience, c.overrides)
			before := b.logSize(t)
			fulcioBefore, _, _ := b.seen()
			code, _, took, err := b.run(t, f)
			spent := b.settledLogSize(t) - before
			b.record(c.name, code, took, spent, firstLine(err))
			if !errors.Is(err, signer.ErrToken) || code != 2 || !strings.Contains(err.Error(), c.wantMsg) || !strings.Contains(err.Error(), "--identity-token") {
				t.Fatalf("exit %d, err = %v: want ErrToken saying %q and naming the token's source", code, err, c.wantMsg)
			}
			if fulcio, _, _ := b.seen(); fulcio != fulcioBefore {
				t.Error("Fulcio was asked with a token that could not work")
			}
			if spent != 0 || len(leftovers(t, dir)) > 0 {
				t.Errorf("spent %d entries, left %v", spent, leftovers(t, dir))
			}
			b.retrySucceeds(t, f)
		})
	}
}

// TestAttestDefaultTimes checks the default deadlines by inspection rather
// than by waiting: signing ends within a minute even when every server
// hangs, and three tries with their backoff fit in the signing deadline.
func TestAttestDefaultTimes(t *testing.T) {
	var out bytes.Buffer
	if code := Run(context.Background(), []string{"attest", "--help"}, nil, &out, io.Discard); code != 0 {
		t.Fatalf("attest --help exited %d", code)
	}
	help := out.String()
	for _, want := range []string{
		"--deadline duration", "(default 45s)",
		"--timeout duration", "(default 10s)",
		"--push-deadline duration", "(default 30s)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("attest --help lacks %q", want)
		}
	}
	if signer.DefaultDeadline >= time.Minute || attest.DefaultPushDeadline >= time.Minute {
		t.Errorf("defaults %s and %s: a hanging server must not hold attest for a minute", signer.DefaultDeadline, attest.DefaultPushDeadline)
	}
	if tries := time.Duration(signer.DefaultRetries+1)*signer.DefaultTimeout + 3*time.Second; tries > signer.DefaultDeadline {
		t.Errorf("%d tries of %s with backoff need %s, more than the %s deadline", signer.DefaultRetries+1, signer.DefaultTimeout, tries, signer.DefaultDeadline)
	}
}

// TestAttestKeepsBundlesSignedBeforeAFailure: with one bundle per subject,
// signed side by side, a Fulcio that fails the second request leaves the
// other bundle written (its entry is spent) and the error says so; nothing
// else is left behind.
func TestAttestKeepsBundlesSignedBeforeAFailure(t *testing.T) {
	b := newFaultBench(t)
	dir := t.TempDir()
	f := b.flags(t, filepath.Join(dir, "each.sigstore.json"))
	f.subjectPaths = nil
	f.subjectNames = []string{"a.bin", "b.bin"}
	f.subjectDigests = []string{"sha256:" + sha256Hex("a"), "sha256:" + sha256Hex("b")}
	f.perSubject = true
	b.fulcio.Inject(faultproxy.Rule{Method: http.MethodPost, Path: "/api/v2/signingCert", After: 1, Fault: faultproxy.Status(503)})
	before := b.logSize(t)
	code, _, took, err := b.run(t, f)
	spent := b.settledLogSize(t) - before
	b.record("one of two bundles: fulcio 503", code, took, spent, firstLine(err))
	if !errors.Is(err, signer.ErrCertificate) || code != 2 {
		t.Fatalf("exit %d, err = %v", code, err)
	}
	// Which of the two reached Fulcio second is up to the scheduler.
	kept, lost, keptName, lostNumber := filepath.Join(dir, "each.a.bin.sigstore.json"), filepath.Join(dir, "each.b.bin.sigstore.json"), "a", "2"
	if _, err := os.Stat(kept); err != nil {
		kept, lost, keptName, lostNumber = lost, kept, "b", "1"
	}
	for _, want := range []string{"signing bundle " + lostNumber + " of 2", b.fulcio.URL(), "the signed bundle is kept: " + kept} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to say %q", err, want)
		}
	}
	if spent != 1 {
		t.Errorf("spent %d log entries, want 1 (the kept bundle's)", spent)
	}
	if got := leftovers(t, dir, filepath.Base(kept)); len(got) > 0 {
		t.Errorf("left %v besides the kept bundle", got)
	}
	bnd, _ := statementOf(t, kept)
	verifyWithSigstoreGo(t, b.sb, bnd, keptName, faultSAN)
	if _, err := os.Stat(lost); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed bundle exists (%v)", err)
	}
}
