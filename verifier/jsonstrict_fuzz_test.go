package verifier

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// FuzzFoldedKeys holds foldedKeys, which compares keys by a hash of their
// foldKey first, to the plain rule: a key is refused when an earlier one
// has the same foldKey, and foldHash is the hash of foldKey. The input is
// keys separated by NUL bytes, past the scanned list and into the counts.
func FuzzFoldedKeys(f *testing.F) {
	for _, s := range []string{"a\x00A", "key\x00ſ\x00s", "\u212a\x00k", "a\x00b\x00c", strings.Repeat("x\x00", 20) + "X", "\xff\x00\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fk foldedKeys
		seen := map[string]string{}
		for i, key := range strings.Split(s, "\x00") {
			h := fnv.New64a()
			h.Write([]byte(foldKey(key)))
			if got, want := foldHash(key), h.Sum64(); got != want {
				t.Fatalf("foldHash(%q) = %x, the hash of foldKey %x", key, got, want)
			}
			other, dup := fk.add(key)
			wantOther, wantDup := seen[foldKey(key)]
			if dup != wantDup || other != wantOther {
				t.Fatalf("key %d %q: add says %q, %v; want %q, %v", i, key, other, dup, wantOther, wantDup)
			}
			if !dup {
				seen[foldKey(key)] = key
			}
		}
	})
}
