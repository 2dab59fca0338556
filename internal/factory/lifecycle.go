package factory

import (
	"context"
	"log/slog"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// A run's life as the controller sees it, with Config.Finalizer on:
//
//  1. First seen (running or not): the finalizer is added.
//  2. Done: it is attested (or skipped, refused, given up on) and marked.
//  3. Marked: the finalizer is released — for a TaskRun of a PipelineRun,
//     once the PipelineRun is marked too (or gone), so that deleting the
//     PipelineRun in the foreground cannot take the TaskRuns it must read
//     before it is attested; a PipelineRun releases its TaskRuns when it is
//     marked.
//  4. Deleted before it was marked: it is attested at once; if that has
//     not succeeded FinalizerTimeout after the deletion was asked for, the
//     finalizer is released anyway, with a Warning Event. A run deleted
//     before it finished holds nothing.
//
// With Config.Finalizer off, the controller removes its finalizer from any
// run it finds holding it, so turning the option off frees every run.

// conflictRetry is how soon a run is tried again after another writer
// changed it between read and write.
const conflictRetry = 200 * time.Millisecond

// wants reports whether an event about o concerns the controller.
func (c Config) wants(o client.Object) bool {
	held := controllerutil.ContainsFinalizer(o, Finalizer)
	switch {
	case o.GetDeletionTimestamp() != nil, final(o):
		return held
	case held != c.Finalizer:
		return true // to add or remove the finalizer
	}
	return done(o)
}

// lifecycle handles the finalizer before a run is attested. It returns
// stop when there is nothing (more) to do for obj now.
func (r *reconciler) lifecycle(ctx context.Context, obj client.Object, log *slog.Logger) (res ctrl.Result, stop bool, err error) {
	held := controllerutil.ContainsFinalizer(obj, Finalizer)
	switch {
	case final(obj):
		res, err := r.release(ctx, obj, log)
		return res, true, err
	case obj.GetDeletionTimestamp() != nil:
		if !held {
			return ctrl.Result{}, true, nil
		}
		if !done(obj) {
			log.Info("deleted before it finished: nothing to attest, released")
			res, err := r.removeFinalizer(ctx, obj)
			return res, true, err
		}
		if r.deletionExpired(obj) {
			log.Error("deleted and not attested in time: finalizer released", "finalizer_timeout", r.cfg.FinalizerTimeout)
			runsTotal.WithLabelValues(kindOf(obj), "released").Inc()
			r.events.Eventf(obj, nil, corev1.EventTypeWarning, "SigningFailed", "Sign",
				"not attested within %s of its deletion: finalizer %s released, the run goes unattested", r.cfg.FinalizerTimeout, Finalizer)
			res, err := r.removeFinalizer(ctx, obj)
			return res, true, err
		}
		return ctrl.Result{}, false, nil // attest now, before it goes
	case held && !r.cfg.Finalizer:
		if res, err := r.removeFinalizer(ctx, obj); err != nil || res.RequeueAfter > 0 {
			return res, true, err
		}
	case !held && r.cfg.Finalizer:
		base := obj.DeepCopyObject().(client.Object)
		controllerutil.AddFinalizer(obj, Finalizer)
		if res, err := r.patchFinalizers(ctx, obj, base); err != nil || res.RequeueAfter > 0 {
			return res, true, err
		}
	}
	return ctrl.Result{}, !done(obj), nil
}

// finish marks obj with its final state and releases it.
func (r *reconciler) finish(ctx context.Context, obj client.Object, ann map[string]string) (ctrl.Result, error) {
	if err := r.mark(ctx, obj, ann); err != nil {
		return ctrl.Result{}, err
	}
	return r.release(ctx, obj, r.log.With("kind", kindOf(obj), "namespace", obj.GetNamespace(), "name", obj.GetName()))
}

// release removes the finalizer from a run the controller is done with. A
// PipelineRun first releases its TaskRuns; a TaskRun of a PipelineRun
// waits for the PipelineRun (see the top of this file).
func (r *reconciler) release(ctx context.Context, obj client.Object, log *slog.Logger) (ctrl.Result, error) {
	if pr, ok := obj.(*pipelinev1.PipelineRun); ok {
		if res, err := r.releaseChildren(ctx, pr); err != nil || res.RequeueAfter > 0 {
			return res, err
		}
	}
	if !controllerutil.ContainsFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	if tr, ok := obj.(*pipelinev1.TaskRun); ok {
		if owner := r.pendingOwner(ctx, tr); owner != "" {
			if tr.DeletionTimestamp == nil {
				return ctrl.Result{}, nil // the PipelineRun releases it
			}
			if !r.deletionExpired(tr) {
				log.Info("held for its PipelineRun", "pipelinerun", owner)
				return ctrl.Result{RequeueAfter: r.capWait(tr, 5*time.Second)}, nil
			}
		}
	}
	return r.removeFinalizer(ctx, obj)
}

// pendingOwner names the PipelineRun that owns tr when that PipelineRun
// exists, holds the finalizer and is not marked yet.
func (r *reconciler) pendingOwner(ctx context.Context, tr *pipelinev1.TaskRun) string {
	for _, ref := range tr.OwnerReferences {
		if ref.Kind != "PipelineRun" {
			continue
		}
		pr := &pipelinev1.PipelineRun{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: tr.Namespace, Name: ref.Name}, pr); err != nil {
			continue // gone (or unreadable): nothing to wait for
		}
		if pr.UID == ref.UID && !final(pr) && controllerutil.ContainsFinalizer(pr, Finalizer) {
			return ref.Name
		}
	}
	return ""
}

// releaseChildren releases the TaskRuns of a marked PipelineRun that are
// marked themselves and wait for it.
func (r *reconciler) releaseChildren(ctx context.Context, pr *pipelinev1.PipelineRun) (ctrl.Result, error) {
	for _, ref := range pr.Status.ChildReferences {
		if ref.Kind != "TaskRun" {
			continue
		}
		tr := &pipelinev1.TaskRun{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: pr.Namespace, Name: ref.Name}, tr); err != nil {
			continue
		}
		if final(tr) && controllerutil.ContainsFinalizer(tr, Finalizer) {
			if res, err := r.removeFinalizer(ctx, tr); err != nil || res.RequeueAfter > 0 {
				return res, err
			}
		}
	}
	return ctrl.Result{}, nil
}

func (r *reconciler) removeFinalizer(ctx context.Context, obj client.Object) (ctrl.Result, error) {
	base := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, Finalizer) {
		return ctrl.Result{}, nil
	}
	return r.patchFinalizers(ctx, obj, base)
}

// patchFinalizers writes obj's finalizers. A merge patch replaces the whole
// list, so it carries the resourceVersion it was computed from: another
// controller's finalizer written meanwhile makes it fail, and it is tried
// again on a fresh read rather than dropping the other's.
func (r *reconciler) patchFinalizers(ctx context.Context, obj, base client.Object) (ctrl.Result, error) {
	err := r.client.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err):
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// deletionExpired reports whether obj's deletion was asked for longer than
// FinalizerTimeout ago.
func (r *reconciler) deletionExpired(obj client.Object) bool {
	d := obj.GetDeletionTimestamp()
	return d != nil && time.Since(d.Time) >= r.cfg.FinalizerTimeout
}

// capWait shortens a wait so that a run being deleted is looked at again
// when its finalizer timeout ends.
func (r *reconciler) capWait(obj client.Object, wait time.Duration) time.Duration {
	d := obj.GetDeletionTimestamp()
	if d == nil {
		return wait
	}
	left := time.Until(d.Add(r.cfg.FinalizerTimeout))
	if left < time.Second {
		left = time.Second
	}
	return min(wait, left)
}
