package verifier

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecodeStrict holds decodeStrict to encoding/json: what it accepts,
// encoding/json reads to the same values (it may refuse more: duplicate or
// case-folded keys, deep nesting); what encoding/json refuses, it refuses.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":1,"b":[true,false,null,"x\u00e9\ud83d\ude00"]}`, `-0.5e+10`, `"\ud800"`, `{"a":1,"A":2}`, `{"a":1,"a":2}`, ` [1, "two" ,{ }] `} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "adversarial", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeStrict(data)
		var want any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		jerr := dec.Decode(&want)
		if jerr == nil && dec.More() {
			jerr = errTrailing
		}
		if jerr == nil {
			var rest any
			if dec.Decode(&rest) == nil {
				jerr = errTrailing
			}
		}
		if err == nil && jerr != nil {
			t.Fatalf("decodeStrict accepted what encoding/json refuses (%v): %q", jerr, data)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeStrict read %#v, encoding/json %#v", got, want)
		}
	})
}

var errTrailing = jsonTrailing{}

type jsonTrailing struct{}

func (jsonTrailing) Error() string { return "data after the value" }
