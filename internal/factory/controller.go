package factory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/tekton"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// Config configures the controller. Signer is required; the rest have
// documented defaults.
type Config struct {
	// Signer signs statements. Required.
	Signer Signer
	// SignerID is the controller's SPIFFE ID. Required. Runs are signed
	// with exactly this identity (or, with TenantIdentity, the one
	// TenantSPIFFEID derives from it for the run's namespace), written on
	// each run. The signing identity is also the builder id when BuilderID
	// is empty, so the verifier finds that the signer is the builder.
	SignerID string
	// TenantIdentity signs each namespace's runs with its own SPIFFE ID,
	// TenantSPIFFEID(SignerID, namespace), so a verifier can pin a tenant
	// by the certificate alone. The SPIRE agent must hold an SVID for each
	// (one registration entry per namespace); a namespace without one is
	// not signed.
	TenantIdentity bool
	// TenancyPolicy is the ConfigMap whose key "policy.yaml" holds the
	// tenancy policy (internal/tenancy). Required: without a readable
	// policy nothing is signed.
	TenancyPolicy types.NamespacedName
	// BuilderID overrides the provenance's builder id.
	BuilderID string
	// BuilderVersion is recorded in runDetails.builder.version.
	BuilderVersion map[string]string
	// Stores keep bundles beyond the run's annotations (files, OCI).
	// Those that are AttestationStores keep SBOMs too.
	Stores []Store
	// BundleAnnotation says when the run's annotation AnnotationBundle
	// holds the whole bundle: BundleAnnotationAuto (the default) only when
	// no store kept it, BundleAnnotationAlways whenever it fits. A bundle
	// in an annotation is stored in etcd, sent to every watcher of runs
	// and held in the apiserver's watch cache: most of what a signed run
	// costs the cluster. AnnotationBundleDigest and AnnotationStored are
	// written either way.
	BundleAnnotation string
	// SBOMGenerator is the hallmark-sbom that makes the SBOMs a tenant
	// asks for (tenancy policy, tenants[].sbom); when empty, the one beside
	// the controller's executable or on PATH.
	SBOMGenerator string
	// SBOMInsecureRegistry lets hallmark-sbom read images over plain HTTP
	// (local registries).
	SBOMInsecureRegistry bool
	// Namespaces to watch; all when empty.
	Namespaces []string
	// Workers is the most runs signed at once; DefaultWorkers when zero.
	// MinWorkers is the fewest: DefaultMinWorkers when zero, at most
	// Workers. Between the two, the controller picks how many from the
	// signer's latency (limit.go): signing mostly waits (a Rekor v2 write
	// takes up to a second), so while the latency holds, more at once
	// means more signatures a second; when it climbs, fewer. Equal values
	// fix the number.
	Workers, MinWorkers int
	// MaxRetries is how many failed attempts a run gets before it is
	// marked failed; 3 when zero.
	MaxRetries int
	// Backoff is the pause after the first failure; it doubles after each
	// (5 s when zero, at most 5 min).
	Backoff time.Duration
	// SkipChainsSigned leaves alone, marked skipped, a run Tekton Chains
	// has already signed (chains.tekton.dev/signed: "true" when the
	// controller reads it). Off by default: both sign, each under its own
	// annotations.
	SkipChainsSigned bool
	// Finalizer holds each run with the finalizer factory.hallmark.dev/attest
	// from the moment the controller sees it until it is attested, skipped,
	// refused or given up on, so that a run pruned before it was signed is
	// still attested. Deletion is never blocked longer than
	// FinalizerTimeout after it was asked for; with Finalizer off, the
	// controller removes the finalizer from runs it finds holding it.
	Finalizer bool
	// FinalizerTimeout bounds how long the finalizer holds a run after its
	// deletion was asked for (10 minutes when zero).
	FinalizerTimeout time.Duration
	// QuietSuccess records no Normal Event "Signed" for each signed run:
	// the run's annotations and the metric hallmark_factory_runs_total
	// say it as well, and each Event is a write to the apiserver and
	// etcd. Warning Events (refused, failed) are recorded either way.
	QuietSuccess bool
	// LeaderElection, with LeaderElectionNamespace, lets replicas stand by.
	LeaderElection          bool
	LeaderElectionNamespace string
	// MetricsAddr serves Prometheus metrics at /metrics ("0" disables;
	// ":8080" when empty). ProbeAddr serves /healthz and /readyz ("0"
	// disables, the default).
	MetricsAddr, ProbeAddr string
	// PprofAddr serves Go's profiles at /debug/pprof/ ("0", the default,
	// disables). Bind it to a loopback or pod-local address: profiles show
	// the controller's internals.
	PprofAddr string
	// Log receives structured logs; discarded when nil.
	Log *slog.Logger
}

// Values of Config.BundleAnnotation.
const (
	// BundleAnnotationAuto puts the bundle in the run's annotation only
	// when no store kept it.
	BundleAnnotationAuto = "auto"
	// BundleAnnotationAlways puts the bundle in the run's annotation
	// whenever it fits, stored elsewhere or not.
	BundleAnnotationAlways = "always"
)

// Defaults of Config.Workers and Config.MinWorkers.
const (
	DefaultWorkers    = 256
	DefaultMinWorkers = 16
)

const (
	controllerName   = "hallmark-factory"
	leaderElectionID = "hallmark-factory.factory.hallmark.dev"
	maxBackoff       = 5 * time.Minute
)

func (c *Config) defaults() error {
	if c.Signer == nil {
		return errors.New("factory: no signer")
	}
	if _, err := spiffeid.FromString(c.SignerID); err != nil {
		return fmt.Errorf("factory: signer id %q: want the controller's SPIFFE ID: %w", c.SignerID, err)
	}
	if c.TenancyPolicy.Name == "" || c.TenancyPolicy.Namespace == "" {
		return errors.New("factory: no tenancy policy ConfigMap (namespace and name)")
	}
	switch c.BundleAnnotation {
	case "":
		c.BundleAnnotation = BundleAnnotationAuto
	case BundleAnnotationAuto, BundleAnnotationAlways:
	default:
		return fmt.Errorf("factory: bundle annotation %q: want %q or %q", c.BundleAnnotation, BundleAnnotationAuto, BundleAnnotationAlways)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.MinWorkers == 0 {
		c.MinWorkers = min(DefaultMinWorkers, c.Workers)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 3
	}
	if c.Backoff == 0 {
		c.Backoff = 5 * time.Second
	}
	if c.FinalizerTimeout == 0 {
		c.FinalizerTimeout = 10 * time.Minute
	}
	if c.MinWorkers > c.Workers {
		return fmt.Errorf("factory: %d min workers exceed %d workers", c.MinWorkers, c.Workers)
	}
	if c.Workers < 0 || c.MinWorkers < 0 || c.MaxRetries < 0 || c.Backoff < 0 || c.FinalizerTimeout < 0 {
		return errors.New("factory: negative workers, retries, backoff or finalizer timeout")
	}
	if c.MetricsAddr == "" {
		c.MetricsAddr = ":8080"
	}
	if c.ProbeAddr == "" {
		c.ProbeAddr = "0"
	}
	if c.PprofAddr == "" {
		c.PprofAddr = "0"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Scheme holds the types the controller reads and writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = pipelinev1.AddToScheme(s)
	return s
}

// NewManager returns a manager running the TaskRun and PipelineRun
// controllers; start it with Start(ctx).
func NewManager(restConfig *rest.Config, c Config) (manager.Manager, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	log := logr.FromSlogHandler(c.Log.Handler())
	cacheOpts := cache.Options{
		// Managed fields are most of a run's bytes and never read here.
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			// Of ConfigMaps, only the tenancy policy is watched.
			&corev1.ConfigMap{}: {
				Namespaces: map[string]cache.Config{c.TenancyPolicy.Namespace: {}},
				Field:      fields.OneTermEqualSelector("metadata.name", c.TenancyPolicy.Name),
			},
			// Runs and namespaces keep only what the controller reads
			// (cache.go), so memory stays flat as runs accumulate.
			&pipelinev1.TaskRun{}:     {Transform: trimRun},
			&pipelinev1.PipelineRun{}: {Transform: trimRun},
			&corev1.Namespace{}:       {Transform: trimNamespace},
		},
	}
	if len(c.Namespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range c.Namespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  Scheme(),
		Logger:                  log,
		Cache:                   cacheOpts,
		Metrics:                 metricsserver.Options{BindAddress: c.MetricsAddr},
		HealthProbeBindAddress:  c.ProbeAddr,
		PprofBindAddress:        c.PprofAddr,
		LeaderElection:          c.LeaderElection,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
	})
	if err != nil {
		return nil, fmt.Errorf("factory: %w", err)
	}
	if c.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	r := &reconciler{client: mgr.GetClient(), reader: mgr.GetAPIReader(), cfg: c, events: mgr.GetEventRecorder(controllerName), log: c.Log,
		policies: &policyReader{client: mgr.GetClient(), name: c.TenancyPolicy}, limit: newSigningLimit(c.MinWorkers, c.Workers)}
	// Names are checked for uniqueness per process; tests run several managers.
	skip := true
	copts := controller.Options{MaxConcurrentReconciles: c.Workers, SkipNameValidation: &skip}
	pending := predicate.NewPredicateFuncs(c.wants)
	if err := ctrl.NewControllerManagedBy(mgr).Named("taskrun").For(&pipelinev1.TaskRun{}).
		WithEventFilter(pending).WithOptions(copts).
		Complete(reconcileFunc(func(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
			return r.reconcile(ctx, req, &pipelinev1.TaskRun{})
		})); err != nil {
		return nil, fmt.Errorf("factory: %w", err)
	}
	if err := ctrl.NewControllerManagedBy(mgr).Named("pipelinerun").For(&pipelinev1.PipelineRun{}).
		WithEventFilter(pending).WithOptions(copts).
		Complete(reconcileFunc(func(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
			return r.reconcile(ctx, req, &pipelinev1.PipelineRun{})
		})); err != nil {
		return nil, fmt.Errorf("factory: %w", err)
	}
	return mgr, nil
}

type reconcileFunc func(context.Context, ctrl.Request) (ctrl.Result, error)

func (f reconcileFunc) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return f(ctx, req)
}

func done(o client.Object) bool {
	switch r := o.(type) {
	case *pipelinev1.TaskRun:
		return r.IsDone()
	case *pipelinev1.PipelineRun:
		return r.IsDone()
	}
	return false
}

type reconciler struct {
	client   client.Client
	reader   client.Reader // the apiserver itself, for a PipelineRun's TaskRuns
	cfg      Config
	events   recorder.EventRecorder
	log      *slog.Logger
	policies *policyReader
	limit    *signingLimit
}

// permanent marks errors that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func (r *reconciler) reconcile(ctx context.Context, req ctrl.Request, obj client.Object) (ctrl.Result, error) {
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	kind := kindOf(obj)
	log := r.log.With("kind", kind, "namespace", obj.GetNamespace(), "name", obj.GetName())
	if res, done, err := r.lifecycle(ctx, obj, log); done || err != nil {
		return res, err
	}
	if wait := untilNextAttempt(obj, time.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: r.capWait(obj, wait)}, nil
	}
	if r.cfg.SkipChainsSigned && obj.GetAnnotations()[ChainsSigned] == "true" {
		log.Info("signed by Tekton Chains: skipped")
		runsTotal.WithLabelValues(kind, StateSkipped).Inc()
		return r.finish(ctx, obj, map[string]string{AnnotationState: StateSkipped, AnnotationReason: "signed by Tekton Chains (" + ChainsSigned + ": true) and the controller runs with --skip-chains-signed"})
	}
	start := time.Now()
	att, id, sbomFormats, err := r.attestation(ctx, obj)
	if errors.Is(err, tekton.ErrNotSucceeded) || errors.Is(err, tekton.ErrNothingToAttest) {
		log.Info("nothing to attest", "reason", err.Error())
		runsTotal.WithLabelValues(kind, StateSkipped).Inc()
		return r.finish(ctx, obj, map[string]string{AnnotationState: StateSkipped, AnnotationReason: truncate(err.Error())})
	}
	if errors.Is(err, tekton.ErrRefused) || errors.Is(err, tenancy.ErrNoTenant) {
		return r.refuse(ctx, obj, log, err)
	}
	var where, sboms []string
	var bundleJSON []byte
	var res *signerResult
	var docs []sbomDoc
	if err == nil {
		docs, err = r.makeSBOMs(ctx, sbomFormats, att.Images)
	}
	if err == nil {
		res, bundleJSON, where, err = r.sign(ctx, obj, id, att)
	}
	if err == nil {
		sboms, err = r.signSBOMs(ctx, obj, id, docs)
	}
	if err != nil {
		return r.failed(ctx, obj, log, err)
	}
	signDuration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	ann := map[string]string{
		AnnotationState:   StateSigned,
		AnnotationSigner:  res.identity,
		AnnotationRetries: "",
		AnnotationReason:  "",

		AnnotationNextAttempt: "",
	}
	if res.logURL != "" {
		ann[AnnotationTransparency] = res.logURL + "?logIndex=" + strconv.FormatInt(res.logIndex, 10)
	}
	sum := sha256.Sum256(bundleJSON)
	ann[AnnotationBundleDigest] = "sha256:" + hex.EncodeToString(sum[:])
	switch {
	case len(where) > 0 && r.cfg.BundleAnnotation == BundleAnnotationAuto:
		ann[AnnotationBundle] = "" // kept elsewhere: not in etcd too
	case bundleFits(obj, len(bundleJSON)):
		ann[AnnotationBundle] = string(bundleJSON)
	default:
		ann[AnnotationBundle] = fmt.Sprintf("omitted: %d bytes exceed the annotation budget", len(bundleJSON))
	}
	ann[AnnotationStored] = truncate(strings.Join(where, ", "))
	if len(docs) > 0 {
		ann[AnnotationSBOM] = truncate(fmt.Sprintf("%d signed: %s", len(docs), strings.Join(sboms, ", ")))
	}
	result, marked, err := r.settle(ctx, obj, ann, log)
	if !marked {
		return result, err
	}
	runsTotal.WithLabelValues(kind, StateSigned).Inc()
	log.Info("signed", "subjects", len(att.Subjects), "signer", res.identity, "max_level", att.Factory.MaxLevel, "duration", time.Since(start).Round(time.Millisecond))
	if !r.cfg.QuietSuccess {
		r.events.Eventf(obj, nil, corev1.EventTypeNormal, "Signed", "Sign", "signed provenance for %d subjects as %s; level at most %d, %s", len(att.Subjects), res.identity, att.Factory.MaxLevel, describeSource(att.Factory.Source))
	}
	return result, err
}

func describeSource(s *tekton.SourceRecord) string {
	switch {
	case s == nil:
		return "no source claimed"
	case s.Verified:
		return "source " + s.URI + " verified"
	}
	return "source " + s.URI + " unverified: " + s.Reason
}

// refuse marks a run the tenancy policy refuses: nothing is signed, the
// run's spec and status are left alone, an annotation and an Event say why.
func (r *reconciler) refuse(ctx context.Context, obj client.Object, log *slog.Logger, err error) (ctrl.Result, error) {
	log.Warn("refused", "reason", err.Error())
	runsTotal.WithLabelValues(kindOf(obj), StateRefused).Inc()
	r.events.Eventf(obj, nil, corev1.EventTypeWarning, "SigningRefused", "Sign", "%s", truncate(err.Error()))
	return r.finish(ctx, obj, map[string]string{
		AnnotationState: StateRefused, AnnotationReason: truncate(err.Error()),
		AnnotationRetries: "", AnnotationNextAttempt: "",
	})
}

// failed counts a failed attempt: the run is retried after a backoff, or,
// once out of retries (or for a permanent error), marked failed.
func (r *reconciler) failed(ctx context.Context, obj client.Object, log *slog.Logger, err error) (ctrl.Result, error) {
	kind := kindOf(obj)
	n := retries(obj) + 1
	var perm permanent
	if n > r.cfg.MaxRetries || errors.As(err, &perm) {
		log.Error("giving up", "attempts", n, "error", err.Error())
		runsTotal.WithLabelValues(kind, StateFailed).Inc()
		r.events.Eventf(obj, nil, corev1.EventTypeWarning, "SigningFailed", "Sign", "%s", truncate(err.Error()))
		return r.finish(ctx, obj, map[string]string{
			AnnotationState: StateFailed, AnnotationRetries: strconv.Itoa(n),
			AnnotationReason: truncate(err.Error()), AnnotationNextAttempt: "",
		})
	}
	retriesTotal.WithLabelValues(kind).Inc()
	wait := r.cfg.Backoff << (n - 1)
	if wait > maxBackoff || wait <= 0 {
		wait = maxBackoff
	}
	log.Warn("signing failed; will retry", "attempt", n, "retry_in", wait, "error", err.Error())
	next := time.Now().Add(wait).UTC().Format(time.RFC3339Nano)
	if err := r.mark(ctx, obj, map[string]string{AnnotationRetries: strconv.Itoa(n), AnnotationNextAttempt: next}); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.capWait(obj, wait)}, nil
}

// untilNextAttempt is how long a run that failed to sign must still wait
// before its next attempt; zero when it may go now. A malformed time counts
// as due, so a hand-edited annotation cannot stall a run.
func untilNextAttempt(obj client.Object, now time.Time) time.Duration {
	at, err := time.Parse(time.RFC3339Nano, obj.GetAnnotations()[AnnotationNextAttempt])
	if err != nil {
		return 0
	}
	return at.Sub(now)
}

// attestation reads the run under the tenancy policy as it is now and
// returns its attestation and the SPIFFE ID to sign it with.
//
// It also returns the SBOM formats the tenant asks for of each image.
func (r *reconciler) attestation(ctx context.Context, obj client.Object) (*tekton.Attestation, string, []string, error) {
	pol, err := r.policies.read(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	t, err := r.tenant(ctx, pol, obj.GetNamespace())
	if err != nil {
		return nil, "", nil, err
	}
	id := r.cfg.SignerID
	if r.cfg.TenantIdentity {
		if id, err = TenantSPIFFEID(r.cfg.SignerID, obj.GetNamespace()); err != nil {
			return nil, "", nil, permanent{err}
		}
	}
	opts := tekton.Options{BuilderID: r.cfg.BuilderID, BuilderVersion: r.cfg.BuilderVersion, Policy: pol, Tenant: t}
	if opts.BuilderID == "" {
		opts.BuilderID = id
	}
	var att *tekton.Attestation
	switch run := obj.(type) {
	case *pipelinev1.TaskRun:
		att, err = tekton.FromTaskRun(run, opts)
	case *pipelinev1.PipelineRun:
		var children []*pipelinev1.TaskRun
		for _, ref := range run.Status.ChildReferences {
			if ref.Kind != "TaskRun" {
				continue
			}
			// From the apiserver: the cache keeps little of a TaskRun the
			// controller is done with (cache.go).
			tr := &pipelinev1.TaskRun{}
			err := r.reader.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: ref.Name}, tr)
			if apierrors.IsNotFound(err) {
				continue // pruned: its results are not attested
			}
			if err != nil {
				return nil, "", nil, fmt.Errorf("reading TaskRun %s: %w", ref.Name, err)
			}
			children = append(children, tr)
		}
		att, err = tekton.FromPipelineRun(run, children, opts)
	default:
		err = permanent{fmt.Errorf("unexpected object %T", obj)}
	}
	return att, id, t.SBOM, err
}

type signerResult struct {
	identity string
	logURL   string
	logIndex int64
}

func (r *reconciler) sign(ctx context.Context, obj client.Object, id string, att *tekton.Attestation) (*signerResult, []byte, []string, error) {
	st, err := att.Statement()
	if err != nil {
		return nil, nil, nil, permanent{fmt.Errorf("building statement: %w", err)}
	}
	payload, err := provenance.MarshalStatement(st)
	if err != nil {
		return nil, nil, nil, permanent{err}
	}
	if err := r.limit.acquire(ctx); err != nil {
		return nil, nil, nil, err
	}
	began := time.Now()
	res, err := r.cfg.Signer.Sign(ctx, id, payload)
	if err != nil {
		r.limit.release(0)
		return nil, nil, nil, err
	}
	r.limit.release(time.Since(began))
	if res.Identity != id {
		// Never store provenance of one namespace signed as another.
		return nil, nil, nil, fmt.Errorf("the signer signed as %s, want %s: bundle discarded", res.Identity, id)
	}
	bundleJSON, err := res.Bundle.MarshalJSON()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding bundle: %w", err)
	}
	run := Run{Kind: kindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID())}
	var where []string
	for _, s := range r.cfg.Stores {
		w, err := s.Store(ctx, run, bundleJSON, att)
		if err != nil {
			return nil, nil, nil, err
		}
		if w != "" {
			where = append(where, w)
		}
	}
	return &signerResult{identity: res.Identity, logURL: res.LogURL, logIndex: res.LogIndex}, bundleJSON, where, nil
}

// mark merges annotations into the run (an empty value removes one). A
// merge patch carries no resourceVersion, so it does not fight Tekton's
// own status updates.
func (r *reconciler) mark(ctx context.Context, obj client.Object, ann map[string]string) error {
	return client.IgnoreNotFound(r.patchMeta(ctx, obj, ann, nil))
}

// patchMeta merges annotations into the run (an empty value removes one)
// and, when finalizers is not nil, replaces its finalizers, locked to the
// resourceVersion obj was read at: a finalizer another controller added
// meanwhile makes it fail with a conflict rather than be dropped. The
// patch is sent for, and answered with, the run's metadata only: the
// apiserver encodes and the controller decodes no spec or status, and
// nothing is diffed here. On success obj's metadata is the apiserver's.
func (r *reconciler) patchMeta(ctx context.Context, obj client.Object, ann map[string]string, finalizers []string) error {
	set := map[string]any{}
	for k, v := range ann {
		switch _, ok := obj.GetAnnotations()[k]; {
		case v != "":
			set[k] = v
		case ok:
			set[k] = nil
		}
	}
	meta := map[string]any{}
	if len(set) > 0 {
		meta["annotations"] = set
	}
	if finalizers != nil {
		meta["finalizers"] = finalizers
		meta["resourceVersion"] = obj.GetResourceVersion()
	}
	if len(meta) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	pm := &metav1.PartialObjectMetadata{}
	pm.SetGroupVersionKind(pipelinev1.SchemeGroupVersion.WithKind(kindOf(obj)))
	pm.SetNamespace(obj.GetNamespace())
	pm.SetName(obj.GetName())
	if err := r.client.Patch(ctx, pm, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return err
	}
	// What later steps read (the finalizers, and the resourceVersion a
	// patch of them is locked to) as the apiserver has it now.
	obj.SetAnnotations(pm.GetAnnotations())
	obj.SetFinalizers(pm.GetFinalizers())
	obj.SetResourceVersion(pm.GetResourceVersion())
	obj.SetDeletionTimestamp(pm.GetDeletionTimestamp())
	return nil
}

func kindOf(o client.Object) string {
	switch o.(type) {
	case *pipelinev1.TaskRun:
		return "TaskRun"
	case *pipelinev1.PipelineRun:
		return "PipelineRun"
	}
	return fmt.Sprintf("%T", o)
}
