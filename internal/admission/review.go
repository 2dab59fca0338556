package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// maxReview bounds an AdmissionReview read: the API server's own request
// limit is 3 MiB.
const maxReview = 16 << 20

// errPanic marks a panic recovered while judging: it denies.
var errPanic = errors.New("panic while judging the request")

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
