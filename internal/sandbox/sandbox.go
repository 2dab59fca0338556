package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// File names inside a sandbox folder.
const (
	StateFile         = "sandbox.json"
	TrustedRootFile   = "trusted_root.json"
	SigningConfigFile = "signing_config.json"
	// TrustedRootTSAOnlyFile is the trusted root without the Rekor log,
	// for verifiers that require a log entry whenever the trusted root
	// lists a log (gh attestation verify) and so refuse a bundle signed
	// with a timestamp only (attest --private) against TrustedRootFile.
	TrustedRootTSAOnlyFile = "trusted_root.tsa-only.json"
	// SigningConfigTSAOnlyFile is the signing config without Rekor, for
	// signers that cannot write a Rekor v2 entry the sandbox's log takes
	// (cosign v2.6.5 logs DSSE as a dsse entry, which rekor-tiles v2.3.0
	// refuses): they sign with a certificate and a timestamp only.
	SigningConfigTSAOnlyFile = "signing_config.tsa-only.json"
	// FulcioChainFile and TSAChainFile are the certificate authorities of
	// the trusted root as PEM, for clients that take PEM files instead of
	// a trusted root: cosign verifies signatures and attestations outside
	// a bundle (the legacy .att and .sig tags) only with
	// SIGSTORE_ROOT_FILE=fulcio_chain.pem and --timestamp-certificate-chain
	// tsa_chain.pem.
	FulcioChainFile = "fulcio_chain.pem"
	TSAChainFile    = "tsa_chain.pem"
	issuerDir       = "issuer"
	logsDir         = "logs"
	lockName        = ".lock"
	stateVersion    = 1
)

// Sandbox is a running sandbox, as recorded in its state file.
type Sandbox struct {
	Version   int        `json:"version"`
	Dir       string     `json:"dir"`
	StartedAt time.Time  `json:"startedAt"`
	IssuerURL string     `json:"issuerURL"`
	FulcioURL string     `json:"fulcioURL"`
	RekorURL  string     `json:"rekorURL"`
	TSAURL    string     `json:"tsaURL"`
	Processes []*Process `json:"processes"`
	// Ready is false while Up is still starting servers; a state file with
	// Ready false that has no live Up behind it is stale.
	Ready bool `json:"ready"`
	// SPIFFEIssuers are the SPIRE issuers Fulcio also accepts.
	SPIFFEIssuers []SPIFFEIssuer `json:"spiffeIssuers,omitempty"`
}

// Options tune Up. The zero value works for the hallmark CLI.
type Options struct {
	// CacheDir holds the installed servers; toolcache.DefaultDir when empty.
	CacheDir string
	// Progress receives human-readable progress lines; discarded when nil.
	Progress io.Writer
	// IssuerCommand runs the OIDC issuer: a program and its leading
	// arguments, to which Up appends "--dir D --url URL --listen-fd 3".
	// Default: this executable with "sandbox serve-issuer".
	IssuerCommand []string
	// StartTimeout bounds how long each server may take to answer; 60 s
	// when zero.
	StartTimeout time.Duration
	// SPIFFEIssuers are SPIRE deployments whose JWT-SVIDs Fulcio also
	// exchanges for certificates; none by default. See SPIFFEIssuer.
	SPIFFEIssuers []SPIFFEIssuer
}

// Errors Up and Down return, for callers that act on them.
var (
	ErrRunning    = errors.New("sandbox already running")
	ErrNotRunning = errors.New("no sandbox running")
)

// TrustedRootPath is the path of the trusted root Up wrote.
func (s *Sandbox) TrustedRootPath() string { return filepath.Join(s.Dir, TrustedRootFile) }

// SigningConfigPath is the path of the signing config Up wrote.
func (s *Sandbox) SigningConfigPath() string { return filepath.Join(s.Dir, SigningConfigFile) }

// FulcioChainPath is the path of Fulcio's certificate chain, PEM.
func (s *Sandbox) FulcioChainPath() string { return filepath.Join(s.Dir, FulcioChainFile) }

// TSAChainPath is the path of the TSA's certificate chain, PEM.
func (s *Sandbox) TSAChainPath() string { return filepath.Join(s.Dir, TSAChainFile) }

// TrustedRootTSAOnlyPath is the path of the trusted root without the log.
func (s *Sandbox) TrustedRootTSAOnlyPath() string {
	return filepath.Join(s.Dir, TrustedRootTSAOnlyFile)
}

// SigningConfigTSAOnlyPath is the path of the signing config without Rekor.
func (s *Sandbox) SigningConfigTSAOnlyPath() string {
	return filepath.Join(s.Dir, SigningConfigTSAOnlyFile)
}

// Issuer returns the sandbox's OIDC issuer, for minting tokens directly.
func (s *Sandbox) Issuer() *oidc.Issuer {
	return &oidc.Issuer{URL: s.IssuerURL, Dir: filepath.Join(s.Dir, issuerDir)}
}

// Token mints a GitHub Actions-shaped ID token for audience with the given
// claim overrides.
func (s *Sandbox) Token(audience string, overrides map[string]string) (string, error) {
	ks, err := oidc.LoadKeys(filepath.Join(s.Dir, issuerDir))
	if err != nil {
		return "", err
	}
	claims, err := oidc.Claims(s.IssuerURL, audience, time.Now(), overrides)
	if err != nil {
		return "", err
	}
	return ks.Mint(claims)
}

// ActionsEnv returns the variables a GitHub Actions job with
// `id-token: write` sees, for a new request token whose ID tokens carry
// overrides, plus the paths of the trust files.
func (s *Sandbox) ActionsEnv(overrides map[string]string) (map[string]string, error) {
	tok, err := oidc.NewRequestToken(filepath.Join(s.Dir, issuerDir), overrides)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.Issuer().RequestTokenURL(),
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": tok,
		"HALLMARK_TRUSTED_ROOT":          s.TrustedRootPath(),
		"HALLMARK_SIGNING_CONFIG":        s.SigningConfigPath(),
	}, nil
}

// Load reads the state of the sandbox in dir.
func Load(dir string) (*Sandbox, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s (start one with: hallmark sandbox up --dir %s)", ErrNotRunning, dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading sandbox state: %w", err)
	}
	var s Sandbox
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sandbox state %s is corrupt (%v): run hallmark sandbox down --dir %s", filepath.Join(dir, StateFile), err, dir)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("sandbox state %s has version %d, this hallmark reads %d: run hallmark sandbox down --dir %s", filepath.Join(dir, StateFile), s.Version, stateVersion, dir)
	}
	s.Dir = dir
	return &s, nil
}

func (s *Sandbox) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.Dir, StateFile), data, 0o600)
}

// Health is one server's state, as Status reports it.
type Health struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	URL     string `json:"url,omitempty"`
	Healthy bool   `json:"healthy"`
	Error   string `json:"error,omitempty"`
	Log     string `json:"log"`
}

// healthURL returns the URL that answers 200 when the named server is up.
func (s *Sandbox) healthURL(name string) string {
	switch name {
	case "issuer":
		return s.IssuerURL + "/healthz"
	case "fulcio":
		return s.FulcioURL + "/api/v2/trustBundle"
	case "rekor":
		return s.RekorURL + "/healthz"
	case "tsa":
		return s.TSAURL + "/ping"
	}
	return ""
}

// Status checks each recorded process and asks each server whether it answers.
func (s *Sandbox) Status(ctx context.Context) []Health {
	out := make([]Health, len(s.Processes))
	var wg sync.WaitGroup
	for i, p := range s.Processes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := Health{Name: p.Name, PID: p.PID, Running: p.Alive(), URL: s.healthURL(p.Name), Log: p.Log}
			if !h.Running {
				h.Error = "process not running"
			} else if h.URL != "" {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				_, err := httpGet(cctx, h.URL)
				cancel()
				h.Healthy = err == nil
				if err != nil {
					h.Error = err.Error()
				}
			}
			out[i] = h
		}()
	}
	wg.Wait()
	return out
}

// stopAll stops every recorded process, in reverse start order.
func (s *Sandbox) stopAll() error {
	var errs []error
	for i := len(s.Processes) - 1; i >= 0; i-- {
		if err := s.Processes[i].Stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Down stops the sandbox in dir and removes its state file. The trust files
// and logs stay for inspection.
func Down(ctx context.Context, dir string) (*Sandbox, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	unlock, err := toolcache.Lock(ctx, filepath.Join(dir, lockName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s: the folder does not exist", ErrNotRunning, dir)
		}
		return nil, err
	}
	defer unlock()
	s, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := s.stopAll(); err != nil {
		return s, fmt.Errorf("stopping sandbox: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	return s, nil
}

// Up starts a sandbox in dir. A sandbox already running there is an
// ErrRunning error; the leftovers of one that crashed (stale state, dead or
// half-started processes) are stopped and replaced. If any server fails to
// start, everything started so far is stopped and the error carries the
// server's log tail.
func Up(ctx context.Context, dir string, opts Options) (_ *Sandbox, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		if cacheDir, err = toolcache.DefaultDir(); err != nil {
			return nil, err
		}
	}
	if err := validateSPIFFEIssuers(opts.SPIFFEIssuers); err != nil {
		return nil, err
	}
	issuerCmd := opts.IssuerCommand
	if len(issuerCmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the hallmark executable for the issuer: %w", err)
		}
		issuerCmd = []string{exe, "sandbox", "serve-issuer"}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, logsDir), 0o700); err != nil {
		return nil, fmt.Errorf("creating sandbox folder: %w", err)
	}
	unlock, err := toolcache.Lock(ctx, filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	defer unlock()

	if old, lerr := Load(dir); lerr == nil {
		if old.Ready && old.allAlive() {
			return nil, fmt.Errorf("%w in %s (started %s): run hallmark sandbox down --dir %s first", ErrRunning, dir, old.StartedAt.Format(time.RFC3339), dir)
		}
		fmt.Fprintf(progress, "cleaning up a stale sandbox in %s: %s\n", dir, old.describeDead())
		if err := old.stopAll(); err != nil {
			return nil, fmt.Errorf("cleaning up stale sandbox: %w", err)
		}
		os.Remove(filepath.Join(dir, StateFile))
	} else if !errors.Is(lerr, ErrNotRunning) {
		return nil, lerr
	}

	bins := map[string]string{}
	for _, t := range toolcache.SandboxServers {
		bin, err := t.Ensure(ctx, cacheDir, progress)
		if err != nil {
			return nil, err
		}
		bins[t.Name] = bin
	}

	for attempt := 1; ; attempt++ {
		s, err := startServers(ctx, dir, opts.SPIFFEIssuers, bins, issuerCmd, progress, timeout)
		var taken *portTakenError
		if err == nil || !errors.As(err, &taken) || attempt == maxStartAttempts {
			return s, err
		}
		fmt.Fprintf(progress, "%s lost a port to another process during start-up; starting again on fresh ports (attempt %d of %d)\n", taken.name, attempt+1, maxStartAttempts)
	}
}

// maxStartAttempts bounds how often Up starts the servers again after one of
// them lost its port to another process (see freePorts).
const maxStartAttempts = 3

// startServers starts the issuer and the three Sigstore servers on fresh
// ports and writes the trust files. On error, whatever it started is stopped.
func startServers(ctx context.Context, dir string, spiffe []SPIFFEIssuer, bins map[string]string, issuerCmd []string, progress io.Writer, timeout time.Duration) (_ *Sandbox, err error) {
	// Fresh trust material every time: no state from an earlier run.
	for _, sub := range []string{"fulcio", "rekor"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{TrustedRootFile, SigningConfigFile, TrustedRootTSAOnlyFile, SigningConfigTSAOnlyFile, FulcioChainFile, TSAChainFile} {
		os.Remove(filepath.Join(dir, f))
	}

	s := &Sandbox{Version: stateVersion, Dir: dir, StartedAt: time.Now().UTC(), SPIFFEIssuers: spiffe}
	defer func() {
		if err != nil {
			if serr := s.stopAll(); serr != nil {
				err = errors.Join(err, serr)
			}
			os.Remove(filepath.Join(dir, StateFile))
		}
	}()
	launch := func(sp spec) (*Process, error) {
		p, err := start(sp, filepath.Join(dir, logsDir, sp.name+".log"))
		if err != nil {
			return nil, err
		}
		s.Processes = append(s.Processes, p)
		// Record each process as soon as it exists, so a crash of this
		// process mid-way leaves a state that the next up or down cleans.
		return p, s.save()
	}

	// The issuer gets its listening socket from us (fd 3), so its port
	// cannot be taken between choosing and binding it. It is bound before
	// the other ports are chosen, so none of them can be the issuer's.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("opening the issuer's port: %w", err)
	}
	lnFile, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return nil, err
	}
	issuerPort := ln.Addr().(*net.TCPAddr).Port
	ports, err := freePorts(7)
	if err != nil {
		lnFile.Close()
		return nil, err
	}
	fulcioPort, fulcioGRPC, fulcioMetrics, rekorHTTP, rekorGRPC, rekorMetrics, tsaPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6]
	s.IssuerURL = "http://127.0.0.1:" + strconv.Itoa(issuerPort)
	if _, err := oidc.LoadKeys(filepath.Join(dir, issuerDir)); err != nil {
		lnFile.Close()
		return nil, err
	}
	issuer, err := launch(spec{
		name:  "issuer",
		bin:   issuerCmd[0],
		args:  append(append([]string(nil), issuerCmd[1:]...), "--dir", dir, "--url", s.IssuerURL, "--listen-fd", "3"),
		files: []*os.File{lnFile},
		ports: []int{issuerPort},
	})
	lnFile.Close()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "issuer  %s\n", s.IssuerURL)

	keyPath, rekorPub, rekorLogID, err := rekorKey(dir)
	if err != nil {
		return nil, fmt.Errorf("creating rekor key: %w", err)
	}
	rekorStart := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	s.RekorURL = "http://127.0.0.1:" + strconv.Itoa(rekorHTTP)
	s.TSAURL = "http://127.0.0.1:" + strconv.Itoa(tsaPort)
	s.FulcioURL = "http://127.0.0.1:" + strconv.Itoa(fulcioPort)
	fspec, err := fulcioSpec(bins["fulcio"], dir, s.IssuerURL, s.SPIFFEIssuers, fulcioPort, fulcioGRPC, fulcioMetrics)
	if err != nil {
		return nil, err
	}

	startCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := waitHealthy(startCtx, issuer, healthCheck(s.healthURL("issuer"))); err != nil {
		return nil, err
	}
	var procs []*Process
	for _, sp := range []spec{rekorSpec(bins["rekor-tiles"], dir, keyPath, rekorHTTP, rekorGRPC, rekorMetrics), tsaSpec(bins["timestamp-authority"], tsaPort), fspec} {
		p, err := launch(sp)
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = waitHealthy(startCtx, p, healthCheck(s.healthURL(p.Name)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "fulcio  %s\nrekor   %s (API v2)\ntsa     %s\n", s.FulcioURL, s.RekorURL, s.TSAURL)

	in := trustInputs{
		fulcioURL: s.FulcioURL, rekorURL: s.RekorURL, tsaURL: s.TSAURL, issuerURL: s.IssuerURL,
		rekorPubDER: rekorPub, rekorLogID: rekorLogID, rekorStart: rekorStart,
	}
	if in.fulcioChain, err = fulcioChain(startCtx, s.FulcioURL); err != nil {
		return nil, err
	}
	if in.tsaChain, err = tsaChain(startCtx, s.TSAURL); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		s.FulcioChainPath(): pemChain(in.fulcioChain),
		s.TSAChainPath():    pemChain(in.tsaChain),
	}
	for _, withLog := range []bool{true, false} {
		tr, err := trustedRootJSON(in, withLog)
		if err != nil {
			return nil, err
		}
		sc, err := signingConfigJSON(in, rekorStart, withLog)
		if err != nil {
			return nil, err
		}
		if withLog {
			files[s.TrustedRootPath()], files[s.SigningConfigPath()] = tr, sc
		} else {
			files[s.TrustedRootTSAOnlyPath()], files[s.SigningConfigTSAOnlyPath()] = tr, sc
		}
	}
	for path, data := range files {
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return nil, err
		}
	}
	s.Ready = true
	if err := s.save(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) allAlive() bool {
	for _, p := range s.Processes {
		if !p.Alive() {
			return false
		}
	}
	return len(s.Processes) > 0
}

func (s *Sandbox) describeDead() string {
	var parts []string
	for _, p := range s.Processes {
		state := "running"
		if !p.Alive() {
			state = "dead"
		}
		parts = append(parts, fmt.Sprintf("%s (pid %d) %s", p.Name, p.PID, state))
	}
	if !s.Ready {
		parts = append(parts, "start-up never finished")
	}
	if len(parts) == 0 {
		return "no processes recorded"
	}
	return strings.Join(parts, ", ")
}
