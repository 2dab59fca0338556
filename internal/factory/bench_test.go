package factory_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// BenchmarkThousandTaskRuns creates 1,000 completed TaskRuns at once and
// reports the time until the controller — the hallmark-factory binary, in
// a process of its own, signing through SPIRE and the sandbox's Rekor v2 —
// has signed all of them, its peak RSS (VmHWM), and the apiserver's and
// etcd's.
//
//	go test ./internal/factory -run '^$' -bench ThousandTaskRuns -benchtime 1x
func BenchmarkThousandTaskRuns(b *testing.B) { benchRuns(b, 1000, false) }

// BenchmarkTenThousandTaskRuns is the same with 10,000 runs (several
// minutes; run it by hand). It also reports the controller's RSS as the
// signed runs accumulate: a quarter, half, three quarters and all signed.
//
//	go test ./internal/factory -run '^$' -bench TenThousandTaskRuns -benchtime 1x -timeout 60m
func BenchmarkTenThousandTaskRuns(b *testing.B) { benchRuns(b, 10000, false) }

// BenchmarkThousandTaskRunsBacklog and BenchmarkTenThousandTaskRunsBacklog
// create the completed runs first and only then start the controller, as
// after an outage: the time, CPU and requests are the controller's alone
// (from its start, with its first list of every run, until all are
// signed), without the apiserver's work of creating the runs, which on a
// 2-core machine bounds the other benchmarks' runs/s.
//
//	go test ./internal/factory -run '^$' -bench 'TaskRunsBacklog' -benchtime 1x -timeout 60m
func BenchmarkThousandTaskRunsBacklog(b *testing.B) { benchRuns(b, 1000, true) }

func BenchmarkTenThousandTaskRunsBacklog(b *testing.B) { benchRuns(b, 10000, true) }

// BenchmarkTenThousandTaskRunsWithoutController creates the same 10,000
// completed runs with no controller at all and reports the apiserver's and
// etcd's peak RSS: what the runs alone cost them, against which the other
// benchmarks' figures show what the controller adds.
//
//	go test ./internal/factory -run '^$' -bench TaskRunsWithoutController -benchtime 1x -timeout 60m
func BenchmarkTenThousandTaskRunsWithoutController(b *testing.B) {
	ctrllog.SetLogger(logr.Discard())
	for range b.N {
		w := setupTB(b)
		ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		w.api.Namespace(b, ns)
		start := time.Now()
		createRuns(b, w, ns, 10000)
		b.ReportMetric(time.Since(start).Seconds(), "s-to-create")
		// What the apiserver holds settles after the last write.
		time.Sleep(5 * time.Second)
		reportServersRSS(b)
	}
}

func benchRuns(b *testing.B, n int, backlog bool) {
	// The controller runs in a process of its own; envtest's few lines
	// here need no logger.
	ctrllog.SetLogger(logr.Discard())
	for range b.N {
		benchOnce(b, n, backlog)
	}
}

func benchOnce(b *testing.B, n int, backlog bool) {
	w := setupTB(b)
	ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	w.api.Namespace(b, ns)
	policy := w.policy(b, ns, testPolicy(ns))
	bin := controllerBinary(b)
	var ctl *controllerProcess
	if !backlog {
		ctl = startControllerProcess(b, w, ns, policy.String(), bin)
	}

	create := func() { createRuns(b, w, ns, n) }
	var created time.Duration
	if backlog {
		t := time.Now()
		create()
		created = time.Since(t)
	}
	sandboxDir := sandboxtest.Start(b).Dir
	logBefore := logSize(b, sandboxDir)
	reqBefore := apiserverRequests(b, w.api.Config)
	cpuBefore := processCPU()
	b.ResetTimer()
	start := time.Now()
	if backlog {
		ctl = startControllerProcess(b, w, ns, policy.String(), bin)
	}
	profiled := profile(b, w, ctl)
	if !backlog {
		create()
		created = time.Since(start)
	}

	// Progress from the controller's own metrics, so that polling does not
	// load the apiserver; its RSS at each quarter.
	quarters := map[int]float64{}
	maxLimit := 0.0
	for {
		signed, failed, limit := ctl.metricValues(b)
		maxLimit = max(maxLimit, limit)
		if failed > 0 {
			b.Fatalf("%d runs failed to sign (controller log: %s)", failed, ctl.log)
		}
		for q := 1; q <= 4; q++ {
			if _, ok := quarters[q]; !ok && signed >= n*q/4 {
				quarters[q] = procMiB(ctl.pid, "VmRSS")
			}
		}
		if signed >= n {
			break
		}
		if time.Since(start) > 45*time.Minute {
			b.Fatalf("%d of %d signed after %s", signed, n, time.Since(start))
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpuAfter := processCPU()
	profiled()
	reqAfter := apiserverRequests(b, w.api.Config)

	// Each run signed once: one log entry each, and the controller counts
	// no more signatures than runs, a moment later too.
	time.Sleep(2 * time.Second)
	if signed, _ := ctl.counts(b); signed != n {
		b.Fatalf("the controller signed %d times for %d runs", signed, n)
	}
	if d := logSize(b, sandboxDir) - logBefore; d != int64(n) {
		b.Fatalf("the log grew by %d entries for %d runs", d, n)
	}

	// Every run carries the mark.
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(pipelinev1.SchemeGroupVersion.WithKind("TaskRunList"))
	if err := w.api.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		b.Fatal(err)
	}
	marked := 0
	for _, m := range list.Items {
		if m.Annotations[factory.AnnotationState] == factory.StateSigned {
			marked++
		}
	}
	if marked != n {
		b.Fatalf("%d of %d runs are marked signed", marked, n)
	}
	b.ReportMetric(elapsed.Seconds(), "s-to-all-signed")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "runs/s")
	b.ReportMetric(maxLimit, "peak-signing-limit")
	reportCPU(b, cpuBefore, cpuAfter, n)
	reportRequests(b, reqBefore, reqAfter, n)
	b.ReportMetric(created.Seconds(), "s-to-create")
	b.ReportMetric(procMiB(ctl.pid, "VmHWM"), "controller-peak-RSS-MiB")
	if n >= 10000 {
		for q := 1; q <= 4; q++ {
			b.ReportMetric(quarters[q], fmt.Sprintf("controller-RSS-MiB-at-%d%%", 25*q))
		}
	}
	reportServersRSS(b)
}

// createRuns creates n completed TaskRuns in ns, 32 at a time.
func createRuns(b *testing.B, w *world, ns string, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		tr := factorytest.TaskRun(ns, fmt.Sprintf("build-%05d", i))
		factorytest.Succeeded(tr, factorytest.BuildArtifact("ARTIFACT_OUTPUTS", fmt.Sprintf("pkg:generic/app@1.0.%d", i), artifactDigest))
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
}

// reportServersRSS reports the peak RSS of the apiserver and etcd.
func reportServersRSS(b *testing.B) {
	for _, name := range []string{"kube-apiserver", "etcd"} {
		for _, pid := range childPIDs(name) {
			b.ReportMetric(procMiB(pid, "VmHWM"), name+"-peak-RSS-MiB")
		}
	}
}

// controllerBinary builds cmd/hallmark-factory, or returns
// $HALLMARK_BENCH_BINARY, another build (to compare).
func controllerBinary(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("HALLMARK_BENCH_BINARY"); bin != "" {
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "hallmark-factory")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hallmark-factory").CombinedOutput()
	if err != nil {
		tb.Fatalf("building hallmark-factory: %v\n%s", err, out)
	}
	return bin
}

// controllerProcess is the hallmark-factory binary running for a test.
type controllerProcess struct {
	pid     int
	metrics string // http://ADDR/metrics
	pprof   string // http://ADDR/debug/pprof/, with $HALLMARK_BENCH_PROFILE
	log     string
}

// startControllerProcess runs bin, a hallmark-factory binary, on
// namespace ns with the world's SPIRE agent and sandbox, until tb ends.
// Bundles go to files (--store-dir); $HALLMARK_BENCH_ARGS adds flags (such
// as --workers=64 or --bundle-annotation=always).
func startControllerProcess(tb testing.TB, w *world, ns, policy, bin string) *controllerProcess {
	tb.Helper()
	dir := tb.TempDir()
	sb := sandboxtest.Start(tb)
	addr := freeAddr(tb)
	p := &controllerProcess{metrics: "http://" + addr + "/metrics", log: filepath.Join(dir, "controller.log")}
	var pprofArgs []string
	if os.Getenv("HALLMARK_BENCH_PROFILE") != "" {
		pprofAddr := freeAddr(tb)
		p.pprof = "http://" + pprofAddr + "/debug/pprof/"
		pprofArgs = append(pprofArgs, "--pprof-bind-address="+pprofAddr)
	}
	logFile, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--workload-api="+w.agent.Addr(), "--spiffe-id="+factoryID,
		"--signing-config="+sb.SigningConfigPath(), "--tenancy-policy="+policy,
		"--namespaces="+ns, "--store-oci=false", "--store-dir="+filepath.Join(dir, "bundles"),
		"--metrics-bind-address="+addr, "--health-probe-bind-address=0", "--log-level=warn")
	cmd.Args = append(cmd.Args, pprofArgs...)
	cmd.Args = append(cmd.Args, strings.Fields(os.Getenv("HALLMARK_BENCH_ARGS"))...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+w.api.Kubeconfig(tb, dir))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cancel(); _ = cmd.Wait() })
	p.pid = cmd.Process.Pid
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get(p.metrics); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			raw, _ := os.ReadFile(p.log)
			tb.Fatalf("hallmark-factory did not serve metrics:\n%s", raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// counts reads how many TaskRuns the controller signed and failed.
func (p *controllerProcess) counts(tb testing.TB) (signed, failed int) {
	signed, failed, _ = p.metricValues(tb)
	return signed, failed
}

// metricValues reads how many TaskRuns the controller signed and failed,
// and how many it signs at once now (0 from a build without the metric).
func (p *controllerProcess) metricValues(tb testing.TB) (signed, failed int, limit float64) {
	tb.Helper()
	resp, err := http.Get(p.metrics)
	if err != nil {
		tb.Fatalf("reading the controller's metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "hallmark_factory_signing_limit "); ok {
			limit, _ = strconv.ParseFloat(v, 64)
			continue
		}
		if !strings.HasPrefix(line, "hallmark_factory_runs_total{") || !strings.Contains(line, `kind="TaskRun"`) {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		switch {
		case strings.Contains(line, `outcome="signed"`):
			signed = int(v)
		case strings.Contains(line, `outcome="failed"`):
			failed = int(v)
		}
	}
	return signed, failed, limit
}

// procMiB reads a memory field (VmRSS, VmHWM) of a process, in MiB.
func procMiB(pid int, field string) float64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// childPIDs lists this process's children named name (envtest starts
// kube-apiserver and etcd as such).
func childPIDs(name string) []int {
	var out []int
	for _, c := range children() {
		if c.name == name {
			out = append(out, c.pid)
		}
	}
	return out
}
