package factory_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
)

// The benchmarks' accounting: CPU seconds of each process the benchmark
// runs (from /proc/PID/stat), the apiserver's requests by verb and
// resource (from its /metrics), and the Rekor v2 log's size, so that a run
// signed twice shows up as an extra entry.

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// cpuSeconds is the user+system CPU time of a process so far.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the comm: state(0) ppid(1) ... utime(11) stime(12).
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks
}

// processCPU is the CPU time of this process and of each child, by name.
func processCPU() map[string]float64 {
	out := map[string]float64{"test-process": cpuSeconds(os.Getpid())}
	for _, c := range children() {
		out[c.name] += cpuSeconds(c.pid)
	}
	return out
}

// child is a process this one started: its pid and command name.
type child struct {
	pid  int
	name string
}

// children lists this process's children, from /proc/PID/stat.
func children() []child {
	var out []child
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
		if fields := strings.Fields(s[close+1:]); len(fields) > 1 && fields[1] == me {
			out = append(out, child{pid: pid, name: s[open+1 : close]})
		}
	}
	return out
}

// reportCPU reports the CPU milliseconds per run each process spent
// between two processCPU readings.
func reportCPU(b *testing.B, before, after map[string]float64, n int) {
	b.Helper()
	names := make([]string, 0, len(after))
	for name := range after {
		names = append(names, name)
	}
	sort.Strings(names)
	total := 0.0
	for _, name := range names {
		d := after[name] - before[name]
		if d <= 0 {
			continue
		}
		total += d
		b.ReportMetric(d*1000/float64(n), "CPU-ms/run:"+name)
	}
	b.ReportMetric(total*1000/float64(n), "CPU-ms/run:all")
}

// apiserverRequests reads apiserver_request_total, summed by verb and
// resource (subresource after a slash).
func apiserverRequests(tb testing.TB, cfg *rest.Config) map[string]float64 {
	tb.Helper()
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := c.Get(strings.TrimSuffix(cfg.Host, "/") + "/metrics")
	if err != nil {
		tb.Fatalf("reading the apiserver's metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("reading the apiserver's metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := line[strings.IndexByte(line, '{')+1 : strings.LastIndexByte(line, '}')]
		l := map[string]string{}
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			l[k] = strings.Trim(v, `"`)
		}
		key := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		out[key] += v
	}
	return out
}

// reportRequests reports the apiserver requests per run, by verb and
// resource, that came between two apiserverRequests readings.
func reportRequests(b *testing.B, before, after map[string]float64, n int) {
	b.Helper()
	total := 0.0
	for k, v := range after {
		d := v - before[k]
		if d < float64(n)/100 {
			continue // leader election, metrics scrapes
		}
		total += d
		b.ReportMetric(d/float64(n), "requests/run:"+strings.ReplaceAll(k, " ", ":"))
	}
	b.ReportMetric(total/float64(n), "requests/run:all")
}

// logSize reads the size of the sandbox's Rekor v2 log from the checkpoint
// in its tile storage.
func logSize(tb testing.TB, sandboxDir string) int64 {
	tb.Helper()
	body, err := os.ReadFile(filepath.Join(sandboxDir, "rekor", "tiles", "checkpoint"))
	if err != nil {
		tb.Fatalf("reading the log's checkpoint: %v", err)
	}
	// origin \n size \n root hash \n ...
	lines := bytes.SplitN(body, []byte("\n"), 3)
	if len(lines) < 2 {
		tb.Fatalf("the log's checkpoint is not a checkpoint: %q", body)
	}
	size, err := strconv.ParseInt(string(lines[1]), 10, 64)
	if err != nil {
		tb.Fatalf("the log's checkpoint size %q: %v", lines[1], err)
	}
	return size
}

// profile, with $HALLMARK_BENCH_PROFILE set to a folder, takes CPU
// profiles of the apiserver and the controller over the benchmark's first
// 20 seconds into it (apiserver.pprof, controller.pprof); the returned
// function waits for them and takes their heap profiles (*.heap).
func profile(tb testing.TB, w *world, ctl *controllerProcess) func() {
	tb.Helper()
	dir := os.Getenv("HALLMARK_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	apiClient, err := rest.HTTPClientFor(w.api.Config)
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	get := func(c *http.Client, url, file string) {
		defer wg.Done()
		resp, err := c.Get(url)
		if err != nil {
			tb.Errorf("profiling: %v", err)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, file), raw, 0o644)
		}
		if err != nil {
			tb.Errorf("profiling: %v", err)
		}
	}
	wg.Add(2)
	go get(apiClient, strings.TrimSuffix(w.api.Config.Host, "/")+"/debug/pprof/profile?seconds=20", "apiserver.pprof")
	go get(http.DefaultClient, ctl.pprof+"profile?seconds=20", "controller.pprof")
	return func() {
		wg.Wait()
		wg.Add(2)
		get(apiClient, strings.TrimSuffix(w.api.Config.Host, "/")+"/debug/pprof/heap", "apiserver.heap")
		get(http.DefaultClient, ctl.pprof+"heap", "controller.heap")
	}
}
