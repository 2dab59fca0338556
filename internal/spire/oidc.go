package spire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

// Discovery is SPIRE's OIDC discovery provider serving one server's JWT
// signing keys: IssuerURL/.well-known/openid-configuration names
// IssuerURL/keys, a JWKS of the keys that sign the server's JWT-SVIDs. A
// relying party that speaks OIDC (Fulcio's spiffe issuer) verifies
// JWT-SVIDs with it as it would any ID token.
type Discovery struct {
	// IssuerURL is the iss claim of the server's JWT-SVIDs.
	IssuerURL string
	logPath   string
}

// DiscoveryBinary returns the path of the oidc-discovery-provider binary,
// with Binaries' rules for -short and a missing build.
func DiscoveryBinary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs SPIRE; runs without -short")
	}
	cache, err := toolcache.DefaultDir()
	if err != nil {
		tb.Fatal(err)
	}
	b := toolcache.SPIREOIDCDiscovery
	if !b.Installed(cache) {
		tb.Fatalf("SPIRE's oidc-discovery-provider %s is not in %s: run scripts/install-deps.sh", b.Version, cache)
	}
	return b.Path(cache, "oidc-discovery-provider")
}

// StartServerWithDiscovery starts a SPIRE server whose JWT-SVIDs are
// verifiable through OIDC discovery: its jwt_issuer is a loopback http
// URL where SPIRE's oidc-discovery-provider, reading the server's keys
// through its local API, answers. Both stop in tb.Cleanup. It returns once
// the provider serves at least one key. Server.JWTIssuer is the issuer
// URL; o.JWTIssuer must be empty.
func StartServerWithDiscovery(tb testing.TB, o ServerOptions) (*Server, *Discovery) {
	tb.Helper()
	if o.JWTIssuer != "" {
		tb.Fatalf("StartServerWithDiscovery chooses the JWT issuer; ServerOptions.JWTIssuer is %q", o.JWTIssuer)
	}
	bin := DiscoveryBinary(tb)
	// The provider's port is part of the server's configuration (its JWT
	// issuer), so a provider that loses its port to another process takes
	// a fresh server with it into the next attempt.
	sd := retryPortTaken(tb, "oidc-discovery-provider", func() (serverAndDiscovery, error) {
		return startWithDiscovery(tb, o, bin)
	})
	return sd.s, sd.d
}

type serverAndDiscovery struct {
	s *Server
	d *Discovery
}

func startWithDiscovery(tb testing.TB, o ServerOptions, bin string) (serverAndDiscovery, error) {
	tb.Helper()
	// Held until the provider starts, so the server cannot be given it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return serverAndDiscovery{}, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	d := &Discovery{IssuerURL: "http://127.0.0.1:" + strconv.Itoa(port)}
	o.JWTIssuer = d.IssuerURL
	s := StartServer(tb, o)
	l.Close()

	// The provider checks the Host of each request against domains, and
	// renders http URLs only with allow_insecure_scheme: the issuer is a
	// loopback address without TLS.
	conf := fmt.Sprintf(`log_level = "WARN"
domains = ["127.0.0.1"]
insecure_addr = "127.0.0.1:%d"
allow_insecure_scheme = true
jwt_issuer = %q
jwks_uri = %q
server_api {
  address = %q
  poll_interval = "1s"
}
`, port, d.IssuerURL, d.IssuerURL+"/keys", "unix://"+s.socket)
	cfg := filepath.Join(s.dir, "oidc-discovery-provider.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		s.stop()
		return serverAndDiscovery{}, err
	}
	d.logPath = filepath.Join(s.dir, "oidc-discovery-provider.log")
	cmd := start(tb, d.logPath, bin, "-config", cfg)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	tb.Cleanup(func() { stop(cmd, done) })
	err = waitReady(60*time.Second, d.logPath, done, func() error {
		keys, err := d.keys()
		if err == nil && keys == 0 {
			err = errors.New("the JWKS has no keys yet")
		}
		return err
	})
	if err != nil {
		stop(cmd, done)
		s.stop()
		return serverAndDiscovery{}, err
	}
	return serverAndDiscovery{s, d}, nil
}

// keys fetches the discovery document and the JWKS it names, as a relying
// party does, and counts the keys.
func (d *Discovery) keys() (int, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(d.IssuerURL+"/.well-known/openid-configuration", &doc); err != nil {
		return 0, err
	}
	if doc.Issuer != d.IssuerURL {
		return 0, fmt.Errorf("discovery names issuer %q, want %q", doc.Issuer, d.IssuerURL)
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(doc.JWKSURI, &jwks); err != nil {
		return 0, err
	}
	return len(jwks.Keys), nil
}

func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, body)
	}
	return json.Unmarshal(body, v)
}
