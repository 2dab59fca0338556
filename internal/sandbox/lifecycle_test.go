package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// upOwn starts a sandbox of the test's own (not the shared one) and makes
// sure it is gone when the test ends, whatever the test did to it.
func upOwn(t *testing.T, dir string) *sandbox.Sandbox {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the sandbox's servers; runs without -short")
	}
	s, err := sandboxtest.Up(t, dir)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Cleanup(func() { sandbox.Down(context.Background(), dir) })
	return s
}

func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "hm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "sb")
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// assertGone fails unless every process of s has exited and none of its
// ports is held by it or anything it spawned. Other tests run beside this
// one and may bind a port the sandbox freed, so a port that accepts
// connections fails only while a process of the sandbox's process groups
// listens on it.
func assertGone(t *testing.T, s *sandbox.Sandbox) {
	t.Helper()
	for _, p := range s.Processes {
		if p.Alive() {
			t.Errorf("%s (pid %d) still running", p.Name, p.PID)
		}
		for _, port := range p.Ports {
			if !listening(port) {
				continue
			}
			owners := listeners(t, port)
			for _, pid := range owners {
				if processGroup(pid) == p.PID {
					t.Errorf("%s port %d still listening (pid %d of its group)", p.Name, port, pid)
				}
			}
			if len(owners) > 0 {
				t.Logf("%s's freed port %d is held now by pids %v, not of its group", p.Name, port, owners)
			}
		}
	}
}

// listeners returns the pids of the processes holding a listening TCP
// socket on port, from /proc.
func listeners(t *testing.T, port int) []int {
	t.Helper()
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if n, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(n) == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	seen := map[int]bool{}
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !inodes[target] {
			continue
		}
		pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
		if err == nil && !seen[pid] {
			seen[pid] = true
			pids = append(pids, pid)
		}
	}
	return pids
}

// processGroup is pid's process group, or -1.
func processGroup(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 3 {
		return -1
	}
	pg, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return pg
}

func process(t *testing.T, s *sandbox.Sandbox, name string) *sandbox.Process {
	t.Helper()
	for _, p := range s.Processes {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no %s process", name)
	return nil
}

func TestUpDownLifecycle(t *testing.T) {
	dir := shortDir(t)
	s := upOwn(t, dir)
	if len(s.Processes) != 4 {
		t.Fatalf("%d processes, want issuer, rekor, tsa, fulcio", len(s.Processes))
	}
	for _, h := range s.Status(context.Background()) {
		if !h.Healthy {
			t.Errorf("%s not healthy: %s", h.Name, h.Error)
		}
	}

	t.Run("up twice is refused", func(t *testing.T) {
		_, err := sandboxtest.Up(t, dir)
		if !errors.Is(err, sandbox.ErrRunning) {
			t.Fatalf("second up: %v, want ErrRunning", err)
		}
		for _, p := range s.Processes {
			if !p.Alive() {
				t.Errorf("refused up disturbed %s", p.Name)
			}
		}
	})

	t.Run("down stops everything", func(t *testing.T) {
		start := time.Now()
		if _, err := sandbox.Down(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		t.Logf("down took %s", time.Since(start))
		assertGone(t, s)
		if _, err := os.Stat(filepath.Join(dir, sandbox.StateFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state file left after down: %v", err)
		}
		if _, err := os.Stat(s.TrustedRootPath()); err != nil {
			t.Errorf("trusted root removed by down: %v", err)
		}
	})

	t.Run("down twice", func(t *testing.T) {
		if _, err := sandbox.Down(context.Background(), dir); !errors.Is(err, sandbox.ErrNotRunning) {
			t.Fatalf("down without a sandbox: %v, want ErrNotRunning", err)
		}
	})
}

func TestDownWithoutUp(t *testing.T) {
	for name, dir := range map[string]string{
		"empty folder":   t.TempDir(),
		"missing folder": filepath.Join(t.TempDir(), "nothing-here"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := sandbox.Down(context.Background(), dir); !errors.Is(err, sandbox.ErrNotRunning) {
				t.Fatalf("err = %v, want ErrNotRunning", err)
			}
		})
	}
}

func TestUpAfterCrash(t *testing.T) {
	dir := shortDir(t)
	old := upOwn(t, dir)

	// Fulcio dies, and something else takes its port meanwhile.
	fulcio := process(t, old, "fulcio")
	if err := syscall.Kill(fulcio.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && fulcio.Alive(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	// Take fulcio's old port. On a busy machine another socket may hold it
	// already; either way the port is unavailable, which is the case here.
	if squatter, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(fulcio.Ports[0])); err == nil {
		defer squatter.Close()
	} else {
		t.Logf("fulcio's old port is held by another socket: %v", err)
	}

	loaded, err := sandbox.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var fulcioHealth sandbox.Health
	for _, h := range loaded.Status(context.Background()) {
		if h.Name == "fulcio" {
			fulcioHealth = h
		}
	}
	if fulcioHealth.Healthy || fulcioHealth.Running {
		t.Errorf("status reports dead fulcio as %+v", fulcioHealth)
	}

	fresh, err := sandboxtest.Up(t, dir)
	if err != nil {
		t.Fatalf("up after crash: %v", err)
	}
	// The survivors of the old sandbox were stopped, not orphaned.
	for _, p := range old.Processes {
		if p.Alive() {
			t.Errorf("old %s (pid %d) left running", p.Name, p.PID)
		}
	}
	for _, h := range fresh.Status(context.Background()) {
		if !h.Healthy {
			t.Errorf("%s not healthy after recovery: %s", h.Name, h.Error)
		}
	}
	if _, err := sandbox.Down(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, fresh)
}

func TestUpAfterInterruptedUp(t *testing.T) {
	dir := shortDir(t)
	old := upOwn(t, dir)
	// An up that died before it finished leaves running processes and a
	// state that is not ready.
	path := filepath.Join(dir, sandbox.StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	st["ready"] = false
	data, _ = json.Marshal(st)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh, err := sandboxtest.Up(t, dir)
	if err != nil {
		t.Fatalf("up after an interrupted up: %v", err)
	}
	for _, p := range old.Processes {
		if p.Alive() {
			t.Errorf("old %s (pid %d) left running", p.Name, p.PID)
		}
	}
	if _, err := sandbox.Down(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, fresh)
}

func TestUpFailureLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox's servers; runs without -short")
	}
	dir := shortDir(t)
	opts := sandboxtest.Options(t)
	// An issuer that cannot start: Up must report it with its log and
	// leave no process and no state behind.
	script := filepath.Join(t.TempDir(), "broken-issuer")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'issuer: cannot open keys: permission denied' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts.IssuerCommand = []string{script}
	_, err := sandbox.Up(context.Background(), dir, opts)
	if err == nil {
		sandbox.Down(context.Background(), dir)
		t.Fatal("up with a broken issuer succeeded")
	}
	if !strings.Contains(err.Error(), "cannot open keys: permission denied") {
		t.Errorf("error does not show the log tail: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sandbox.StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed up left a state file: %v", err)
	}
	if _, err := sandbox.Down(context.Background(), dir); !errors.Is(err, sandbox.ErrNotRunning) {
		t.Errorf("down after a failed up: %v, want ErrNotRunning", err)
	}
}

// TestUpRetriesPortTakenByAnother gives fulcio's gRPC port to a listener of
// the test's own for the first attempts, as another process on a busy CI
// machine can: up must start again on fresh ports, and give up with a clear
// error when every attempt loses a port.
func TestUpRetriesPortTakenByAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox's servers; runs without -short")
	}
	thief, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close()
	taken := thief.Addr().(*net.TCPAddr).Port

	// stealFor makes the first n reservations hand out the taken port
	// where fulcio's gRPC port goes (the second of seven).
	stealFor := func(n int) *int {
		calls := 0
		restore := sandbox.SetFreePorts(func(k int) ([]int, error) {
			ports, err := sandbox.ReservePorts(k)
			if err == nil && k == 7 && calls < n {
				ports[1] = taken
			}
			calls++
			return ports, err
		})
		t.Cleanup(restore)
		return &calls
	}

	t.Run("recovers", func(t *testing.T) {
		calls := stealFor(1)
		dir := shortDir(t)
		s := upOwn(t, dir)
		if *calls != 2 {
			t.Errorf("ports chosen %d times, want 2 (one lost, one good)", *calls)
		}
		for _, h := range s.Status(context.Background()) {
			if !h.Healthy {
				t.Errorf("%s not healthy after the retry: %s", h.Name, h.Error)
			}
		}
		logs, err := os.ReadFile(filepath.Join(dir, "logs", "fulcio.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(logs), "address already in use") {
			t.Errorf("fulcio's log is the failed attempt's, not the running server's")
		}
	})

	t.Run("gives up", func(t *testing.T) {
		stealFor(sandbox.MaxStartAttempts)
		dir := shortDir(t)
		_, err := sandboxtest.Up(t, dir)
		if err == nil {
			sandbox.Down(context.Background(), dir)
			t.Fatal("up succeeded with every attempt's port taken")
		}
		if !strings.Contains(err.Error(), "taken by another process") {
			t.Errorf("error does not say what went wrong: %v", err)
		}
		if _, serr := os.Stat(filepath.Join(dir, sandbox.StateFile)); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("failed up left a state file: %v", serr)
		}
	})
}
