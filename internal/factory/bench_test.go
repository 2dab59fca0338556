package factory_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
)

// BenchmarkThousandTaskRuns creates 1,000 completed TaskRuns at once and
// reports the time until all are signed and the peak RSS of the process
// running the controller (VmHWM; an upper bound, it includes the test).
//
//	go test ./internal/factory -run '^$' -bench ThousandTaskRuns -benchtime 1x
func BenchmarkThousandTaskRuns(b *testing.B) {
	for range b.N {
		benchOnce(b)
	}
}

func benchOnce(b *testing.B) {
	const n = 1000
	w := setupTB(b)
	ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	w.api.Namespace(b, ns)
	w.controllerTB(b, ns, func(c *factory.Config) { c.Workers = 64 })
	runs := make([]*pipelinev1.TaskRun, n)
	for i := range runs {
		tr := factorytest.TaskRun(ns, fmt.Sprintf("build-%04d", i))
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", fmt.Sprintf("pkg:generic/app@1.0.%d", i), artifactDigest))
		runs[i] = tr
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, tr := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := w.api.CreateE(b, tr); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	for {
		var list pipelinev1.TaskRunList
		if err := w.api.Client.List(b.Context(), &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		signed := 0
		for _, tr := range list.Items {
			switch tr.Annotations[factory.AnnotationState] {
			case factory.StateSigned:
				signed++
			case factory.StateFailed:
				b.Fatalf("%s failed: %s", tr.Name, tr.Annotations[factory.AnnotationReason])
			}
		}
		if signed == n {
			break
		}
		if time.Since(start) > 15*time.Minute {
			b.Fatalf("%d of %d signed after %s", signed, n, time.Since(start))
		}
		time.Sleep(500 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(elapsed.Seconds(), "s-to-all-signed")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

func peakRSSMiB() float64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
