package factory_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// leaderAndMetrics runs the controller as a deployment does: with leader
// election (a Lease in the apiserver) and the Prometheus endpoint on.
func leaderAndMetrics(t *testing.T, w *world) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w.api.Namespace(t, "ops")
	w.controller(t, "ops", w.agent, func(c *factory.Config) {
		c.LeaderElection = true
		c.LeaderElectionNamespace = "ops"
		c.MetricsAddr = addr
	})
	tr := factorytest.TaskRun("ops", "build")
	factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", "pkg:generic/ops@1", artifactDigest))
	w.api.Create(t, tr)
	if ann := w.waitState(t, tr); ann[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("annotations %v", ann)
	}

	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: "ops", Name: "hallmark-factory.factory.hallmark.dev"}
	if err := w.api.Client.Get(t.Context(), key, &lease); err != nil {
		t.Fatalf("leader election lease: %v", err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("lease %s has no holder", key)
	}

	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(data)
			if strings.Contains(body, `hallmark_factory_runs_total{kind="TaskRun",outcome="signed"}`) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{
		`hallmark_factory_runs_total{kind="TaskRun",outcome="signed"}`,
		`hallmark_factory_sign_duration_seconds_count{kind="TaskRun"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// bundleTooLarge signs a run with so many images that its bundle exceeds
// the annotation budget: the annotation says so, and the file store keeps
// the bundle, which verifies.
func bundleTooLarge(t *testing.T, w *world) {
	files := t.TempDir()
	w.api.Namespace(t, "big")
	w.controller(t, "big", w.agent, func(c *factory.Config) {
		c.Stores = []factory.Store{factory.FileStore{Dir: files}}
	})
	var refs []string
	for i := range 900 {
		refs = append(refs, fmt.Sprintf("registry.example/acme/app-%04d@sha256:%064x", i, i+1))
	}
	tr := factorytest.TaskRun("big", "build")
	factorytest.Succeeded(tr, factorytest.StringResult("IMAGES", strings.Join(refs, ",")))
	w.api.Create(t, tr)
	ann := w.waitState(t, tr)
	if ann[factory.AnnotationState] != factory.StateSigned {
		t.Fatalf("annotations %v", ann)
	}
	if !strings.HasPrefix(ann[factory.AnnotationBundle], "omitted: ") {
		t.Fatalf("bundle annotation holds %d bytes, want it omitted over the budget", len(ann[factory.AnnotationBundle]))
	}
	raw, err := os.ReadFile(filepath.Join(files, "big", "TaskRun-build-"+string(tr.UID)+".sigstore.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundle{}
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	d, _ := verifier.ParseDigest(fmt.Sprintf("sha256:%064x", 900))
	if _, err := w.verifier(t, factoryID).Verify(b, d); err != nil {
		t.Errorf("the stored bundle does not verify: %v", err)
	}
}
