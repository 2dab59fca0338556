package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// Process is one server the sandbox started, as recorded in the state file.
type Process struct {
	Name string `json:"name"`
	PID  int    `json:"pid"`
	// StartTicks is the process start time from /proc/PID/stat. It tells the
	// process we started from an unrelated one that reused its pid.
	StartTicks uint64 `json:"startTicks"`
	Log        string `json:"log"`
	// Ports the process listens on, checked to be closed after Down.
	Ports []int `json:"ports"`
}

// spec is how to start a server.
type spec struct {
	name  string
	bin   string
	args  []string
	env   []string
	files []*os.File // passed as fd 3, 4, ...
	ports []int
}

// start launches s detached in its own session, so it outlives the hallmark
// process that ran `sandbox up` and a terminal's ^C does not reach it.
func start(s spec, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.name, err)
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.ExtraFiles = s.files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.name, err)
	}
	// Until it is waited for, the child cannot be reaped: /proc shows it,
	// as a zombie if it has already exited.
	ticks, err := startTicks(cmd.Process.Pid)
	if errors.Is(err, errExited) {
		cmd.Wait()
		// It died before we could look at it: what it said is in its log.
		return nil, exitedError(s.name, logPath, "at once")
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("starting %s: %w", s.name, err)
	}
	// Reap the child if it exits while this process lives (tests run the
	// sandbox in-process); otherwise it would linger as a zombie.
	go cmd.Wait()
	return &Process{Name: s.name, PID: cmd.Process.Pid, StartTicks: ticks, Log: logPath, Ports: s.ports}, nil
}

// startTicks reads field 22 (starttime) of /proc/PID/stat.
func startTicks(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return 0, errExited // exited and already reaped
	}
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	if fields[0] == "Z" {
		return 0, errExited
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

var errExited = errors.New("process exited")

// Alive reports whether the recorded process is still the one we started and
// has not exited.
func (p *Process) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	ticks, err := startTicks(p.PID)
	return err == nil && ticks == p.StartTicks
}

// Stop sends SIGTERM to the process group, waits up to grace for it to go,
// then SIGKILLs it. It never signals a pid that no longer belongs to the
// process we started.
func (p *Process) Stop(grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	// The process leads its own session and group (Setsid), so -PID reaches
	// it and anything it spawned.
	syscall.Kill(-p.PID, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !p.Alive() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.Alive() {
		syscall.Kill(-p.PID, syscall.SIGKILL)
	}
	for i := 0; i < 100 && p.Alive(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if p.Alive() {
		return fmt.Errorf("%s (pid %d) did not stop", p.Name, p.PID)
	}
	return nil
}

// freePorts chooses n distinct free loopback ports. The listeners are closed
// before the servers bind, so another process could take a port in between;
// Up notices (the server fails to start saying so) and starts again on fresh
// ports. A variable so a test can hand out a port that is taken.
var freePorts = reservePorts

func reservePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitHealthy polls check until it succeeds, the process exits, or ctx ends.
func waitHealthy(ctx context.Context, p *Process, check func(context.Context) error) error {
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if !p.Alive() {
			return exitedError(p.Name, p.Log, "during start-up")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer in time (last: %v); its log %s ends:\n%s", p.Name, last, p.Log, logTail(p.Log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// exitedError describes a server that exited while starting, with the end of
// its log; a *portTakenError if the log says it could not bind its port.
func exitedError(name, log, when string) error {
	t := logTail(log)
	if strings.Contains(t, "address already in use") {
		return &portTakenError{name: name, log: log, tail: t}
	}
	return fmt.Errorf("%s exited %s; its log %s ends:\n%s", name, when, log, t)
}

// portTakenError says a server could not bind a port chosen for it: another
// process took the port between freePorts releasing it and the server
// binding it. Up tries again on fresh ports.
type portTakenError struct{ name, log, tail string }

func (e *portTakenError) Error() string {
	return fmt.Sprintf("%s exited during start-up: a port chosen for it was taken by another process; its log %s ends:\n%s", e.name, e.log, e.tail)
}

func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	return toolcache.Tail(data, 15)
}
