// Package ocitest hands tests real OCI registries on loopback: Debian's
// docker-registry (distribution 2.8, no referrers API, optionally with
// htpasswd auth), and olareg, which serves the OCI 1.1 referrers API as the
// distribution spec says, behind httptest.
//
// go-containerregistry's in-memory registry is not used: its referrers API
// lists a referrer's config media type as its artifactType and ignores
// ?artifactType=, so a test against it cannot catch an artifactType bug.
// TestReferrersConformance holds olareg to the spec on both counts.
package ocitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/olareg/olareg"
	"github.com/olareg/olareg/config"
	"golang.org/x/crypto/bcrypt"
)

// DistributionBinary is where Debian's docker-registry package installs
// the registry.
const DistributionBinary = "/usr/bin/docker-registry"

// Registry is a running registry.
type Registry struct {
	// Host is HOST:PORT on loopback.
	Host string
	// Dir is the distribution registry's storage folder ("" for the
	// in-memory one).
	Dir string
	// User and Password are the htpasswd credentials, if any.
	User, Password string
}

// Repo names a repository of the registry.
func (r *Registry) Repo(repo string) string { return r.Host + "/" + repo }

// DistributionOption configures Distribution.
type DistributionOption func(*distConfig)

type distConfig struct{ user, password string }

// WithHtpasswd makes the registry require basic auth as user:password.
func WithHtpasswd(user, password string) DistributionOption {
	return func(c *distConfig) { c.user, c.password = user, password }
}

// Distribution starts Debian's docker-registry (distribution 2.8) on a free
// loopback port with filesystem storage under a temporary folder, and stops
// it in t.Cleanup. It has no referrers API: clients must use the referrers
// tag schema. Skipped under -short; without the binary the test fails and
// says to run scripts/install-deps.sh.
func Distribution(tb testing.TB, opts ...DistributionOption) *Registry {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a registry process; runs without -short")
	}
	if _, err := os.Stat(DistributionBinary); err != nil {
		tb.Fatalf("%s is missing: run scripts/install-deps.sh (Debian package docker-registry)", DistributionBinary)
	}
	var c distConfig
	for _, o := range opts {
		o(&c)
	}
	dir := tb.TempDir()
	storage := filepath.Join(dir, "storage")
	auth := ""
	if c.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(c.password), bcrypt.MinCost)
		if err != nil {
			tb.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(c.user+":"+string(hash)+"\n"), 0o600); err != nil {
			tb.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: hallmark-test\n    path: %s\n", htpasswd)
	}
	// The port is chosen, released and then bound by docker-registry: on
	// a busy machine another process can take it in between, so a start
	// that loses its port is tried again on a fresh one.
	for attempt := 1; ; attempt++ {
		host := freeAddr(tb)
		logs, err := startDistribution(tb, dir, fmt.Sprintf(distConfigTemplate, storage, host)+auth, host)
		if err == nil {
			return &Registry{Host: host, Dir: storage, User: c.user, Password: c.password}
		}
		if attempt < 3 && strings.Contains(logs, "address already in use") {
			tb.Logf("docker-registry lost port %s to another process; trying a fresh one", host)
			continue
		}
		tb.Fatalf("%v:\n%s", err, logs)
	}
}

const distConfigTemplate = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: hallmark-test-secret
`

// startDistribution runs docker-registry with cfg until it answers on host,
// stopping it when the test ends. On failure it returns its output.
func startDistribution(tb testing.TB, dir, cfg, host string) (string, error) {
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	var logs bytes.Buffer
	cmd := exec.Command(DistributionBinary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting %s: %w", DistributionBinary, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		select {
		case <-done:
			return logs.String(), errors.New("docker-registry exited")
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return logs.String(), fmt.Errorf("docker-registry did not answer on %s", host)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", nil
}

// ReferrersOption configures Referrers.
type ReferrersOption func(*refConfig)

type refConfig struct {
	wrap func(http.Handler) http.Handler
}

// WithMiddleware puts h in front of the registry, to inject faults.
func WithMiddleware(wrap func(http.Handler) http.Handler) ReferrersOption {
	return func(c *refConfig) { c.wrap = wrap }
}

// Referrers starts olareg (github.com/olareg/olareg, in memory) behind
// httptest, stopped in t.Cleanup: a registry that serves the OCI 1.1
// referrers API as the distribution spec says — each referrer listed with
// its manifest's artifactType and annotations, and filtered by
// ?artifactType= (the answer then carries OCI-Filters-Applied).
func Referrers(tb testing.TB, opts ...ReferrersOption) *Registry {
	tb.Helper()
	var c refConfig
	for _, o := range opts {
		o(&c)
	}
	reg := olareg.New(config.Config{Storage: config.ConfigStorage{StoreType: config.StoreMem}})
	var h http.Handler = reg
	if c.wrap != nil {
		h = c.wrap(h)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(func() {
		srv.Close()
		reg.Close()
	})
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://")}
}

// DockerConfig writes a docker config.json with the registry's credentials
// and points DOCKER_CONFIG at it for the test: go-containerregistry's
// default keychain reads it as docker login's would be read.
func DockerConfig(tb testing.TB, r *Registry) {
	tb.Helper()
	dir := tb.TempDir()
	auths := map[string]any{}
	if r.User != "" {
		auths[r.Host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))}
	}
	data, _ := json.Marshal(map[string]any{"auths": auths})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("DOCKER_CONFIG", dir)
}

func (r *Registry) remoteOptions() []remote.Option {
	if r.User == "" {
		return nil
	}
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password})}
}

// Image pushes a random single-platform image to repo:tag and returns its
// digest reference.
func (r *Registry) Image(tb testing.TB, repo, tag string) name.Digest {
	tb.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ref, err := name.NewTag(r.Repo(repo) + ":" + tag)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img, r.remoteOptions()...); err != nil {
		tb.Fatalf("pushing test image: %v", err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// Index pushes a two-platform image index (linux/amd64, linux/arm64) to
// repo:tag and returns the index digest and the platform images' digests.
func (r *Registry) Index(tb testing.TB, repo, tag string) (name.Digest, []name.Digest) {
	tb.Helper()
	ref, err := name.NewTag(r.Repo(repo) + ":" + tag)
	if err != nil {
		tb.Fatal(err)
	}
	var idx v1.ImageIndex = empty.Index
	var platforms []name.Digest
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(128, 1)
		if err != nil {
			tb.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
		d, _ := img.Digest()
		platforms = append(platforms, ref.Context().Digest(d.String()))
	}
	if err := remote.WriteIndex(ref, idx, r.remoteOptions()...); err != nil {
		tb.Fatalf("pushing test index: %v", err)
	}
	d, err := idx.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return ref.Context().Digest(d.String()), platforms
}

// RemoveBlob deletes a blob's data from the distribution registry's storage
// behind its back, as a lost or half-replicated blob would look.
func (r *Registry) RemoveBlob(tb testing.TB, digest v1.Hash) {
	tb.Helper()
	if r.Dir == "" {
		tb.Fatal("RemoveBlob needs a distribution registry")
	}
	p := filepath.Join(r.Dir, "docker/registry/v2/blobs", digest.Algorithm, digest.Hex[:2], digest.Hex)
	if err := os.RemoveAll(p); err != nil {
		tb.Fatal(err)
	}
}

// DownAddr returns a loopback HOST:PORT where nothing listens.
func DownAddr(tb testing.TB) string {
	tb.Helper()
	return freeAddr(tb)
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// CountingTransport counts the HTTP round trips through it.
type CountingTransport struct {
	// Base does the round trips; http.DefaultTransport if nil.
	Base http.RoundTripper
	n    atomic.Int64
}

// RoundTrip counts and forwards.
func (c *CountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}

// Reset returns the round trips so far and starts counting from zero.
func (c *CountingTransport) Reset() int64 { return c.n.Swap(0) }
