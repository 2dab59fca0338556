package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkStart measures what a hallmark process costs before it does
// anything: `hallmark version` against a Go hello world built by the same
// toolchain, run alternately. It reports each one's CPU time per process
// (user and system, as the kernel counts it for the child: steadier than
// wall time on a shared machine) and their ratio. Run it with -benchtime
// 100x or so; scripts/bench-verify.sh prints the ratio.
func BenchmarkStart(b *testing.B) {
	if testing.Short() {
		b.Skip("builds two binaries")
	}
	dir := b.TempDir()
	hallmark := filepath.Join(dir, "hallmark")
	build(b, ".", "-o", hallmark, ".")
	helloDir := filepath.Join(dir, "hello")
	if err := os.MkdirAll(helloDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, content := range map[string]string{
		"go.mod":  "module hello\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(helloDir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	hello := filepath.Join(dir, "hello-world")
	build(b, helloDir, "-o", hello, ".")

	var hm, hw, hmWall, hwWall time.Duration
	n := 0
	for b.Loop() {
		cpu, wall := runOnce(b, hello)
		hw, hwWall = hw+cpu, hwWall+wall
		cpu, wall = runOnce(b, hallmark, "version")
		hm, hmWall = hm+cpu, hmWall+wall
		n++
	}
	if n == 0 || hw == 0 {
		return
	}
	b.ReportMetric(float64(hm)/float64(n), "hallmark-cpu-ns/op")
	b.ReportMetric(float64(hw)/float64(n), "hello-cpu-ns/op")
	b.ReportMetric(float64(hm)/float64(hw), "cpu-ratio")
	b.ReportMetric(float64(hmWall)/float64(hwWall), "wall-ratio")
}

func build(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// runOnce runs the program and returns the CPU time the kernel counted for
// it and the wall time it took.
func runOnce(b *testing.B, name string, args ...string) (cpu, wall time.Duration) {
	b.Helper()
	cmd := exec.Command(name, args...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	wall = time.Since(start)
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), wall
}
