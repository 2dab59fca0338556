package scanner_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/sbom/scanner"
	"github.com/hallmark-dev/hallmark/verifier"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// names lists an SBOM's package or component names, as the verifier reads
// the document.
func names(t *testing.T, data []byte) []string {
	t.Helper()
	if _, err := sbom.Parse(data); err != nil {
		t.Fatalf("the SBOM does not read: %v", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), `"name":"`)[1:] {
		out = append(out, line[:strings.IndexByte(line, '"')])
	}
	return out
}

func TestScan(t *testing.T) {
	web := filepath.Join("..", "..", "toolcache", "sigstorejs")
	lock := filepath.Join(web, "package-lock.json")
	reg := ocitest.Referrers(t)
	img := reg.Write(t, "scan/app", "v1", ocitest.FilesImage(t, map[string]string{"/srv/web/package-lock.json": lock, "/srv/web/package.json": filepath.Join(web, "package.json")}))
	idx, _ := reg.Index(t, "scan/multi", "v1")
	insecure := scanner.Options{Registry: []oci.Option{oci.WithInsecureRegistry(true)}}
	cases := []struct {
		name   string
		target sbom.Target
		format sbom.Format
		want   string
	}{
		{"directory spdx", sbom.Target{Path: web}, sbom.SPDX, "@sigstore/verify"},
		{"directory cyclonedx", sbom.Target{Path: web}, sbom.CycloneDX, "@sigstore/verify"},
		{"file", sbom.Target{Path: lock}, sbom.SPDX, "@sigstore/verify"},
		// In an image syft reads installed packages (package.json), not
		// lock files.
		{"image", sbom.Target{Image: img.String()}, sbom.CycloneDX, "hallmark-sigstore-js"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := scanner.Scan(context.Background(), &out, tc.target, tc.format, insecure); err != nil {
				t.Fatal(err)
			}
			pt, err := verifier.ParseSBOM(out.Bytes())
			if err != nil || pt != tc.format.PredicateType() {
				t.Fatalf("ParseSBOM = %q, %v", pt, err)
			}
			if got := names(t, out.Bytes()); !slices.Contains(got, tc.want) {
				t.Fatalf("no %s among %v", tc.want, got)
			}
		})
	}
	t.Run("image by tag", func(t *testing.T) {
		err := scanner.Scan(context.Background(), &bytes.Buffer{}, sbom.Target{Image: reg.Repo("scan/app") + ":v1"}, sbom.SPDX, insecure)
		if err == nil || !strings.Contains(err.Error(), "by digest") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("index", func(t *testing.T) {
		err := scanner.Scan(context.Background(), &bytes.Buffer{}, sbom.Target{Image: idx.String()}, sbom.SPDX, insecure)
		if !errors.Is(err, oci.ErrIndex) {
			t.Fatalf("err = %v, want ErrIndex", err)
		}
	})
	t.Run("missing path", func(t *testing.T) {
		if err := scanner.Scan(context.Background(), &bytes.Buffer{}, sbom.Target{Path: filepath.Join(t.TempDir(), "absent")}, sbom.SPDX, insecure); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestRunUsage(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"scan"}, 2},
		{[]string{"scan", "--path", ".", "--image", "x@sha256:" + strings.Repeat("a", 64)}, 2},
		{[]string{"scan", "--format", "swid", "--path", "."}, 2},
		{[]string{"scan", "--path", ".", "extra"}, 2},
		{[]string{"version"}, 0},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		if code := scanner.Run(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
			t.Errorf("%q: exit %d, want %d\n%s", tc.args, code, tc.code, stderr.String())
		}
	}
}
