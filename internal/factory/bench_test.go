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

	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
func BenchmarkThousandTaskRuns(b *testing.B) { benchRuns(b, 1000) }

// BenchmarkTenThousandTaskRuns is the same with 10,000 runs (several
// minutes; run it by hand). It also reports the controller's RSS as the
// signed runs accumulate: a quarter, half, three quarters and all signed.
//
//	go test ./internal/factory -run '^$' -bench TenThousandTaskRuns -benchtime 1x -timeout 60m
func BenchmarkTenThousandTaskRuns(b *testing.B) { benchRuns(b, 10000) }

func benchRuns(b *testing.B, n int) {
	for range b.N {
		benchOnce(b, n)
	}
}

func benchOnce(b *testing.B, n int) {
	w := setupTB(b)
	ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	w.api.Namespace(b, ns)
	policy := w.policy(b, ns, testPolicy(ns))
	ctl := startControllerProcess(b, w, ns, policy.String())

	runs := make([]*pipelinev1.TaskRun, n)
	for i := range runs {
		tr := factorytest.TaskRun(ns, fmt.Sprintf("build-%05d", i))
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
	created := time.Since(start)
	runs = nil

	// Progress from the controller's own metrics, so that polling does not
	// load the apiserver; its RSS at each quarter.
	quarters := map[int]float64{}
	for {
		signed, failed := ctl.counts(b)
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
	b.ReportMetric(created.Seconds(), "s-to-create")
	b.ReportMetric(procMiB(ctl.pid, "VmHWM"), "controller-peak-RSS-MiB")
	if n >= 10000 {
		for q := 1; q <= 4; q++ {
			b.ReportMetric(quarters[q], fmt.Sprintf("controller-RSS-MiB-at-%d%%", 25*q))
		}
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		for _, pid := range childPIDs(name) {
			b.ReportMetric(procMiB(pid, "VmHWM"), name+"-peak-RSS-MiB")
		}
	}
}

// controllerProcess is the hallmark-factory binary running for a test.
type controllerProcess struct {
	pid     int
	metrics string // http://ADDR/metrics
	log     string
}

// startControllerProcess builds cmd/hallmark-factory and runs it on
// namespace ns with the world's SPIRE agent and sandbox, until tb ends.
// $HALLMARK_BENCH_BINARY runs another build instead (to compare).
func startControllerProcess(tb testing.TB, w *world, ns, policy string) *controllerProcess {
	tb.Helper()
	dir := tb.TempDir()
	bin := os.Getenv("HALLMARK_BENCH_BINARY")
	if bin == "" {
		bin = filepath.Join(dir, "hallmark-factory")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/hallmark-factory").CombinedOutput()
		if err != nil {
			tb.Fatalf("building hallmark-factory: %v\n%s", err, out)
		}
	}
	sb := sandboxtest.Start(tb)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &controllerProcess{metrics: "http://" + addr + "/metrics", log: filepath.Join(dir, "controller.log")}
	logFile, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	defer logFile.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--workload-api="+w.agent.Addr(), "--spiffe-id="+factoryID,
		"--signing-config="+sb.SigningConfigPath(), "--tenancy-policy="+policy,
		"--namespaces="+ns, "--workers=64", "--store-oci=false",
		"--metrics-bind-address="+addr, "--health-probe-bind-address=0", "--log-level=warn")
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

// counts reads how many TaskRuns the controller signed and failed.
func (p *controllerProcess) counts(tb testing.TB) (signed, failed int) {
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
	return signed, failed
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
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if s[open+1:close] == name && len(fields) > 1 && fields[1] == me {
			out = append(out, pid)
		}
	}
	return out
}
