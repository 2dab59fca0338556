// Package rekorv1test runs a real Rekor v1 log for tests: rekor-server on
// Trillian's log server and signer, with MariaDB holding Trillian's tree
// and Rekor's search index, all on this machine (MariaDB on a unix socket,
// the servers on loopback). A test binary starts one log and shares it:
//
//	func TestMain(m *testing.M) { rekorv1test.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		log := rekorv1test.Start(t) // skipped under -short
//		...
//	}
//
// Main also stops the sandbox sandboxtest shares. Without Main, each Start
// gets its own log, stopped in t.Cleanup.
//
// The servers are built once into the tool cache (sandbox.RekorV1Tools,
// `go run ./internal/rekorv1/testtools`); MariaDB comes from Debian's
// mariadb-server (scripts/install-deps.sh).
package rekorv1test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// Log is a running Rekor v1 log.
type Log struct {
	// URL is the log's base URL, http://127.0.0.1:PORT.
	URL string
	// PublicKeyDER is the log's signing key (PKIX), LogID its SHA-256.
	PublicKeyDER, LogID []byte
	// Started is when the log began signing.
	Started time.Time
	// Dir holds the database, the sockets and every server's log file.
	Dir   string
	procs []*proc
}

var (
	mu      sync.Mutex
	shared  *Log
	sharing bool
)

// Main runs the package's tests, then stops the shared log and the shared
// sandbox.
func Main(m *testing.M) {
	sharing = true
	sandboxtest.Main(m, func() error {
		mu.Lock()
		defer mu.Unlock()
		if shared == nil {
			return nil
		}
		return shared.stop()
	})
}

// Start returns a running log, starting it on first use. Under -short the
// test is skipped: the log is several real processes.
func Start(tb testing.TB) *Log {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a Rekor v1 log (rekor-server, Trillian, MariaDB); runs without -short")
	}
	mu.Lock()
	defer mu.Unlock()
	if sharing && shared != nil {
		return shared
	}
	bins := map[string]string{}
	for _, t := range sandbox.RekorV1Tools {
		bins[t.Binary] = sandboxtest.Tool(tb, t)
	}
	began := time.Now()
	l, err := start(bins)
	if err != nil {
		tb.Fatalf("starting a Rekor v1 log: %v", err)
	}
	tb.Logf("Rekor v1 log on %s, started in %s (servers' logs in %s)", l.URL, time.Since(began).Round(10*time.Millisecond), l.Dir)
	if sharing {
		shared = l
	} else {
		tb.Cleanup(func() {
			if err := l.stop(); err != nil {
				tb.Errorf("stopping the Rekor v1 log: %v", err)
			}
		})
	}
	return l
}

// mariaDB finds Debian's MariaDB server and tools.
func mariaDB() (server, installDB, client string, err error) {
	find := func(name string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			if p := filepath.Join(d, name); isExecutable(p) {
				return p
			}
		}
		return ""
	}
	server = find("mariadbd", "/usr/sbin")
	installDB = find("mariadb-install-db", "/usr/bin")
	client = find("mariadb", "/usr/bin")
	if server == "" || installDB == "" || client == "" {
		return "", "", "", errors.New("MariaDB (mariadbd, mariadb-install-db, mariadb) is not installed: run scripts/install-deps.sh, which installs Debian's mariadb-server")
	}
	return server, installDB, client, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func start(bins map[string]string) (_ *Log, err error) {
	server, installDB, client, err := mariaDB()
	if err != nil {
		return nil, err
	}
	schema, err := trillianSchema()
	if err != nil {
		return nil, err
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	// A short folder: the socket's path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "hm-rekorv1-")
	if err != nil {
		return nil, err
	}
	l := &Log{Dir: dir}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// MariaDB on a unix socket only, root without a password.
	db, sock := filepath.Join(dir, "db"), filepath.Join(dir, "mysql.sock")
	if out, err := exec.CommandContext(ctx, installDB, "--no-defaults", "--datadir="+db, "--user="+u.Username,
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mariadb-install-db: %v\n%s", err, tail(out))
	}
	mdb, err := l.start("mariadb", server, "--no-defaults", "--datadir="+db, "--socket="+sock, "--skip-networking",
		"--user="+u.Username, "--pid-file="+filepath.Join(dir, "mariadb.pid"), "--innodb-buffer-pool-size=32M",
		"--innodb-flush-log-at-trx-commit=2")
	if err != nil {
		return nil, err
	}
	sql := func(stdin io.Reader, args ...string) error {
		cmd := exec.CommandContext(ctx, client, append([]string{"--no-defaults", "--socket=" + sock, "-uroot"}, args...)...)
		cmd.Stdin = stdin
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("mariadb %s: %v: %s", strings.Join(args, " "), err, tail(out))
		}
		return nil
	}
	if err := waitFor(ctx, mdb, func() error { return sql(nil, "-e", "SELECT 1") }); err != nil {
		return nil, err
	}
	if err := sql(nil, "-e", "CREATE DATABASE trillian; CREATE DATABASE rekor;"); err != nil {
		return nil, err
	}
	if err := sql(bytes.NewReader(schema), "trillian"); err != nil {
		return nil, err
	}

	// Trillian: the log server (gRPC) and the signer that sequences its
	// tree, then one tree for Rekor.
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	trillianAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	dsn := func(name string) string { return "root@unix(" + sock + ")/" + name }
	logServer, err := l.start("trillian_log_server", bins["trillian_log_server"], "--storage_system=mysql", "--mysql_uri="+dsn("trillian"),
		"--quota_system=noop", "--rpc_endpoint="+trillianAddr, "--http_endpoint=")
	if err != nil {
		return nil, err
	}
	if _, err := l.start("trillian_log_signer", bins["trillian_log_signer"], "--storage_system=mysql", "--mysql_uri="+dsn("trillian"),
		"--quota_system=noop", "--force_master", "--rpc_endpoint=127.0.0.1:0", "--http_endpoint=", "--sequencer_interval=50ms"); err != nil {
		return nil, err
	}
	if err := waitFor(ctx, logServer, func() error {
		c, err := net.DialTimeout("tcp", trillianAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, bins["createtree"], "--admin_server="+trillianAddr).Output()
	if err != nil {
		return nil, fmt.Errorf("createtree: %v", err)
	}
	treeID := strings.TrimSpace(string(out))
	if _, err := strconv.ParseInt(treeID, 10, 64); err != nil {
		return nil, fmt.Errorf("createtree printed %q, not a tree ID", treeID)
	}

	// Rekor, signing with a key it makes in memory, indexing in MariaDB.
	l.URL = "http://127.0.0.1:" + strconv.Itoa(ports[1])
	l.Started = time.Now()
	rekor, err := l.start("rekor-server", bins["rekor-server"], "serve",
		"--trillian_log_server.address=127.0.0.1", "--trillian_log_server.port="+strconv.Itoa(ports[0]),
		"--trillian_log_server.tlog_id="+treeID,
		"--rekor_server.address=127.0.0.1", "--port="+strconv.Itoa(ports[1]), "--rekor_server.signer=memory",
		"--search_index.storage_provider=mysql", "--search_index.mysql.dsn="+dsn("rekor"), "--log_type=prod")
	if err != nil {
		return nil, err
	}
	var pemKey []byte
	if err := waitFor(ctx, rekor, func() error {
		pemKey, err = get(ctx, l.URL+"/api/v1/log/publicKey")
		return err
	}); err != nil {
		return nil, err
	}
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, fmt.Errorf("rekor's public key is not PEM: %q", pemKey)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, fmt.Errorf("rekor's public key: %w", err)
	}
	sum := sha256.Sum256(block.Bytes)
	l.PublicKeyDER, l.LogID = block.Bytes, sum[:]
	return l, nil
}

// trillianSchema reads Trillian's MySQL schema from its module, at the
// version the tools are built at (the module cache holds it after the
// build).
func trillianSchema() ([]byte, error) {
	tmp, err := os.MkdirTemp("", "hm-trillian-mod-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", sandbox.TrillianModule+"@"+sandbox.TrillianVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locating Trillian %s's schema: go mod download: %v", sandbox.TrillianVersion, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return nil, fmt.Errorf("locating Trillian %s's schema: %v", sandbox.TrillianVersion, err)
	}
	return os.ReadFile(filepath.Join(info.Dir, "storage", "mysql", "schema", "storage.sql"))
}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// freePorts returns n loopback ports free at the time of asking.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// proc is one server process.
type proc struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

func (l *Log) start(name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(l.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, and killed with the test binary should that
	// die without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	l.procs = append(l.procs, p)
	return p, nil
}

// waitFor polls ready until it succeeds, the process exits, or ctx ends.
func waitFor(ctx context.Context, p *proc, ready func() error) error {
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.cmd.ProcessState, logTail(p.log))
		case <-ctx.Done():
			return fmt.Errorf("%s did not get ready: %v\n%s", p.name, err, logTail(p.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop stops the servers, last started first, and removes the folder.
func (l *Log) stop() error {
	var errs []error
	for i := len(l.procs) - 1; i >= 0; i-- {
		p := l.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		// Trillian's signer does not end on SIGTERM while it holds its
		// tree; nothing of any server here needs keeping.
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	}
	l.procs = nil
	if err := os.RemoveAll(l.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func logTail(path string) string {
	data, _ := os.ReadFile(path)
	return tail(data)
}

func tail(out []byte) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "    " + strings.Join(lines, "\n    ")
}
