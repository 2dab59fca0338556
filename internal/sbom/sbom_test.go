package sbom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/verifier"
)

const spdxDoc = `{
  "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "app <&>",
  "creationInfo": {"created": "2025-01-01T00:00:00Z"},
  "packages": [{"SPDXID": "SPDXRef-p", "name": "zlib"}]
}`

func TestStatement(t *testing.T) {
	doc, err := sbom.Read(strings.NewReader(spdxDoc), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	subjects := []subject.Subject{
		{Name: "dist/app <1>", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}},
		{Name: "dist/b", Digest: map[string]string{"sha256": strings.Repeat("b", 64), "sha512": strings.Repeat("c", 128)}},
	}
	payload, err := sbom.Statement(subjects, doc)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type          string           `json:"_type"`
		PredicateType string           `json:"predicateType"`
		Subject       []map[string]any `json:"subject"`
		Predicate     json.RawMessage  `json:"predicate"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("%v\n%s", err, payload)
	}
	if st.Type != sbom.StatementType || st.PredicateType != verifier.PredicateSPDX || len(st.Subject) != 2 || st.Subject[0]["name"] != "dist/app <1>" {
		t.Fatalf("statement = %s", payload)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(spdxDoc)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.Predicate, compact.Bytes()) {
		t.Fatalf("predicate %s, want the document compacted %s", st.Predicate, compact.Bytes())
	}
	if _, err := sbom.Statement(nil, doc); err == nil {
		t.Fatal("a statement about nothing")
	}
}

func TestRead(t *testing.T) {
	if _, err := sbom.Read(strings.NewReader(spdxDoc), 10); !errors.Is(err, sbom.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, err := sbom.Read(strings.NewReader(`{"name":"x"}`), 1<<20); !errors.Is(err, verifier.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	doc, err := sbom.Read(strings.NewReader(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`), 1<<20)
	if err != nil || doc.Format != sbom.CycloneDX {
		t.Fatalf("Read = %+v, %v", doc, err)
	}
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]sbom.Format{"spdx": sbom.SPDX, "spdx-json": sbom.SPDX, "cyclonedx": sbom.CycloneDX, "cyclonedx-json": sbom.CycloneDX} {
		if got, err := sbom.ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := sbom.ParseFormat("swid"); err == nil {
		t.Error("swid accepted")
	}
	if f, ok := sbom.FormatOf(verifier.PredicateCycloneDX); !ok || f != sbom.CycloneDX || f.PredicateType() != verifier.PredicateCycloneDX {
		t.Errorf("FormatOf = %q, %v", f, ok)
	}
}

// script writes an executable shell script standing in for the generator.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hallmark-sbom")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenerator runs stand-ins for hallmark-sbom: what it writes is held
// to the SBOM rules, and its failures come back with its own words.
func TestGenerator(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name    string
		body    string
		max     int64
		wantErr error
		wantMsg string
	}{
		{name: "good", body: "printf '%s' '" + strings.ReplaceAll(spdxDoc, "\n", " ") + "'"},
		{name: "fails", body: "echo 'hallmark-sbom: cataloging x: disk on fire' >&2; exit 1", wantMsg: "disk on fire"},
		{name: "writes no SBOM", body: "echo '{\"name\":\"x\"}'", wantErr: verifier.ErrMalformed},
		{name: "writes another format", body: "echo '{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\"}'", wantMsg: "not spdx"},
		{name: "writes too much", body: "yes '{}' | head -c 100000", max: 1000, wantErr: sbom.ErrTooLarge},
		{name: "args", body: `[ "$1 $2 $3 $4 $5" = "scan --format spdx --path /x" ] || { echo "args: $*" >&2; exit 2; }; printf '%s' '` + strings.ReplaceAll(spdxDoc, "\n", " ") + "'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := sbom.Generator{Path: script(t, tc.body), MaxSize: tc.max}
			doc, err := g.Generate(ctx, sbom.Target{Path: "/x"}, sbom.SPDX)
			if tc.wantErr == nil && tc.wantMsg == "" {
				if err != nil || doc.Format != sbom.SPDX {
					t.Fatalf("Generate = %+v, %v", doc, err)
				}
				return
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
	t.Run("image flags", func(t *testing.T) {
		body := `[ "$*" = "scan --format cyclonedx --image r/a@sha256:x --allow-insecure-registry" ] || { echo "args: $*" >&2; exit 2; }; echo '{"bomFormat":"CycloneDX","specVersion":"1.6"}'`
		g := sbom.Generator{Path: script(t, body), InsecureRegistry: true}
		if _, err := g.Generate(ctx, sbom.Target{Image: "r/a@sha256:x"}, sbom.CycloneDX); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no target", func(t *testing.T) {
		if _, err := (sbom.Generator{Path: "/bin/true"}).Generate(ctx, sbom.Target{}, sbom.SPDX); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestFindGenerator(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := sbom.FindGenerator(); !errors.Is(err, sbom.ErrNoGenerator) {
		t.Fatalf("err = %v, want ErrNoGenerator", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, sbom.GeneratorName)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got, err := sbom.FindGenerator(); err != nil || got != p {
		t.Fatalf("FindGenerator = %q, %v", got, err)
	}
}
