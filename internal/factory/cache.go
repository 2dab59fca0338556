package factory

import (
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// The informer caches hold every run of the watched namespaces for as long
// as the runs exist, and runs accumulate (a cluster keeps thousands until
// they are pruned). So that the controller's memory stays flat, the caches
// keep only what it reads: of a run it is done with, its identity and the
// few annotations and finalizers that say so; of a pending run, all but the
// managed fields, kubectl's last-applied copy and the statuses of earlier
// retries. A PipelineRun's TaskRuns are read from the apiserver, never from
// the cache, when the PipelineRun is attested.

// lastApplied is kubectl's copy of the whole object, in an annotation.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// keptAnnotations are the annotations a run keeps in the cache once the
// controller is done with it.
var keptAnnotations = []string{AnnotationState, AnnotationRetries, AnnotationNextAttempt, ChainsSigned}

// trimRun is the caches' transform for TaskRuns and PipelineRuns.
func trimRun(obj any) (any, error) {
	switch r := obj.(type) {
	case *pipelinev1.TaskRun:
		if final(r) {
			return &pipelinev1.TaskRun{TypeMeta: r.TypeMeta, ObjectMeta: trimMeta(r.ObjectMeta)}, nil
		}
		r.ManagedFields = nil
		delete(r.Annotations, lastApplied)
		r.Status.RetriesStatus = nil
		return r, nil
	case *pipelinev1.PipelineRun:
		if final(r) {
			return &pipelinev1.PipelineRun{TypeMeta: r.TypeMeta, ObjectMeta: trimMeta(r.ObjectMeta)}, nil
		}
		r.ManagedFields = nil
		delete(r.Annotations, lastApplied)
		return r, nil
	}
	return obj, nil
}

// trimMeta keeps what the controller reads of a run it is done with.
func trimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		DeletionTimestamp: m.DeletionTimestamp, Finalizers: m.Finalizers, OwnerReferences: m.OwnerReferences,
	}
	for _, k := range keptAnnotations {
		if v, ok := m.Annotations[k]; ok {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	return out
}

// trimNamespace keeps a namespace's name and labels: tenants chosen by
// namespaceSelector read nothing else.
func trimNamespace(obj any) (any, error) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		return &corev1.Namespace{TypeMeta: ns.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Name: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion, Labels: ns.Labels,
		}}, nil
	}
	return obj, nil
}

var (
	_ toolscache.TransformFunc = trimRun
	_ toolscache.TransformFunc = trimNamespace
)
