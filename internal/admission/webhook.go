package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
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

// begin reads the request and its namespace's labels, which both webhooks
// judge by. A request it can answer on its own (a namespace left alone, a
// malformed object, labels it cannot read) comes back answered in done.
func (s *Server) begin(ctx context.Context, req *admissionv1.AdmissionRequest) (r *request, ns labels.Set, done *admissionv1.AdmissionResponse) {
	r, err := s.readRequest(req)
	if err != nil {
		return nil, nil, deny(http.StatusBadRequest, "hallmark-admission: "+err.Error())
	}
	if r == nil {
		return nil, nil, allow()
	}
	ns, err = s.namespaceLabels(ctx, req.Namespace)
	if err != nil {
		return nil, nil, deny(http.StatusInternalServerError, "hallmark-admission cannot tell which ImagePolicies apply, so the request is denied: "+err.Error())
	}
	return r, ns, nil
}

// mutate pins every governed image named by tag to the digest the tag
// names now, so that what the kubelet runs is what the validating webhook
// verified, and starts verifying it. A tag that cannot be resolved denies.
func (s *Server) mutate(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	r, ns, done := s.begin(ctx, req)
	if done != nil {
		return done
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
	r, ns, done := s.begin(ctx, req)
	if done != nil {
		return done
	}
	js := s.judgeAll(ctx, r, ns)
	resp := allow()
	var denials, audits []string
	for _, j := range js {
		s.metrics.verdict(j)
		if !j.failed() {
			s.log.Debug("image passed", "kind", req.Kind.Kind, "namespace", req.Namespace, "name", objectName(req, r.w), "container", j.image.where,
				"image", j.image.image, "policy", policyName(j.policy), "level", j.result.Level, "builder", j.result.Builder, "source", j.result.Source,
				"by_summary", j.result.Summary, "lookup", string(j.lookup), "took", j.took.String())
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
