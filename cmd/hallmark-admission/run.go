package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/verifier"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// run parses flags, builds the controller and runs it until ctx ends. It
// returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hallmark-admission", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var spiffeBundles stringList
	var (
		namespace       = fs.String("namespace", "", "the controller's own namespace: never judged, and where it keeps its certificate (required; the manifests pass the pod's)")
		trustedRoot     = fs.String("trusted-root", "", "Sigstore trusted_root.json that provenance and verification summaries verify against (required)")
		spiffeDomain    = fs.String("spiffe-trust-domain", "", "trust domain of the CAs in a SPIFFE bundle JSON --spiffe-trust-bundle")
		exclude         = fs.String("exclude-namespaces", "kube-system", "comma-separated namespaces never judged, beside --namespace (keep them out of the webhook configurations' namespaceSelector too)")
		noMatch         = fs.String("no-match", string(admission.NoMatchDeny), "what happens to an image no ImagePolicy governs: deny, warn or allow")
		cacheSize       = fs.Int("cache-size", admission.DefaultCacheSize, "most verdicts kept (least recently used go first); -1 keeps none")
		cacheTTL        = fs.Duration("cache-ttl", admission.DefaultCacheTTL, "how long a pass is kept (less when its evidence expires sooner)")
		denyTTL         = fs.Duration("deny-cache-ttl", admission.DefaultDenyCacheTTL, "how long a failure is kept (an attestation may be pushed just after its image); registry errors are never kept")
		verifyDeadline  = fs.Duration("verify-deadline", admission.DefaultVerifyDeadline, "deadline of one request's verification, registry calls included; keep it inside the webhooks' timeoutSeconds")
		registryTimeout = fs.Duration("registry-timeout", admission.DefaultRegistryTimeout, "timeout of each registry call")
		registryRetries = fs.Int("registry-retries", admission.DefaultRegistryRetries, "retries of a transient registry failure within the deadline (-1: none)")
		maxAttestation  = fs.Int("max-attestation-bundle-size", admission.DefaultMaxAttestationBundleSize, "largest bundle, in bytes, of an attestation a policy requires (an SBOM) read from a registry; a verification keeps at most four times that")
		maxVerify       = fs.Int("max-verifications", admission.DefaultMaxVerifications, "images verified at once (more wait within --verify-deadline); with --max-attestation-bundle-size it bounds verification's memory, so raise the pod's memory limit with either")
		insecure        = fs.Bool("allow-insecure-registry", false, "allow plain HTTP to registries that are not on loopback or private addresses")
		addr            = fs.String("webhook-bind-address", ":8443", "HTTPS address of the webhooks")
		opsAddr         = fs.String("ops-bind-address", ":8081", "HTTP address of /metrics, /healthz and /readyz")
		certDir         = fs.String("cert-dir", "", "serve tls.crt and tls.key from this folder (cert-manager's Secret, mounted) instead of keeping a CA of its own")
		tlsHosts        = fs.String("tls-hosts", "", "comma-separated DNS names and IPs of the serving certificate it makes (default the Service's names in --namespace)")
		secretName      = fs.String("tls-secret", admission.DefaultSecretName, "Secret in --namespace holding the controller's CA and certificate")
		webhookConfig   = fs.String("webhook-config", admission.DefaultWebhookConfigName, "name of the Mutating- and ValidatingWebhookConfiguration whose caBundle the controller writes")
		caLifetime      = fs.Duration("ca-lifetime", admission.DefaultCALifetime, "lifetime of the CA it makes (renewed with a third left)")
		certLifetime    = fs.Duration("cert-lifetime", admission.DefaultCertLifetime, "lifetime of the serving certificate it makes (renewed with a third left)")
		certInterval    = fs.Duration("cert-check-interval", admission.DefaultCertCheckInterval, "how often the certificate and the webhook configurations' caBundle are checked")
		logLevel        = fs.String("log-level", "info", "debug, info, warn or error")
	)
	fs.Var(&spiffeBundles, "spiffe-trust-bundle", "SPIFFE trust bundle (PEM, or JSON with --spiffe-trust-domain) whose X.509-SVIDs may sign, for factory-mode provenance (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(stderr, "hallmark-admission: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	usage := func(msg string) int {
		fmt.Fprintln(stderr, "hallmark-admission:", msg)
		return 2
	}
	if *namespace == "" {
		return usage("--namespace is required")
	}
	if *trustedRoot == "" {
		return usage("--trusted-root is required: the Sigstore trusted root provenance verifies against (hallmark trusted-root --out FILE)")
	}
	data, err := os.ReadFile(*trustedRoot)
	if err != nil {
		return usage("--trusted-root: " + err.Error())
	}
	tr, err := verifier.LoadTrustedRoot(data)
	if err != nil {
		return usage("--trusted-root " + *trustedRoot + ": " + err.Error())
	}
	trust := admission.Trust{Root: tr}
	for _, path := range spiffeBundles {
		data, err := os.ReadFile(path)
		if err != nil {
			return usage("--spiffe-trust-bundle: " + err.Error())
		}
		bs, err := verifier.LoadSPIFFEBundle(*spiffeDomain, data)
		if err != nil {
			return usage("--spiffe-trust-bundle " + path + ": " + err.Error())
		}
		trust.SPIFFE = append(trust.SPIFFE, bs...)
	}
	cfg := admission.Config{
		Trust: trust, Namespace: *namespace, ExcludeNamespaces: splitList(*exclude), NoMatch: admission.NoMatch(*noMatch),
		CacheSize: *cacheSize, CacheTTL: *cacheTTL, DenyCacheTTL: *denyTTL,
		VerifyDeadline: *verifyDeadline, RegistryTimeout: *registryTimeout, RegistryRetries: *registryRetries, InsecureRegistry: *insecure,
		MaxAttestationBundleSize: *maxAttestation, MaxVerifications: *maxVerify,
		Log: log, Addr: *addr, OpsAddr: *opsAddr, CertDir: *certDir, Hosts: splitList(*tlsHosts), SecretName: *secretName,
		WebhookConfigName: *webhookConfig, CALifetime: *caLifetime, CertLifetime: *certLifetime, CertCheckInterval: *certInterval,
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		log.Error("hallmark-admission", "error", err.Error())
		return 1
	}
	s, err := admission.New(restConfig, cfg)
	if err != nil {
		return usage(err.Error())
	}
	if err := s.Start(ctx); err != nil {
		log.Error("hallmark-admission", "error", err.Error())
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag, dropping empty items; nil for "".
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if out == nil {
		return []string{}
	}
	return out
}
