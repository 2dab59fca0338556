package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hallmark-dev/hallmark/internal/imageverify"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// Paths the webhook serves.
const (
	PathMutate         = "/mutate"
	PathValidate       = "/validate"
	PathValidatePolicy = "/validate-policy"
)

// Check names of the failures the webhook finds itself, beside the
// verifier's and imageverify's.
const (
	// CheckRegistry: the registry could not be asked (unreachable, refused
	// the credentials, no answer in time): the image is denied.
	CheckRegistry = "registry"
	// CheckPolicy: no ImagePolicy governs the image, or the one that does
	// does not build.
	CheckPolicy = "policy"
	// CheckInternal: the webhook failed; the request is denied.
	CheckInternal = "internal"
)

// maxReview bounds an AdmissionReview read: the API server's own request
// limit is 3 MiB.
const maxReview = 16 << 20

// errPanic marks a panic recovered while judging: it denies.
var errPanic = errors.New("panic while judging the request")

// verdictResult is a verification's outcome, as kept in the cache: whether
// the image passed, and if not, why.
type verdictResult struct {
	Passed  bool
	Failure *imageverify.Failure
	// Level, Builder and Source describe a pass, for the log.
	Level   int
	Builder string
	Source  string
	Summary bool
}

// judgement is one image under one policy.
type judgement struct {
	image  containerImage
	ref    name.Reference
	policy *compiledPolicy // nil when no policy governs the image
	mode   Mode
	result verdictResult
	lookup lookup
	took   time.Duration
}

// failed reports whether the judgement is a failure.
func (j judgement) failed() bool { return !j.result.Passed }

// line is the judgement's failure as the CLI prints it, with the container
// and the policy: container "app" (IMAGE): ImagePolicy NAME: FAILED: ....
func (j judgement) line() string {
	who := "no ImagePolicy"
	if j.policy != nil {
		who = "ImagePolicy " + j.policy.name
	}
	return fmt.Sprintf("%s (%s): %s: FAILED: %s", j.image.where, j.image.image, who, j.result.Failure.Line(j.image.image))
}

func failed(f *imageverify.Failure) verdictResult { return verdictResult{Failure: f} }

// serveReview decodes an AdmissionReview, judges its request and writes the
// answer. A malformed review gets 400; a panic, or a judge that returns no
// answer, denies.
func (s *Server) serveReview(webhook string, judge func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.Method != http.MethodPost {
			http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
		if err != nil || len(body) > maxReview {
			http.Error(w, "reading the AdmissionReview: too large or cut short", http.StatusBadRequest)
			return
		}
		req, err := decodeReview(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.requestDeadline(r))
		defer cancel()
		resp := s.safely(ctx, webhook, req, judge)
		resp.UID = req.UID
		out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
		data, err := json.Marshal(out)
		if err != nil {
			http.Error(w, "encoding the answer", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
		s.metrics.request(webhook, string(req.Operation), resp.Allowed, time.Since(start))
	})
}

// review is what the webhook reads of an AdmissionReview: the request's
// identity, what it does to which object, and the objects as they are
// (decoded only as far as a workload needs).
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID         types.UID                   `json:"uid"`
		Kind        metav1.GroupVersionKind     `json:"kind"`
		Resource    metav1.GroupVersionResource `json:"resource"`
		SubResource string                      `json:"subResource"`
		Name        string                      `json:"name"`
		Namespace   string                      `json:"namespace"`
		Operation   admissionv1.Operation       `json:"operation"`
		Object      json.RawMessage             `json:"object"`
		OldObject   json.RawMessage             `json:"oldObject"`
	} `json:"request"`
}

// decodeReview reads an admission.k8s.io/v1 AdmissionReview's request.
func decodeReview(body []byte) (*admissionv1.AdmissionRequest, error) {
	var r review
	if err := json.Unmarshal(body, &r); err != nil || r.Request == nil || r.APIVersion != "admission.k8s.io/v1" || r.Kind != "AdmissionReview" {
		return nil, errors.New("want an admission.k8s.io/v1 AdmissionReview with a request")
	}
	q := r.Request
	return &admissionv1.AdmissionRequest{
		UID: q.UID, Kind: q.Kind, Resource: q.Resource, SubResource: q.SubResource, Name: q.Name, Namespace: q.Namespace,
		Operation: q.Operation, Object: runtime.RawExtension{Raw: q.Object}, OldObject: runtime.RawExtension{Raw: q.OldObject},
	}, nil
}

// requestDeadline is how long a request may take: the API server's
// timeout (it sends ?timeout=10s) less a margin to answer in, and never
// more than the verification deadline.
func (s *Server) requestDeadline(r *http.Request) time.Duration {
	d := s.cfg.VerifyDeadline
	if t, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && t > 0 {
		margin := min(t/5, time.Second)
		d = min(d, t-margin)
	}
	return d
}

// safely runs judge, turning a panic into a denial.
func (s *Server) safely(ctx context.Context, webhook string, req *admissionv1.AdmissionRequest, judge func(context.Context, *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) (resp *admissionv1.AdmissionResponse) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic while judging a request: denied", "webhook", webhook, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = deny(http.StatusInternalServerError, "hallmark-admission could not judge the request (internal error), so it is denied: FAILED: "+CheckInternal+": "+fmt.Sprint(r))
		}
	}()
	if resp = judge(ctx, req); resp == nil {
		return deny(http.StatusInternalServerError, "hallmark-admission gave no answer, so the request is denied")
	}
	return resp
}

func allow() *admissionv1.AdmissionResponse { return &admissionv1.AdmissionResponse{Allowed: true} }

func deny(code int32, msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: metav1.StatusReasonForbidden, Message: msg}}
}

// request is what the mutating and validating webhooks read of a request.
type request struct {
	req    *admissionv1.AdmissionRequest
	w, old *workload
	images []containerImage
	creds  credentials
}

// readRequest decodes the workload of a request, and its images that need
// judging. nil with no error: nothing to judge.
func (s *Server) readRequest(req *admissionv1.AdmissionRequest) (*request, error) {
	if s.excluded(req.Namespace) {
		return nil, nil
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return nil, nil
	}
	if req.SubResource != "" && !(req.Resource.Resource == "pods" && req.SubResource == "ephemeralcontainers") {
		return nil, nil
	}
	w, err := decodeWorkload(req.Resource, req.Object.Raw)
	if err != nil || w == nil {
		return nil, err
	}
	var old *workload
	if req.Operation == admissionv1.Update {
		if old, err = decodeWorkload(req.Resource, req.OldObject.Raw); err != nil {
			return nil, err
		}
	}
	images := changedImages(w, old)
	if len(images) == 0 {
		return nil, nil
	}
	return &request{req: req, w: w, old: old, images: images,
		creds: credentials{namespace: req.Namespace, serviceAccount: w.serviceAccount(), secrets: w.pullSecretNames()}}, nil
}

// excluded reports whether the webhook leaves a namespace alone: its own,
// kube-system and those configured, so that the cluster can always recover.
func (s *Server) excluded(ns string) bool {
	return slices.Contains(s.cfg.ExcludeNamespaces, ns)
}

// namespaceLabels reads a namespace's labels, from the informer's cache
// or, for a namespace it has not seen yet, from the API server.
func (s *Server) namespaceLabels(ctx context.Context, ns string) (labels.Set, error) {
	var n corev1.Namespace
	err := s.cache.Get(ctx, types.NamespacedName{Name: ns}, &n)
	if apierrors.IsNotFound(err) {
		err = s.api.Get(ctx, types.NamespacedName{Name: ns}, &n)
	}
	if err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	return labels.Set(n.Labels), nil
}

// governing is the policies that govern an image in a namespace, the
// image's repository as they match it, and the image's parsed reference.
func (s *Server) governing(image string, ns labels.Set) ([]*compiledPolicy, string, name.Reference, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, "", nil, err
	}
	repo := ref.Context().Name()
	var out []*compiledPolicy
	for _, p := range s.policies.list() {
		if p.governs(repo, ns) {
			out = append(out, p)
		}
	}
	return out, repo, ref, nil
}

// mutate pins every governed image named by tag to the digest the tag
// names now, so that what the kubelet runs is what the validating webhook
// verified, and starts verifying it. A tag that cannot be resolved denies.
func (s *Server) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	r, err := s.readRequest(req)
	if err != nil {
		return deny(http.StatusBadRequest, "hallmark-admission: "+err.Error())
	}
	if r == nil {
		return allow()
	}
	ns, err := s.namespaceLabels(ctx, req.Namespace)
	if err != nil {
		return deny(http.StatusInternalServerError, "hallmark-admission cannot tell which ImagePolicies apply, so the request is denied: "+err.Error())
	}
	var patch []patchOp
	var denials []string
	resolved := map[string]string{}
	for _, ci := range r.images {
		if pinned(ci.image) {
			continue
		}
		ps, _, _, err := s.governing(ci.image, ns)
		if err != nil {
			denials = append(denials, fmt.Sprintf("%s (%s): FAILED: %s: %v", ci.where, ci.image, imageverify.CheckInput, err))
			continue
		}
		if len(ps) == 0 && s.cfg.NoMatch == NoMatchAllow {
			continue
		}
		to, ok := resolved[ci.image]
		if !ok {
			d, err := s.resolve(ctx, ci.image, r.creds)
			if err != nil {
				denials = append(denials, fmt.Sprintf("%s (%s): FAILED: %s: resolving the tag to a digest: %v", ci.where, ci.image, CheckRegistry, err))
				continue
			}
			to = pin(ci.image, d)
			resolved[ci.image] = to
			if ref, err := name.ParseReference(to); err == nil {
				for _, p := range ps {
					s.prefetch(p, to, ref, r.creds)
				}
			}
		}
		patch = append(patch, patchOp{Op: "replace", Path: ci.path, Value: to})
	}
	if len(denials) > 0 {
		s.log.Info("denied: tags could not be pinned", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", objectName(req, r.w), "reasons", denials)
		return deny(http.StatusForbidden, "hallmark-admission: "+strings.Join(denials, "\n"))
	}
	resp := allow()
	if len(patch) > 0 {
		data, err := json.Marshal(patch)
		if err != nil {
			return deny(http.StatusInternalServerError, "hallmark-admission: encoding the patch: "+err.Error())
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = data, &pt
	}
	return resp
}

// resolve asks the registry which digest a tag names now. Tags are never
// cached: a tag moves.
func (s *Server) resolve(ctx context.Context, image string, c credentials) (string, error) {
	kc, err := c.keychain(ctx, s.api)
	if err != nil {
		return "", err
	}
	d, _, err := oci.Resolve(ctx, image, s.registryOptions(kc)...)
	if err != nil {
		return "", err
	}
	return d.DigestStr(), nil
}

// prefetch starts verifying a pinned image in the background, so that the
// validating webhook, which the API server calls next, joins a verification
// already under way.
func (s *Server) prefetch(p *compiledPolicy, image string, ref name.Reference, c credentials) {
	if p.err != nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.VerifyDeadline)
		defer cancel()
		s.verdict(ctx, p, image, ref, c)
	}()
}

// validate judges every image the request brings in under each policy that
// governs it: a failure under an enforcing policy denies, under a warning
// one warns, under an auditing one is recorded.
func (s *Server) validate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	r, err := s.readRequest(req)
	if err != nil {
		return deny(http.StatusBadRequest, "hallmark-admission: "+err.Error())
	}
	if r == nil {
		return allow()
	}
	ns, err := s.namespaceLabels(ctx, req.Namespace)
	if err != nil {
		return deny(http.StatusInternalServerError, "hallmark-admission cannot tell which ImagePolicies apply, so the request is denied: "+err.Error())
	}
	js := s.judgeAll(ctx, r, ns)
	resp := allow()
	var denials, audits []string
	for _, j := range js {
		s.metrics.verdict(j)
		if !j.failed() {
			continue
		}
		switch j.mode {
		case ModeEnforce:
			denials = append(denials, j.line())
		case ModeWarn:
			resp.Warnings = append(resp.Warnings, warning(j.line()))
			audits = append(audits, j.line())
		case ModeAudit:
			audits = append(audits, j.line())
		}
		s.log.Info("image failed", "mode", string(j.mode), "kind", req.Kind.Kind, "namespace", req.Namespace, "name", objectName(req, r.w),
			"container", j.image.where, "image", j.image.image, "policy", policyName(j.policy), "check", j.result.Failure.Check, "failure", j.result.Failure.Line(j.image.image))
	}
	if len(audits) > 0 {
		resp.AuditAnnotations = map[string]string{"failed": strings.Join(audits, "\n")}
	}
	if len(denials) > 0 {
		d := deny(http.StatusForbidden, "hallmark-admission: "+strings.Join(denials, "\n"))
		d.Warnings, d.AuditAnnotations = resp.Warnings, resp.AuditAnnotations
		return d
	}
	return resp
}

// maxWarning is the longest warning sent: the API server shortens longer
// ones.
const maxWarning = 250

func warning(s string) string {
	if len(s) <= maxWarning {
		return s
	}
	return s[:maxWarning-3] + "..."
}

func policyName(p *compiledPolicy) string {
	if p == nil {
		return ""
	}
	return p.name
}

func objectName(req *admissionv1.AdmissionRequest, w *workload) string {
	switch {
	case req.Name != "":
		return req.Name
	case w == nil:
		return ""
	case w.meta.GenerateName != "":
		return w.meta.GenerateName + "*"
	}
	return w.meta.Name
}

// judgeAll judges each image under each policy that governs it, at once.
func (s *Server) judgeAll(ctx context.Context, r *request, ns labels.Set) []judgement {
	var js []judgement
	for _, ci := range r.images {
		ps, repo, ref, err := s.governing(ci.image, ns)
		switch {
		case err != nil:
			js = append(js, judgement{image: ci, mode: ModeEnforce, result: failed(&imageverify.Failure{
				Check: imageverify.CheckInput, Want: "an image reference", Got: ci.image, Message: err.Error()})})
		case len(ps) == 0:
			if s.cfg.NoMatch == NoMatchAllow {
				continue
			}
			mode := ModeEnforce
			if s.cfg.NoMatch == NoMatchWarn {
				mode = ModeWarn
			}
			js = append(js, judgement{image: ci, mode: mode, result: failed(&imageverify.Failure{
				Check: CheckPolicy, Want: "an ImagePolicy governing " + repo + " in namespace " + r.req.Namespace, Got: "none",
				Message: "no ImagePolicy governs this image",
				Fix:     "add an ImagePolicy whose images match " + repo + " and whose namespaceSelector selects " + r.req.Namespace})})
		default:
			for _, p := range ps {
				js = append(js, judgement{image: ci, ref: ref, policy: p, mode: p.mode})
			}
		}
	}
	judge := func(j *judgement) {
		defer func() {
			if rec := recover(); rec != nil {
				s.log.Error("panic while verifying: denied", "image", j.image.image, "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
				j.result = failed(&imageverify.Failure{Check: CheckInternal, Message: fmt.Sprintf("the webhook failed while verifying, so the image is denied: %v", rec)})
			}
		}()
		start := time.Now()
		j.result, j.lookup = s.verdict(ctx, j.policy, j.image.image, j.ref, r.creds)
		j.took = time.Since(start)
	}
	var todo []*judgement
	for i := range js {
		if js[i].policy != nil {
			todo = append(todo, &js[i])
		}
	}
	if len(todo) == 1 {
		// The usual request: one image under one policy, most often a
		// cached verdict. No goroutine for it.
		judge(todo[0])
		return js
	}
	var wg sync.WaitGroup
	for _, j := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			judge(j)
		}()
	}
	wg.Wait()
	return js
}

// verdict judges an image under one policy: from the cache, or by
// verifying it (shared with concurrent requests for the same image). Every
// way it can go wrong is a failure, never a pass.
func (s *Server) verdict(ctx context.Context, p *compiledPolicy, image string, ref name.Reference, c credentials) (verdictResult, lookup) {
	if p.err != nil {
		return failed(&imageverify.Failure{Check: CheckPolicy, Message: p.err.Error(),
			Fix: "fix the ImagePolicy: until it builds, the images it governs are denied"}), lookupMiss
	}
	d, ok := ref.(name.Digest)
	if !ok {
		// Only a request the mutating webhook did not see names a tag
		// here: verify-image's own verdict says to pin it.
		return s.verifyNow(ctx, p, image, c), lookupMiss
	}
	key := verdictKey{policy: p.key(), repository: d.Context().Name(), digest: d.DigestStr()}
	res, how, err := s.verdicts.do(ctx, key, c.id(), func(vctx context.Context) (outcome, error) {
		return s.verify(vctx, p, image, c)
	}, func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.VerifyDeadline)
	})
	s.metrics.lookup(how)
	if err != nil {
		return failed(registryFailure(image, err)), how
	}
	return res, how
}

// verifyNow verifies without the cache (a tag cannot key it).
func (s *Server) verifyNow(ctx context.Context, p *compiledPolicy, image string, c credentials) verdictResult {
	out, err := s.verify(ctx, p, image, c)
	if err != nil {
		return failed(registryFailure(image, err))
	}
	return out.verdict
}

// verify runs imageverify's flow for one image under one policy, and says
// how long its verdict may be kept: a pass for the cache TTL (or until its
// evidence expires, if sooner), a failure for the shorter deny TTL (an
// attestation may be pushed just after the image). An error (the registry
// could not be asked) is not kept at all.
func (s *Server) verify(ctx context.Context, p *compiledPolicy, image string, c credentials) (outcome, error) {
	start := time.Now()
	defer func() { s.metrics.verification(time.Since(start)) }()
	kc, err := c.keychain(ctx, s.api)
	if err != nil {
		return outcome{}, err
	}
	opts := []imageverify.Option{imageverify.WithRegistry(s.registryOptions(kc)...), imageverify.WithClock(s.cfg.Clock)}
	if len(p.summaries) > 0 {
		opts = append(opts, imageverify.WithVSA(s.cfg.Trust.Root, p.summaries...))
	}
	vd, err := imageverify.Verify(ctx, p.verifier, image, opts...)
	if err != nil {
		return outcome{}, err
	}
	now := s.cfg.Clock()
	if !vd.Passed() {
		return outcome{verdict: failed(vd.Failure), expires: now.Add(s.cfg.DenyCacheTTL)}, nil
	}
	res := verdictResult{Passed: true}
	switch {
	case vd.Result != nil:
		res.Level, res.Builder, res.Source = vd.Result.Level, vd.Result.BuilderID, vd.Result.Identity.Extensions.SourceRepositoryURI
	case vd.VSA != nil:
		res.Summary, res.Builder = true, vd.VSA.Verifier
	}
	expires := now.Add(s.cfg.CacheTTL)
	if !vd.ExpiresAt.IsZero() && vd.ExpiresAt.Before(expires) {
		expires = vd.ExpiresAt
	}
	return outcome{verdict: res, expires: expires}, nil
}

// registryFailure is a denial because the image could not be verified at
// all: the registry did not answer, refused, or time ran out.
func registryFailure(image string, err error) *imageverify.Failure {
	f := &imageverify.Failure{Check: CheckRegistry, Message: "the image could not be verified, so it is denied: " + err.Error()}
	switch {
	case errors.Is(err, oci.ErrUnreachable), errors.Is(err, oci.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		f.Fix = "check that the registry of " + image + " is up and reachable from hallmark-admission"
	case errors.Is(err, oci.ErrUnauthorized):
		f.Fix = "give the pod (or its service account) an image pull secret for the registry of " + image
	}
	return f
}

// registryOptions are the oci options of one verification: the
// credentials, the per-call timeout and retries, the transport.
func (s *Server) registryOptions(kc authn.Keychain) []oci.Option {
	opts := []oci.Option{
		oci.WithKeychain(kc), oci.WithTimeout(s.cfg.RegistryTimeout), oci.WithRetries(s.cfg.RegistryRetries),
		oci.WithInsecureRegistry(s.cfg.InsecureRegistry), oci.WithLogger(s.log), oci.WithUserAgent("hallmark-admission"),
	}
	if s.cfg.RegistryTransport != nil {
		opts = append(opts, oci.WithTransport(s.cfg.RegistryTransport))
	}
	return opts
}
