package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/sigstore/sigstore-go/pkg/root"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// run parses flags, builds the controller and runs it until ctx ends. It
// returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("hallmark-factory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		mode          = fs.String("identity", "x509-svid", "signing identity: x509-svid (sign with the SVID) or jwt-svid (exchange a JWT-SVID at Fulcio)")
		jwtAudience   = fs.String("jwt-audience", factory.DefaultJWTAudience, "audience of the JWT-SVID in jwt-svid mode: the client ID of Fulcio's spiffe issuer")
		workloadAPI   = fs.String("workload-api", "", "SPIFFE Workload API address (default $SPIFFE_ENDPOINT_SOCKET)")
		signingConfig = fs.String("signing-config", "/etc/hallmark/signing_config.json", "Sigstore signing config: Rekor and/or TSA (and Fulcio for jwt-svid)")
		trustedRoot   = fs.String("trusted-root", "", "Sigstore trusted root, to check each bundle before it is stored (optional)")
		spiffeBundle  = fs.String("spiffe-bundle", "", "SPIFFE trust bundle (PEM or JSON) for the check with --trusted-root in x509-svid mode")
		trustDomain   = fs.String("trust-domain", "", "trust domain of a JSON --spiffe-bundle")
		builderID     = fs.String("builder-id", "", "provenance builder id (default: the signing SPIFFE ID)")
		spiffeID      = fs.String("spiffe-id", "", "the controller's own SPIFFE ID; runs are signed with exactly this SVID (default: the agent's only SVID for the controller; required when it holds several, as with --tenant-identity)")
		tenantID      = fs.Bool("tenant-identity", false, "sign each namespace's runs with the SVID SPIFFE-ID/tenant/NAMESPACE (one SPIRE entry per namespace); a namespace without one is not signed")
		tenancyPolicy = fs.String("tenancy-policy", "hallmark-system/hallmark-tenancy", "NAMESPACE/NAME of the ConfigMap whose key policy.yaml is the tenancy policy; nothing is signed without it")
		namespaces    = fs.String("namespaces", "", "comma-separated namespaces to watch (default: all)")
		workers       = fs.Int("workers", factory.DefaultWorkers, "most runs signed at once; between --min-workers and this, the controller picks how many from the signer's latency (signing mostly waits on the log)")
		minWorkers    = fs.Int("min-workers", factory.DefaultMinWorkers, "fewest runs signed at once (at most --workers; equal to it fixes the number)")
		signDeadline  = fs.Duration("sign-deadline", signer.DefaultDeadline, "deadline of one signing: every certificate, timestamp and log request with its retries")
		signTimeout   = fs.Duration("sign-timeout", signer.DefaultTimeout, "timeout of each try of a request to Fulcio, the TSA or Rekor")
		maxRetries    = fs.Int("max-retries", 3, "failed attempts before a run is marked failed")
		backoff       = fs.Duration("backoff", 5*time.Second, "pause after the first failure; doubles after each")
		storeDir      = fs.String("store-dir", "", "also write each bundle under this folder")
		bundleAnn     = fs.String("bundle-annotation", factory.BundleAnnotationAuto, "when the run's annotation factory.hallmark.dev/bundle holds the whole bundle: auto (only when neither --store-dir nor --store-oci kept it) or always (whenever it fits); its digest and where it is stored are annotated either way")
		sbomGenerator = fs.String("sbom-generator", "", "the hallmark-sbom that makes the SBOMs tenants ask for (tenancy policy tenants[].sbom); default: beside this executable, or on PATH")
		ociStore      = fs.Bool("store-oci", true, "attach bundles to image subjects as OCI referrers")
		chainsCompat  = fs.Bool("chains-compatible", false, "also attach each bundle to its image under cosign's sha256-HEX.att tag, where Tekton Chains' OCI storage puts attestations (needs --store-oci)")
		skipChains    = fs.Bool("skip-chains-signed", false, "skip runs Tekton Chains has already signed (annotation chains.tekton.dev/signed: true); by default both sign, each under its own annotations")
		finalizer     = fs.Bool("finalizer", false, "hold each run with the finalizer factory.hallmark.dev/attest until it is attested, so a run pruned first is still attested; off removes it from runs that hold it")
		finalizerWait = fs.Duration("finalizer-timeout", 10*time.Minute, "longest a deleted run is held for its attestation before the finalizer is released anyway")
		signedEvents  = fs.Bool("signed-events", true, "record a Normal Event Signed on each signed run (false: only the annotations and metrics say so; Warning Events are recorded either way)")
		leaderElect   = fs.Bool("leader-elect", false, "elect a leader among replicas")
		leaderNS      = fs.String("leader-election-namespace", "", "namespace of the leader election lease")
		metricsAddr   = fs.String("metrics-bind-address", ":8080", "Prometheus metrics address (0 disables)")
		probeAddr     = fs.String("health-probe-bind-address", ":8081", "health probe address (0 disables)")
		pprofAddr     = fs.String("pprof-bind-address", "0", "serve Go profiles at /debug/pprof/ on this address, such as 127.0.0.1:6060 (0 disables)")
		logLevel      = fs.String("log-level", "info", "debug, info, warn or error")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(stderr, "hallmark-factory: --log-level:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	fail := func(err error) int {
		log.Error("hallmark-factory", "error", err.Error())
		return 1
	}

	sc, err := root.NewSigningConfigFromPath(*signingConfig)
	if err != nil {
		return fail(fmt.Errorf("reading signing config: %w", err))
	}
	opts := signer.Options{SigningConfig: sc, Log: log, Deadline: *signDeadline, Timeout: *signTimeout}
	if *trustedRoot != "" {
		tr, err := root.NewTrustedRootFromPath(*trustedRoot)
		if err != nil {
			return fail(fmt.Errorf("reading trusted root: %w", err))
		}
		opts.TrustedRoot = tr
		if *mode == "x509-svid" {
			if *spiffeBundle == "" {
				return fail(fmt.Errorf("--trusted-root in x509-svid mode needs --spiffe-bundle"))
			}
			data, err := os.ReadFile(*spiffeBundle)
			if err != nil {
				return fail(err)
			}
			b, err := verifier.LoadSPIFFEBundle(*trustDomain, data)
			if err != nil {
				return fail(err)
			}
			opts.TrustedRoot = verifier.SPIFFETrustedMaterial(tr, b...)
		}
	}
	var s interface {
		factory.Signer
		ID(context.Context) (string, error)
		Close() error
	}
	switch *mode {
	case "x509-svid":
		s, err = factory.NewSVIDSigner(ctx, *workloadAPI, opts)
	case "jwt-svid":
		var js *factory.JWTSVIDSigner
		if js, err = factory.NewJWTSVIDSigner(ctx, *workloadAPI, opts); err == nil {
			js.Audience = *jwtAudience
			s = js
		}
	default:
		return fail(fmt.Errorf("--identity %q: want x509-svid or jwt-svid", *mode))
	}
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	id := *spiffeID
	if id == "" {
		if *tenantID {
			return fail(fmt.Errorf("--tenant-identity needs --spiffe-id: the agent holds one SVID per tenant as well as the controller's own"))
		}
		if id, err = s.ID(ctx); err != nil {
			return fail(err)
		}
	}
	policyNS, policyName, ok := strings.Cut(*tenancyPolicy, "/")
	if !ok || policyNS == "" || policyName == "" || strings.Contains(policyName, "/") {
		return fail(fmt.Errorf("--tenancy-policy %q: want NAMESPACE/NAME", *tenancyPolicy))
	}
	cfg := factory.Config{
		Signer:                  s,
		SignerID:                id,
		BuilderID:               *builderID,
		TenantIdentity:          *tenantID,
		TenancyPolicy:           types.NamespacedName{Namespace: policyNS, Name: policyName},
		BundleAnnotation:        *bundleAnn,
		Workers:                 *workers,
		MinWorkers:              min(*minWorkers, *workers),
		MaxRetries:              *maxRetries,
		Backoff:                 *backoff,
		SkipChainsSigned:        *skipChains,
		Finalizer:               *finalizer,
		QuietSuccess:            !*signedEvents,
		FinalizerTimeout:        *finalizerWait,
		LeaderElection:          *leaderElect,
		LeaderElectionNamespace: *leaderNS,
		MetricsAddr:             *metricsAddr,
		ProbeAddr:               *probeAddr,
		PprofAddr:               *pprofAddr,
		Log:                     log,
		SBOMGenerator:           *sbomGenerator,
	}
	if *namespaces != "" {
		cfg.Namespaces = strings.Split(*namespaces, ",")
	}
	if *storeDir != "" {
		cfg.Stores = append(cfg.Stores, factory.FileStore{Dir: *storeDir})
	}
	if *chainsCompat && !*ociStore {
		return fail(fmt.Errorf("--chains-compatible writes cosign's .att tags next to the OCI referrers: it needs --store-oci"))
	}
	if *ociStore {
		cfg.Stores = append(cfg.Stores, factory.OCIStore{Options: []oci.Option{oci.WithLogger(log)}, Legacy: *chainsCompat})
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return fail(err)
	}
	mgr, err := factory.NewManager(restConfig, cfg)
	if err != nil {
		return fail(err)
	}
	log.Info("starting", "signer", id, "tenant_identity", cfg.TenantIdentity, "tenancy_policy", *tenancyPolicy, "namespaces", cfg.Namespaces, "workers", cfg.Workers, "min_workers", cfg.MinWorkers)
	if err := mgr.Start(ctx); err != nil {
		return fail(err)
	}
	return 0
}
