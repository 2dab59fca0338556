package scanner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/sbom/scanner"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
	"github.com/hallmark-dev/hallmark/internal/toolcache/toolcachetest"
)

// benchImage is an image of real Debian files of this machine, laid out
// as a Debian base image is: every file of the packages a minimal Debian
// holds (Priority: required or Essential: yes; on Debian 12, 35 packages
// and about 75 MB, the size of debian:bookworm-slim), their dpkg database
// stanzas and file lists, and os-release; plus an application layer's
// worth: a Go binary (hallmark, with its modules in its build information)
// and an npm project's lock file.
func benchImage(b *testing.B) map[string]string {
	b.Helper()
	files := map[string]string{
		"/etc/os-release":            "/etc/os-release",
		"/usr/local/bin/hallmark":    sandboxtest.Binary(b),
		"/srv/web/package.json":      filepath.Join("..", "..", "toolcache", "sigstorejs", "package.json"),
		"/srv/web/package-lock.json": filepath.Join("..", "..", "toolcache", "sigstorejs", "package-lock.json"),
	}
	data, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		b.Fatalf("this benchmark builds its image from a Debian system's packages: %v", err)
	}
	var status bytes.Buffer
	for _, stanza := range strings.Split(string(data), "\n\n") {
		field := func(name string) string {
			for _, line := range strings.Split(stanza, "\n") {
				if v, ok := strings.CutPrefix(line, name+": "); ok {
					return v
				}
			}
			return ""
		}
		if field("Priority") != "required" && field("Essential") != "yes" {
			continue
		}
		status.WriteString(strings.TrimSpace(stanza) + "\n\n")
		pkg, arch := field("Package"), field("Architecture")
		for _, list := range []string{pkg + ".list", pkg + ":" + arch + ".list", pkg + ".md5sums", pkg + ":" + arch + ".md5sums"} {
			path := filepath.Join("/var/lib/dpkg/info", list)
			content, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			files[path] = path
			if !strings.HasSuffix(list, ".list") {
				continue
			}
			for _, f := range strings.Split(string(content), "\n") {
				if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o004 != 0 {
					files[f] = f
				}
			}
		}
	}
	statusPath := filepath.Join(b.TempDir(), "status")
	if err := os.WriteFile(statusPath, status.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	files["/var/lib/dpkg/status"] = statusPath
	return files
}

// BenchmarkImageSBOM makes the SPDX SBOM of one image, in its registry,
// with hallmark-sbom and with the syft CLI of the same version, one after
// the other in each round, and reports both and their ratio
// (hallmark-sbom/syft: below 1 is faster). In-process is Scan alone,
// without a process start.
//
//	scripts/bench-sbom.sh
func BenchmarkImageSBOM(b *testing.B) {
	if testing.Short() {
		b.Skip("builds hallmark-sbom and syft")
	}
	gen := sandboxtest.SBOMGenerator(b)
	syft := toolcachetest.Tool(b, toolcache.Syft)
	reg := ocitest.Referrers(b)
	files := benchImage(b)
	var size int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	img := reg.Write(b, "bench/app", "v1", ocitest.FilesImage(b, files))
	env := append(os.Environ(), "SYFT_CHECK_FOR_APP_UPDATE=false", "SYFT_REGISTRY_INSECURE_USE_HTTP=true")
	run := func(name string, args ...string) (time.Duration, []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		return took, out
	}
	count := func(out []byte) int {
		var doc struct {
			Packages []json.RawMessage `json:"packages"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			b.Fatal(err)
		}
		return len(doc.Packages)
	}
	var ours, theirs, inproc time.Duration
	var oursN, theirsN int
	b.ResetTimer()
	for b.Loop() {
		t, out := run(gen, "scan", "--format", "spdx", "--allow-insecure-registry", "--image", img.String())
		ours, oursN = ours+t, count(out)
		t, out = run(syft, "scan", "registry:"+img.String(), "-o", "spdx-json", "-q")
		theirs, theirsN = theirs+t, count(out)
		start := time.Now()
		if err := scanner.Scan(context.Background(), &bytes.Buffer{}, sbom.Target{Image: img.String()}, sbom.SPDX,
			scanner.Options{Registry: []oci.Option{oci.WithInsecureRegistry(true)}}); err != nil {
			b.Fatal(err)
		}
		inproc += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ours.Milliseconds())/n, "hallmark-sbom-ms/op")
	b.ReportMetric(float64(theirs.Milliseconds())/n, "syft-ms/op")
	b.ReportMetric(float64(inproc.Milliseconds())/n, "in-process-ms/op")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
	b.ReportMetric(float64(oursN), "hallmark-sbom-packages")
	b.ReportMetric(float64(theirsN), "syft-packages")
	b.ReportMetric(float64(len(files)), "image-files")
	b.ReportMetric(float64(size)/1e6, "image-MB")
}
