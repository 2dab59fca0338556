package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/hallmark-dev/hallmark/internal/faultproxy"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestAttestUnderRegistryFaults: a registry that is down, failing or slow
// is found before signing and costs no log entry; one that fails only
// after signing (the manifest push) leaves the signed bundle, and the
// printed `hallmark push` command attaches it without a second entry.
func TestAttestUnderRegistryFaults(t *testing.T) {
	b := newFaultBench(t)
	reg := ocitest.Distribution(t)
	ocitest.DockerConfig(t, &ocitest.Registry{})
	rp := faultproxy.Start(t, "http://"+reg.Host)
	img := reg.Image(t, "acme/app", "v1")
	ref := rp.Addr() + "/acme/app@" + img.DigestStr()
	subject, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	manifests := "/v2/acme/app/manifests/"
	tests := []struct {
		name    string
		rule    faultproxy.Rule
		ok      bool  // survivable
		after   bool  // fails after signing: the bundle is kept
		wantErr error // beyond the registry's
	}{
		{name: "registry unreachable", rule: faultproxy.Rule{Fault: faultproxy.Refuse()}, wantErr: oci.ErrUnreachable},
		{name: "registry answers 500", rule: faultproxy.Rule{Fault: faultproxy.Status(500)}, wantErr: oci.ErrRegistry},
		{name: "registry hangs", rule: faultproxy.Rule{Fault: faultproxy.Hang()}, wantErr: oci.ErrTimeout},
		{name: "registry 429 with Retry-After 1, once", rule: faultproxy.Rule{Times: 1, Fault: faultproxy.TooManyRequests("1")}, ok: true},
		{name: "manifest push answers 500 after signing", rule: faultproxy.Rule{Method: http.MethodPut, Path: manifests, Fault: faultproxy.Status(500)}, after: true, wantErr: oci.ErrRegistry},
		{name: "manifest push hangs after signing", rule: faultproxy.Rule{Method: http.MethodPut, Path: manifests, Fault: faultproxy.Hang()}, after: true, wantErr: oci.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "image.sigstore.json")
			f := b.flags(t, out)
			if tt.ok {
				f = calm(f)
			}
			f.subjectPaths, f.subjectImages, f.pushToRegistry = nil, []string{ref}, true
			b.clear()
			rp.Clear()
			rp.Inject(tt.rule)
			before := b.logSize(t)
			code, stderr, took, err := b.run(t, f)
			spent := b.settledLogSize(t) - before
			b.record(tt.name, code, took, spent, firstLine(err))
			t.Logf("exit %d after %s, %d log entries spent: %v", code, took.Round(100*time.Millisecond), spent, err)
			if tt.ok {
				if err != nil {
					t.Fatalf("attest failed under a survivable fault: %v\n%s", err, stderr)
				}
				if spent != 1 {
					t.Errorf("spent %d entries, want 1", spent)
				}
				attached(t, b, subject, out)
				return
			}
			if err == nil || code != 2 || !errors.Is(err, tt.wantErr) {
				t.Fatalf("exit %d, err = %v; want %v", code, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), rp.Addr()) {
				t.Errorf("err = %v: want it to name the registry %s", err, rp.Addr())
			}
			if took > faultPushDeadline+faultBound {
				t.Errorf("took %s", took)
			}
			rp.Clear()
			if !tt.after {
				if spent != 0 || len(leftovers(t, dir)) > 0 {
					t.Errorf("a registry fault found before signing spent %d entries and left %v", spent, leftovers(t, dir))
				}
				if !strings.Contains(err.Error(), "nothing was signed") {
					t.Errorf("err = %v: want it to say nothing was signed", err)
				}
				before := b.logSize(t)
				f = calm(f)
				f.identityToken = b.token(t, oidc.DefaultAudience, nil)
				if _, stderr, _, err := b.run(t, f); err != nil {
					t.Fatalf("the retry after the fault cleared failed: %v\n%s", err, stderr)
				}
				if got := b.settledLogSize(t) - before; got != 1 {
					t.Errorf("the retry spent %d entries, want 1", got)
				}
				attached(t, b, subject, out)
				return
			}
			// After signing: the entry is spent, the bundle kept, and the
			// message carries the command that finishes the job.
			if spent != 1 || len(leftovers(t, dir, "image.sigstore.json")) > 0 {
				t.Errorf("spent %d entries, left %v besides the bundle", spent, leftovers(t, dir, "image.sigstore.json"))
			}
			if _, err := os.Stat(out); err != nil {
				t.Fatalf("the signed bundle was not kept: %v", err)
			}
			_, cmdline, ok := strings.Cut(err.Error(), "push it without signing again:\n  ")
			if !ok || !strings.HasPrefix(cmdline, "hallmark push ") {
				t.Fatalf("err = %v: want the hallmark push command", err)
			}
			beforePush := b.logSize(t)
			var pushOut strings.Builder
			if code := Run(context.Background(), strings.Fields(cmdline)[1:], nil, &pushOut, &pushOut); code != 0 {
				t.Fatalf("%s: exit %d\n%s", cmdline, code, pushOut.String())
			}
			if got := b.settledLogSize(t) - beforePush; got != 0 {
				t.Errorf("hallmark push spent %d log entries", got)
			}
			attached(t, b, subject, out)
		})
	}
}

// attached checks that the bundle at path is attached to subject and
// verifies as the bench's identity over the image's digest.
func attached(t *testing.T, b *faultBench, subject name.Digest, path string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := oci.Discover(context.Background(), subject, "https://slsa.dev/provenance/v1")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range d.Attestations {
		found = found || string(a.Bundle) == string(want)
	}
	if !found {
		t.Fatalf("the bundle is not attached to %s (%d attestations there)", subject, len(d.Attestations))
	}
	var bnd bundle.Bundle
	if err := bnd.UnmarshalJSON(want); err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(b.sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.NewVerifier(tr, verify.WithTransparencyLog(1), verify.WithSignedTimestamps(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify.NewShortCertificateIdentity(b.sb.IssuerURL, "", faultSAN, "")
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := hex.DecodeString(strings.TrimPrefix(subject.DigestStr(), "sha256:"))
	if _, err := v.Verify(&bnd, verify.NewPolicy(verify.WithArtifactDigest("sha256", digest), verify.WithCertificateIdentity(id))); err != nil {
		t.Fatalf("the pushed bundle does not verify: %v", err)
	}
}

// TestAttestOutputFaults runs the hallmark binary against output folders
// that cannot take the bundle, and kills one mid-run: each costs no log
// entry and leaves no file, and a run into a good folder then succeeds.
func TestAttestOutputFaults(t *testing.T) {
	b := newFaultBench(t)
	bin := sandboxtest.Binary(t)
	run := func(t *testing.T, prefix string, out string) *exec.Cmd {
		args := []string{"attest", "--subject-path", b.subject, "--bundle-path", out,
			"--signing-config", b.signingConfig, "--trusted-root", b.sb.TrustedRootPath(), "--facts-from-token",
			"--deadline", faultDeadline.String(), "--timeout", faultTimeout.String()}
		var cmd *exec.Cmd
		if prefix != "" {
			cmd = exec.Command("sh", append([]string{"-c", prefix + `; exec "$0" "$@"`, bin}, args...)...)
		} else {
			cmd = exec.Command(bin, args...)
		}
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(),
			"SIGSTORE_ID_TOKEN=" + b.token(t, oidc.DefaultAudience, nil)}
		return cmd
	}
	tests := []struct {
		name    string
		dir     func(t *testing.T) (dir, prefix string)
		wantMsg string
		kill    bool
	}{
		{name: "read-only output folder", dir: readOnlyDir, wantMsg: "read-only file system|permission denied"},
		{name: "full output folder", dir: fullDir, wantMsg: "reserving"},
		{name: "SIGKILL while the TSA is asked", dir: func(t *testing.T) (string, string) { return t.TempDir(), "" }, kill: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, prefix := tt.dir(t)
			out := filepath.Join(dir, "provenance.sigstore.json")
			b.clear()
			before := b.logSize(t)
			fulcioBefore, tsaBefore, _ := b.seen()
			cmd := run(t, prefix, out)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			start := time.Now()
			if tt.kill {
				b.tsa.Inject(faultproxy.Rule{Fault: faultproxy.Hang()})
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), faultBound)
				err := b.tsa.WaitSeen(ctx, http.MethodPost, "/api/v1/timestamp", tsaBefore+1)
				cancel()
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				if err != nil {
					t.Fatal(err)
				}
			} else {
				cmd.Run()
			}
			took := time.Since(start)
			spent := b.settledLogSize(t) - before
			code := cmd.ProcessState.ExitCode()
			msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
			if tt.kill {
				msg = "killed by " + cmd.ProcessState.String()
			}
			b.record(tt.name, code, took, spent, msg)
			t.Logf("exit %d after %s, %d log entries spent: %s", code, took.Round(100*time.Millisecond), spent, stderr.String())
			if tt.kill {
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("the run ended with %s, not SIGKILL", cmd.ProcessState)
				}
			} else {
				if code != 2 || !strings.Contains(stderr.String(), "--bundle-path") || !strings.Contains(stderr.String(), out) ||
					!containsAny(stderr.String(), tt.wantMsg) || !strings.Contains(stderr.String(), "nothing was signed") {
					t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 naming --bundle-path %s and %q", code, stderr.String(), out, tt.wantMsg)
				}
				if fulcio, _, _ := b.seen(); fulcio != fulcioBefore {
					t.Error("Fulcio was asked although the bundle could not be written")
				}
			}
			if took > faultBound {
				t.Errorf("took %s", took)
			}
			if spent != 0 {
				t.Errorf("spent %d log entries", spent)
			}
			if got := leftovers(t, dir, "filler"); len(got) > 0 {
				t.Errorf("left %v in the output folder", got)
			}
			// The fault clears: a writable folder, servers that answer.
			b.retrySucceeds(t, b.flags(t, filepath.Join(t.TempDir(), "provenance.sigstore.json")))
		})
	}
}

// containsAny reports whether s contains one of the |-separated words.
func containsAny(s, words string) bool {
	for _, w := range strings.Split(words, "|") {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// readOnlyDir returns an empty folder this process cannot write to: a
// read-only tmpfs for root (who ignores permissions), a folder without
// write permission for anyone else.
func readOnlyDir(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
		return dir, ""
	}
	mountTmpfs(t, dir, syscall.MS_RDONLY, "size=64k")
	return dir, ""
}

// fullDir returns a folder that has no room for a bundle: a full tmpfs
// for root; for anyone else, whom mounting is denied, a folder the run may
// write no byte to (a file size limit of zero), which fails the same writes.
func fullDir(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		return dir, "ulimit -f 0"
	}
	mountTmpfs(t, dir, 0, "size=64k")
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := filler.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()
	// The filler is part of the fault, not a leftover of the run: it
	// stays until the folder is unmounted.
	t.Cleanup(func() { os.Remove(filepath.Join(dir, "filler")) })
	return dir, ""
}

func mountTmpfs(t *testing.T, dir string, flags uintptr, data string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, data); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}
