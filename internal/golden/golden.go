// Package golden compares test output with files under testdata/, and
// rewrites them when the test binary runs with -update.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check fails tb unless got equals testdata/name byte for byte. With
// -update it writes got there first.
func Check(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (run go test with -update if the change is intended)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// JSON is Check for a JSON document, compared indented by two spaces with
// a final newline.
func JSON(tb testing.TB, name string, raw []byte) {
	tb.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		tb.Fatalf("indenting output: %v", err)
	}
	pretty.WriteByte('\n')
	Check(tb, name, pretty.Bytes())
}
