package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	"github.com/sigstore/rekor-tiles/v2/pkg/note"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

// fulcioConfig names the sandbox issuer as a GitHub Actions CI provider, with
// the extension and SAN templates of Fulcio's own config/identity/config.yaml
// for github-workflow, so sandbox certificates carry the real GitHub
// extensions and SAN https://github.com/{job_workflow_ref}. Each SPIFFE
// issuer is a `spiffe` issuer (spiffe.go).
var fulcioConfig = template.Must(template.New("fulcio").Parse(`oidc-issuers:
  {{.Issuer}}:
    issuer-url: {{.Issuer}}
    client-id: sigstore
    type: ci-provider
    ci-provider: github-workflow
    contact: sandbox@hallmark.invalid
    description: "Hallmark sandbox GitHub-shaped issuer"
{{- range .SPIFFE}}
  {{printf "%q" .IssuerURL}}:
    issuer-url: {{printf "%q" .IssuerURL}}
    client-id: {{printf "%q" $.SPIFFEAudience}}
    type: spiffe
    spiffe-trust-domain: {{printf "%q" .TrustDomain}}
    contact: sandbox@hallmark.invalid
    description: "SPIRE JWT-SVIDs"
{{- end}}
ci-issuer-metadata:
  github-workflow:
    default-template-values:
      url: "https://github.com"
      environment: ""
    extension-templates:
      github-workflow-trigger: "event_name"
      github-workflow-sha: "sha"
      github-workflow-name: "workflow"
      github-workflow-repository: "repository"
      github-workflow-ref: "ref"
      build-signer-uri: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .job_workflow_ref {{"}}"}}"
      build-signer-digest: "job_workflow_sha"
      runner-environment: "runner_environment"
      source-repository-uri: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .repository {{"}}"}}"
      source-repository-digest: "sha"
      source-repository-ref: "ref"
      source-repository-identifier: "repository_id"
      source-repository-owner-uri: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .repository_owner {{"}}"}}"
      source-repository-owner-identifier: "repository_owner_id"
      build-config-uri: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .workflow_ref {{"}}"}}"
      build-config-digest: "workflow_sha"
      build-trigger: "event_name"
      run-invocation-uri: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .repository {{"}}"}}/actions/runs/{{"{{"}} .run_id {{"}}"}}/attempts/{{"{{"}} .run_attempt {{"}}"}}"
      source-repository-visibility-at-signing: "repository_visibility"
      deployment-environment: "environment"
    subject-alternative-name-template: "{{"{{"}} .url {{"}}"}}/{{"{{"}} .job_workflow_ref {{"}}"}}"
`))

func fulcioSpec(bin, dir, issuerURL string, spiffe []SPIFFEIssuer, port, grpcPort, metricsPort int) (spec, error) {
	cfgDir := filepath.Join(dir, "fulcio")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return spec{}, err
	}
	var b strings.Builder
	if err := fulcioConfig.Execute(&b, struct {
		Issuer, SPIFFEAudience string
		SPIFFE                 []SPIFFEIssuer
	}{issuerURL, SPIFFEAudience, spiffe}); err != nil {
		return spec{}, err
	}
	cfg := filepath.Join(cfgDir, "config.yaml")
	if err := atomicfile.Write(cfg, []byte(b.String()), 0o600); err != nil {
		return spec{}, err
	}
	return spec{
		name: "fulcio",
		bin:  bin,
		args: []string{"serve",
			"--ca=ephemeralca",
			"--config-path=" + cfg,
			"--host=127.0.0.1", "--port=" + strconv.Itoa(port),
			"--grpc-host=127.0.0.1", "--grpc-port=" + strconv.Itoa(grpcPort),
			"--metrics-port=" + strconv.Itoa(metricsPort),
			// An abstract socket named after the port: sandboxes side by
			// side must not share Fulcio's default legacy socket.
			"--legacy-unix-domain-socket=@hallmark-fulcio-" + strconv.Itoa(port),
			// No CT log runs in the sandbox: certificates carry no SCT.
			"--ct-log-url=",
			"--log_type=prod",
		},
		ports: []int{port, grpcPort, metricsPort},
	}, nil
}

// rekorOrigin is the Rekor v2 checkpoint origin. sigstore-go checks
// checkpoints against the host name of the log's URL in the trusted root, so
// the two must agree.
const rekorOrigin = "127.0.0.1"

// rekorKey creates the log's ECDSA P-256 signing key under dir and returns
// its public key and log ID.
func rekorKey(dir string) (keyPath string, pubDER, logID []byte, err error) {
	rdir := filepath.Join(dir, "rekor")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return "", nil, nil, err
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", nil, nil, err
	}
	keyPath = filepath.Join(rdir, "signing-key.pem")
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return "", nil, nil, err
	}
	pubDER, err = x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", nil, nil, err
	}
	_, logID, err = note.KeyHash(rekorOrigin, &priv.PublicKey)
	if err != nil {
		return "", nil, nil, fmt.Errorf("rekor log id: %w", err)
	}
	return keyPath, pubDER, logID, nil
}

func rekorSpec(bin, dir, keyPath string, httpPort, grpcPort, metricsPort int) spec {
	return spec{
		name: "rekor",
		bin:  bin,
		args: []string{"serve",
			"--hostname=" + rekorOrigin,
			"--storage-dir=" + filepath.Join(dir, "rekor", "tiles"),
			"--signer-filepath=" + keyPath,
			"--http-address=127.0.0.1", "--http-port=" + strconv.Itoa(httpPort),
			"--grpc-address=127.0.0.1", "--grpc-port=" + strconv.Itoa(grpcPort),
			"--http-metrics-port=" + strconv.Itoa(metricsPort),
			// Publish checkpoints often: a signer waits for the checkpoint
			// that covers its entry. (rekor-tiles v2.3.0 also polls for
			// that checkpoint every second, so a log write takes up to 1 s
			// however short this is.)
			"--checkpoint-interval=500ms",
			"--batch-max-age=50ms",
		},
		ports: []int{httpPort, grpcPort, metricsPort},
	}
}

func tsaSpec(bin string, port int) spec {
	return spec{
		name:  "tsa",
		bin:   bin,
		args:  []string{"--host=127.0.0.1", "--port=" + strconv.Itoa(port)},
		ports: []int{port},
	}
}

// probeClient holds no idle connections: a probe must not keep a socket to a
// server that is about to stop.
var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// httpGet fetches url and returns its body when the status is 200.
func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := probeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return body, nil
}

func healthCheck(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := httpGet(ctx, url)
		return err
	}
}

// fulcioChain fetches the CA chain (intermediates first, root last).
func fulcioChain(ctx context.Context, fulcioURL string) ([]*x509.Certificate, error) {
	body, err := httpGet(ctx, fulcioURL+"/api/v2/trustBundle")
	if err != nil {
		return nil, fmt.Errorf("fetching fulcio trust bundle: %w", err)
	}
	var tb struct {
		Chains []struct {
			Certificates []string `json:"certificates"`
		} `json:"chains"`
	}
	if err := json.Unmarshal(body, &tb); err != nil {
		return nil, fmt.Errorf("parsing fulcio trust bundle: %w", err)
	}
	if len(tb.Chains) != 1 {
		return nil, fmt.Errorf("fulcio trust bundle: %d chains, want 1", len(tb.Chains))
	}
	return parsePEMChain([]byte(strings.Join(tb.Chains[0].Certificates, "\n")))
}

// tsaChain fetches the TSA chain (leaf first, root last).
func tsaChain(ctx context.Context, tsaURL string) ([]*x509.Certificate, error) {
	body, err := httpGet(ctx, tsaURL+"/api/v1/timestamp/certchain")
	if err != nil {
		return nil, fmt.Errorf("fetching tsa certificate chain: %w", err)
	}
	return parsePEMChain(body)
}

func parsePEMChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificates")
	}
	return certs, nil
}
