package admission

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// NoMatch says what happens to an image no ImagePolicy governs.
type NoMatch string

// What to do with an image no ImagePolicy governs.
const (
	NoMatchDeny  NoMatch = "deny"
	NoMatchWarn  NoMatch = "warn"
	NoMatchAllow NoMatch = "allow"
)

// Defaults of Config.
const (
	DefaultCacheSize       = 10000
	DefaultCacheTTL        = 10 * time.Minute
	DefaultDenyCacheTTL    = 30 * time.Second
	DefaultVerifyDeadline  = 8 * time.Second
	DefaultRegistryTimeout = 3 * time.Second
	DefaultRegistryRetries = 1
	// DefaultMaxAttestationBundleSize and DefaultMaxVerifications keep a
	// registry's worst (each verification's bundles at their limits) within
	// the manifests' memory limit; see kubernetes/admission/README.md.
	DefaultMaxAttestationBundleSize = 16 << 20
	DefaultMaxVerifications         = 4
	DefaultSecretName               = "hallmark-admission-tls"
	DefaultWebhookConfigName        = "hallmark-admission"
	DefaultCALifetime               = 365 * 24 * time.Hour
	DefaultCertLifetime             = 30 * 24 * time.Hour
	DefaultCertCheckInterval        = time.Minute
)

// Config configures the admission controller. Zero values take the
// defaults above; Trust and Namespace are required.
type Config struct {
	// Trust is what provenance verifies against.
	Trust Trust
	// Namespace is the controller's own namespace: never judged, and where
	// its certificate Secret lives.
	Namespace string
	// ExcludeNamespaces are never judged, beside Namespace. Nil:
	// kube-system. The webhook configurations should exclude them too, so
	// that the cluster can recover when the webhook is down.
	ExcludeNamespaces []string
	// NoMatch is what happens to an image no ImagePolicy governs: deny
	// (the default), warn or allow.
	NoMatch NoMatch
	// CacheSize bounds the verdicts kept; negative keeps none.
	CacheSize int
	// CacheTTL is how long a pass is kept (less if its evidence expires
	// sooner); DenyCacheTTL how long a failure is. Registry errors are
	// never kept.
	CacheTTL, DenyCacheTTL time.Duration
	// VerifyDeadline bounds one request's verification, registry calls
	// included; keep it inside the webhook configurations' timeoutSeconds.
	VerifyDeadline time.Duration
	// RegistryTimeout bounds each registry call; RegistryRetries is how
	// often a transient failure is retried within the deadline.
	RegistryTimeout time.Duration
	RegistryRetries int
	// MaxAttestationBundleSize bounds, in bytes, each bundle of an
	// attestation a policy requires (an SBOM) read from a registry; a
	// verification keeps at most four times that. Default
	// DefaultMaxAttestationBundleSize.
	MaxAttestationBundleSize int
	// MaxVerifications is how many images are verified at once; more wait
	// within VerifyDeadline. With MaxAttestationBundleSize it bounds the
	// memory verification may take whatever registries hold. Default
	// DefaultMaxVerifications.
	MaxVerifications int
	// InsecureRegistry allows plain HTTP to registries that are not on
	// loopback or private addresses.
	InsecureRegistry bool
	// RegistryTransport, if set, carries registry requests.
	RegistryTransport http.RoundTripper
	// Clock is now. Default time.Now.
	Clock func() time.Time
	// Log receives the controller's log. Default: discarded.
	Log *slog.Logger

	// Listener (or Addr, default :8443) serves the webhooks over HTTPS;
	// OpsListener (or OpsAddr, default :8081) serves /metrics, /healthz
	// and /readyz over HTTP.
	Listener, OpsListener net.Listener
	Addr, OpsAddr         string
	// CertDir, if set, holds tls.crt and tls.key (cert-manager's Secret,
	// mounted), served and read again when they change; the controller
	// then leaves the webhook configurations' caBundle alone.
	CertDir string
	// Otherwise the controller keeps its own CA and certificate for Hosts
	// (DNS names and IP addresses) in the Secret SecretName of Namespace,
	// and writes the CA into the caBundle of the Mutating- and
	// ValidatingWebhookConfiguration named WebhookConfigName.
	Hosts             []string
	SecretName        string
	WebhookConfigName string
	// CALifetime and CertLifetime are the certificates' lifetimes; each is
	// renewed when a third of it is left. CertCheckInterval is how often
	// the certificate (and the caBundle) are checked.
	CALifetime, CertLifetime, CertCheckInterval time.Duration
}

func (c *Config) defaults() error {
	if c.Trust.Root == nil {
		return errors.New("admission: no trusted root")
	}
	if c.Namespace == "" {
		return errors.New("admission: the controller's namespace is required")
	}
	if c.ExcludeNamespaces == nil {
		c.ExcludeNamespaces = []string{"kube-system"}
	}
	if !slices.Contains(c.ExcludeNamespaces, c.Namespace) {
		c.ExcludeNamespaces = append(slices.Clone(c.ExcludeNamespaces), c.Namespace)
	}
	switch c.NoMatch {
	case "":
		c.NoMatch = NoMatchDeny
	case NoMatchDeny, NoMatchWarn, NoMatchAllow:
	default:
		return fmt.Errorf("admission: no-match %q: want deny, warn or allow", c.NoMatch)
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	set(&c.CacheTTL, DefaultCacheTTL)
	set(&c.DenyCacheTTL, DefaultDenyCacheTTL)
	set(&c.VerifyDeadline, DefaultVerifyDeadline)
	set(&c.RegistryTimeout, DefaultRegistryTimeout)
	set(&c.CALifetime, DefaultCALifetime)
	set(&c.CertLifetime, DefaultCertLifetime)
	set(&c.CertCheckInterval, DefaultCertCheckInterval)
	if c.RegistryRetries == 0 {
		c.RegistryRetries = DefaultRegistryRetries
	}
	if c.RegistryRetries < 0 {
		c.RegistryRetries = 0
	}
	if c.MaxAttestationBundleSize == 0 {
		c.MaxAttestationBundleSize = DefaultMaxAttestationBundleSize
	}
	if c.MaxVerifications == 0 {
		c.MaxVerifications = DefaultMaxVerifications
	}
	if c.MaxAttestationBundleSize < 0 || c.MaxVerifications < 0 {
		return fmt.Errorf("admission: negative max-attestation-bundle-size %d or max-verifications %d", c.MaxAttestationBundleSize, c.MaxVerifications)
	}
	for _, d := range []time.Duration{c.CacheTTL, c.DenyCacheTTL, c.VerifyDeadline, c.RegistryTimeout, c.CALifetime, c.CertLifetime, c.CertCheckInterval} {
		if d < 0 {
			return fmt.Errorf("admission: negative duration %s", d)
		}
	}
	if c.RegistryTimeout > c.VerifyDeadline {
		return fmt.Errorf("admission: the registry timeout %s exceeds the verification deadline %s: a registry call could use all of it", c.RegistryTimeout, c.VerifyDeadline)
	}
	if c.CertDir == "" {
		if len(c.Hosts) == 0 {
			c.Hosts = []string{"hallmark-admission." + c.Namespace + ".svc", "hallmark-admission." + c.Namespace + ".svc.cluster.local"}
		}
		if c.SecretName == "" {
			c.SecretName = DefaultSecretName
		}
		if c.WebhookConfigName == "" {
			c.WebhookConfigName = DefaultWebhookConfigName
		}
		if c.CertLifetime > c.CALifetime/3 {
			return fmt.Errorf("admission: the certificate lifetime %s must be at most a third of the CA's %s", c.CertLifetime, c.CALifetime)
		}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Addr == "" {
		c.Addr = ":8443"
	}
	if c.OpsAddr == "" {
		c.OpsAddr = ":8081"
	}
	return nil
}

// Scheme is the scheme the controller reads the API with: Kubernetes'
// types and ImagePolicy.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// Server is the admission controller: the webhooks, the ImagePolicies
// they judge by, the verdict cache and the serving certificate.
type Server struct {
	cfg      Config
	log      *slog.Logger
	api      client.Client // reads and writes the API server directly
	cache    cache.Cache   // ImagePolicies and Namespaces, watched
	policies *policyStore
	verdicts *verdictCache
	metrics  *metrics
	certs    certSource
	loaded   atomic.Bool
	// slots holds a token for each verification running.
	slots chan struct{}
}

// New builds the controller for the API server at rc. Start runs it.
func New(rc *rest.Config, cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	scheme := Scheme()
	api, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	c, err := cache.New(rc, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{}})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, api: api, cache: c, policies: newPolicyStore(cfg.Trust, cfg.Log), slots: make(chan struct{}, cfg.MaxVerifications)}
	size := cfg.CacheSize
	if size < 0 {
		size = 0
	}
	s.verdicts = newVerdictCache(size, cfg.Clock)
	s.metrics = newMetrics(s.verdicts.len)
	if cfg.CertDir != "" {
		if s.certs, err = newFileCerts(cfg.CertDir, cfg.CertCheckInterval, cfg.Log); err != nil {
			return nil, err
		}
	} else {
		s.certs = &selfCerts{
			api: api, secret: types.NamespacedName{Namespace: cfg.Namespace, Name: cfg.SecretName}, hosts: cfg.Hosts,
			configs: cfg.WebhookConfigName, caLife: cfg.CALifetime, certLife: cfg.CertLifetime, interval: cfg.CertCheckInterval,
			now: cfg.Clock, log: cfg.Log,
		}
	}
	return s, nil
}

// Handler serves the three webhooks: PathMutate, PathValidate and
// PathValidatePolicy.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathMutate, s.serveReview("mutate", s.whenLoaded(s.mutate)))
	mux.Handle(PathValidate, s.serveReview("validate", s.whenLoaded(s.validate)))
	mux.Handle(PathValidatePolicy, s.serveReview("validate-policy", s.validatePolicy))
	return mux
}

// whenLoaded denies every request until the ImagePolicies are loaded:
// judged without them, an image would pass or fail by no policy at all.
func (s *Server) whenLoaded(judge func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	return func(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		if !s.loaded.Load() {
			if s.excluded(req.Namespace) {
				return allow()
			}
			return deny(http.StatusServiceUnavailable, "hallmark-admission has not loaded the ImagePolicies yet, so the request is denied: try again shortly")
		}
		return judge(ctx, req)
	}
}

// validatePolicy refuses an ImagePolicy that does not build: its globs,
// selector, Hallmark policy and expectations are checked as the
// controller will use them, so that a bad policy is refused at kubectl
// apply rather than denying at admission time.
func (s *Server) validatePolicy(_ context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allow()
	}
	var ip ImagePolicy
	if err := json.Unmarshal(req.Object.Raw, &ip); err != nil {
		return deny(http.StatusBadRequest, "hallmark-admission: decoding the ImagePolicy: "+err.Error())
	}
	if p := compile(&ip, s.cfg.Trust); p.err != nil {
		d := deny(http.StatusUnprocessableEntity, p.err.Error())
		d.Result.Reason = "Invalid"
		return d
	}
	return allow()
}

// Ready reports whether the controller serves: its caches are synced, the
// ImagePolicies loaded and the certificate served (and trusted).
func (s *Server) Ready() bool { return s.loaded.Load() && s.certs.ready() }

// Start runs the controller until ctx ends: it watches ImagePolicies and
// Namespaces, keeps the certificate, and serves the webhooks and the
// operations endpoints.
func (s *Server) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	inf, err := s.cache.GetInformer(ctx, &ImagePolicy{})
	if err != nil {
		return fmt.Errorf("watching ImagePolicies: %w", err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPolicy(obj, false) },
		UpdateFunc: func(_, obj any) { s.onPolicy(obj, false) },
		DeleteFunc: func(obj any) { s.onPolicy(obj, true) },
	})
	if err != nil {
		return err
	}
	if _, err := s.cache.GetInformer(ctx, &corev1.Namespace{}); err != nil {
		return fmt.Errorf("watching namespaces: %w", err)
	}
	errc := make(chan error, 4)
	go func() { errc <- s.cache.Start(ctx) }()
	go s.certs.run(ctx)

	ops := http.NewServeMux()
	ops.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	ops.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	ops.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !s.loaded.Load():
			http.Error(w, "ImagePolicies not loaded yet", http.StatusServiceUnavailable)
		case !s.certs.ready():
			http.Error(w, "no serving certificate trusted yet", http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ok\n"))
		}
	})
	opsSrv := &http.Server{Handler: ops, ReadHeaderTimeout: 5 * time.Second}
	hookSrv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.certs.getCertificate},
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	opsL, err := listen(s.cfg.OpsListener, s.cfg.OpsAddr)
	if err != nil {
		return err
	}
	hookL, err := listen(s.cfg.Listener, s.cfg.Addr)
	if err != nil {
		opsL.Close()
		return err
	}
	go func() { errc <- ignoreClosed(opsSrv.Serve(opsL)) }()
	go func() { errc <- ignoreClosed(hookSrv.ServeTLS(hookL, "", "")) }()
	go func() {
		if !s.cache.WaitForCacheSync(ctx) {
			return
		}
		if !toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
			return
		}
		s.loaded.Store(true)
		s.log.Info("ImagePolicies loaded", "policies", len(s.policies.list()))
	}()
	s.log.Info("serving", "webhooks", hookL.Addr().String(), "operations", opsL.Addr().String(), "no_match", string(s.cfg.NoMatch), "excluded", s.cfg.ExcludeNamespaces)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	hookSrv.Shutdown(sctx)
	opsSrv.Shutdown(sctx)
	return runErr
}

func (s *Server) onPolicy(obj any, deleted bool) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj, deleted = d.Obj, true
	}
	ip, ok := obj.(*ImagePolicy)
	if !ok {
		return
	}
	if deleted {
		s.policies.remove(ip.UID)
	} else {
		s.policies.upsert(ip)
	}
	ready, invalid := 0, 0
	for _, p := range s.policies.list() {
		if p.err != nil {
			invalid++
		} else {
			ready++
		}
	}
	s.metrics.policyStates(ready, invalid)
}

func listen(l net.Listener, addr string) (net.Listener, error) {
	if l != nil {
		return l, nil
	}
	return net.Listen("tcp", addr)
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// PolicyLoaded reports whether the given generation (or a later one) of
// the named ImagePolicy is in effect: tools and tests wait on it after
// applying a policy.
func (s *Server) PolicyLoaded(name string, generation int64) bool {
	for _, p := range s.policies.list() {
		if p.name == name && p.generation >= generation {
			return true
		}
	}
	return false
}
