// Package resulttest checks outputs against the results' JSON Schemas,
// docs/attest-result.schema.json and docs/verify-result.schema.json.
package resulttest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The schemas' file names under docs/.
const (
	AttestSchema = "attest-result.schema.json"
	VerifySchema = "verify-result.schema.json"
)

var (
	mu       sync.Mutex
	compiled = map[string]*jsonschema.Schema{}
)

// Schema compiles docs/name, once per test binary. name may end in a
// fragment naming a part of the schema, such as "#/$defs/verdict".
func Schema(tb testing.TB, name string) *jsonschema.Schema {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if s, ok := compiled[name]; ok {
		return s
	}
	file, _, _ := strings.Cut(name, "#")
	_, src, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("resulttest: cannot find its own source file")
	}
	path := filepath.Join(filepath.Dir(src), "..", "..", "..", "docs", file)
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(file, doc); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	compiled[name] = s
	return s
}

// Check fails tb unless data is one JSON document that docs/name's schema
// accepts.
func Check(tb testing.TB, name string, data []byte) {
	tb.Helper()
	if err := Validate(tb, name, data); err != nil {
		tb.Errorf("output does not follow docs/%s: %v\n%s", name, err, data)
	}
}

// Validate reports whether data is one JSON document that docs/name's
// schema accepts.
func Validate(tb testing.TB, name string, data []byte) error {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return Schema(tb, name).Validate(inst)
}
