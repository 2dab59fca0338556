package spire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// Server is a running SPIRE server.
type Server struct {
	TrustDomain spiffeid.TrustDomain
	// Port is the agent API's loopback port.
	Port int
	// JWTIssuer is the iss claim of its JWT-SVIDs, when configured.
	JWTIssuer string
	dir, bin  string
	agentBin  string
	socket    string
	cmd       *exec.Cmd
	done      chan struct{}
}

// Agent is a running SPIRE agent serving the Workload API.
type Agent struct {
	// SocketPath is the Workload API's unix socket.
	SocketPath string
	cmd        *exec.Cmd
	done       chan struct{}
}

// ServerOptions tune StartServer.
type ServerOptions struct {
	// TrustDomain; "example.org" when empty.
	TrustDomain string
	// JWTIssuer sets the iss claim of JWT-SVIDs (needed for Fulcio's
	// spiffe issuer). Optional.
	JWTIssuer string
	// SVIDTTL is the default X.509-SVID lifetime; 1 h when zero.
	SVIDTTL time.Duration
}

// Binaries returns the folder of the SPIRE binaries. Under -short the test
// is skipped; without it, missing binaries fail the test with the command
// that installs them.
func Binaries(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs SPIRE; runs without -short")
	}
	cache, err := toolcache.DefaultDir()
	if err != nil {
		tb.Fatal(err)
	}
	if !toolcache.SPIRE.Installed(cache) {
		tb.Fatalf("SPIRE %s is not in %s: run scripts/install-deps.sh", toolcache.SPIRE.Version, cache)
	}
	return toolcache.SPIRE.Dir(cache)
}

// StartServer starts a SPIRE server, stopped in tb.Cleanup.
func StartServer(tb testing.TB, o ServerOptions) *Server {
	tb.Helper()
	bins := Binaries(tb)
	if o.TrustDomain == "" {
		o.TrustDomain = "example.org"
	}
	if o.SVIDTTL == 0 {
		o.SVIDTTL = time.Hour
	}
	// The agent port is chosen, released and then bound by the server: on
	// a busy machine another process can take it in between, so a server
	// that loses its port is started again on a fresh one.
	return retryPortTaken(tb, "SPIRE server", func() (*Server, error) { return startServer(tb, o, bins) })
}

// retryPortTaken calls start until it succeeds, fails for another reason
// than a port taken by another process, or has lost a port three times.
func retryPortTaken[T any](tb testing.TB, what string, start func() (T, error)) T {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		v, err := start()
		if err == nil {
			return v
		}
		if attempt < 3 && errors.Is(err, errPortTaken) {
			tb.Logf("%s: %v; starting again on a fresh port", what, err)
			continue
		}
		tb.Fatal(err)
	}
}

func startServer(tb testing.TB, o ServerOptions, bins string) (*Server, error) {
	tb.Helper()
	// Unix socket paths are limited to 108 bytes: keep the folder short.
	dir, err := os.MkdirTemp("", "spire-")
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		TrustDomain: spiffeid.RequireTrustDomainFromString(o.TrustDomain),
		Port:        port,
		JWTIssuer:   o.JWTIssuer,
		dir:         dir,
		bin:         filepath.Join(bins, "spire-server"),
		agentBin:    filepath.Join(bins, "spire-agent"),
		socket:      filepath.Join(dir, "server.sock"),
	}
	jwtIssuer := ""
	if o.JWTIssuer != "" {
		jwtIssuer = fmt.Sprintf("  jwt_issuer = %q\n", o.JWTIssuer)
	}
	conf := fmt.Sprintf(`server {
  bind_address = "127.0.0.1"
  bind_port = "%d"
  socket_path = %q
  trust_domain = %q
  data_dir = %q
  log_level = "WARN"
  ca_key_type = "ec-p256"
  ca_ttl = "24h"
  default_x509_svid_ttl = %q
%s}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = %q
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
}
`, s.Port, s.socket, o.TrustDomain, filepath.Join(dir, "data"), o.SVIDTTL.String(), jwtIssuer, filepath.Join(dir, "data", "datastore.sqlite3"))
	cfg := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	s.cmd = start(tb, filepath.Join(dir, "server.log"), s.bin, "run", "-config", cfg)
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	tb.Cleanup(s.stop)
	err = waitReady(60*time.Second, filepath.Join(dir, "server.log"), s.done, func() error {
		_, err := s.run("healthcheck", "-socketPath", s.socket)
		return err
	})
	if err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("spire-server %s: %w: %s%s", args[0], err, out, stderr.Bytes())
	}
	return out, nil
}

func (s *Server) mustRun(tb testing.TB, args ...string) []byte {
	tb.Helper()
	out, err := s.run(args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// NodeID is the SPIFFE ID agents started by StartAgent are aliased to:
// register workloads with it as parent.
func (s *Server) NodeID() spiffeid.ID {
	return spiffeid.RequireFromPath(s.TrustDomain, "/node")
}

// Register creates a registration entry for id, parented to NodeID, with
// the given selectors (such as "unix:uid:1000"). ttl of zero takes the
// server default.
func (s *Server) Register(tb testing.TB, id string, ttl time.Duration, selectors ...string) {
	tb.Helper()
	args := []string{"entry", "create", "-socketPath", s.socket, "-parentID", s.NodeID().String(), "-spiffeID", id}
	if ttl > 0 {
		args = append(args, "-x509SVIDTTL", strconv.Itoa(int(ttl.Seconds())), "-jwtSVIDTTL", strconv.Itoa(int(ttl.Seconds())))
	}
	for _, sel := range selectors {
		args = append(args, "-selector", sel)
	}
	s.mustRun(tb, args...)
}

// RegisterSelf registers id for processes of this test's user.
func (s *Server) RegisterSelf(tb testing.TB, id string, ttl time.Duration) {
	tb.Helper()
	s.Register(tb, id, ttl, "unix:uid:"+strconv.Itoa(os.Getuid()))
}

// BundlePEM is the trust bundle's X.509 authorities, PEM-encoded.
func (s *Server) BundlePEM(tb testing.TB) []byte {
	tb.Helper()
	return s.mustRun(tb, "bundle", "show", "-socketPath", s.socket, "-format", "pem")
}

// BundleJSON is the trust bundle as a SPIFFE bundle JSON document.
func (s *Server) BundleJSON(tb testing.TB) []byte {
	tb.Helper()
	return s.mustRun(tb, "bundle", "show", "-socketPath", s.socket, "-format", "spiffe")
}

// StartAgent attests a new agent with a join token and starts it, stopped
// in tb.Cleanup (or earlier with Stop). It returns once the Workload API
// answers.
func (s *Server) StartAgent(tb testing.TB) *Agent {
	tb.Helper()
	out := s.mustRun(tb, "token", "generate", "-socketPath", s.socket, "-spiffeID", s.NodeID().String(), "-ttl", "600")
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "Token:"))
	dir, err := os.MkdirTemp(s.dir, "agent-")
	if err != nil {
		tb.Fatal(err)
	}
	a := &Agent{SocketPath: filepath.Join(dir, "api.sock"), done: make(chan struct{})}
	conf := fmt.Sprintf(`agent {
  data_dir = %q
  log_level = "WARN"
  server_address = "127.0.0.1"
  server_port = "%d"
  socket_path = %q
  trust_domain = %q
  insecure_bootstrap = true
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
`, filepath.Join(dir, "data"), s.Port, a.SocketPath, s.TrustDomain.Name())
	cfg := filepath.Join(dir, "agent.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	logPath := filepath.Join(dir, "agent.log")
	a.cmd = start(tb, logPath, s.agentBin, "run", "-config", cfg, "-joinToken", token)
	go func() { a.cmd.Wait(); close(a.done) }()
	tb.Cleanup(a.Stop)
	waitFor(tb, 60*time.Second, logPath, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, s.agentBin, "healthcheck", "-socketPath", a.SocketPath).Run()
	})
	return a
}

// Addr is the Workload API address for go-spiffe's workloadapi.WithAddr.
func (a *Agent) Addr() string { return "unix://" + a.SocketPath }

// Stop stops the agent; the Workload API goes away.
func (a *Agent) Stop() { stop(a.cmd, a.done) }

func start(tb testing.TB, logPath, bin string, args ...string) *exec.Cmd {
	tb.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		tb.Fatal(err)
	}
	log.Close()
	return cmd
}

func stop(cmd *exec.Cmd, done chan struct{}) {
	if cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

func (s *Server) stop() { stop(s.cmd, s.done) }

func waitFor(tb testing.TB, limit time.Duration, logPath string, ready func() error) {
	tb.Helper()
	if err := waitReady(limit, logPath, nil, ready); err != nil {
		tb.Fatal(err)
	}
}

// errPortTaken is in the error of a process that exited because its port
// had been taken by another process.
var errPortTaken = errors.New("a port chosen for it was taken by another process")

// waitReady polls ready until it succeeds, limit passes, or done (when not
// nil) closes, which means the process exited.
func waitReady(limit time.Duration, logPath string, done <-chan struct{}, ready func() error) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		if err = ready(); err == nil {
			return nil
		}
		select {
		case <-done:
			log := logEnd(logPath)
			if bytes.Contains(log, []byte("address already in use")) {
				return fmt.Errorf("%s exited: %w:\n%s", filepath.Base(logPath), errPortTaken, log)
			}
			return fmt.Errorf("%s exited before it was ready:\n%s", filepath.Base(logPath), log)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("SPIRE did not become ready in %s: %v\n%s", limit, err, logEnd(logPath))
}

func logEnd(path string) []byte {
	log, _ := os.ReadFile(path)
	if len(log) > 4000 {
		log = log[len(log)-4000:]
	}
	return log
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitForSVID waits until the agent hands this process an X.509-SVID for
// id (the agent syncs registration entries every few seconds).
func (a *Agent) WaitForSVID(tb testing.TB, id string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		svids, err := workloadapi.FetchX509SVIDs(ctx, workloadapi.WithAddr(a.Addr()))
		cancel()
		if err == nil {
			for _, s := range svids {
				if s.ID.String() == id {
					return
				}
			}
			err = fmt.Errorf("got %d SVIDs, none for %s", len(svids), id)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	tb.Fatalf("no SVID for %s: %v", id, last)
}
