package verifier

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseGCBStatement: the checks after Cloud Build's signature never
// panic on a hostile payload of either predicate type, whatever the
// expectations. The fuzzer cannot sign, so it reaches these checks here
// rather than through GCBVerifier.Verify.
func FuzzParseGCBStatement(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "gcb", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var doc struct {
			P struct {
				P []struct {
					Envelope struct {
						Payload string `json:"payload"`
					} `json:"envelope"`
				} `json:"provenance"`
			} `json:"provenance_summary"`
		}
		if json.Unmarshal(data, &doc) != nil {
			continue
		}
		for _, e := range doc.P.P {
			if b, err := base64.StdEncoding.DecodeString(e.Envelope.Payload); err == nil {
				f.Add(b)
			}
		}
	}
	keyData, err := os.ReadFile(filepath.Join("..", "testdata", "realworld", "keys", "gcb", "global.key"))
	if err != nil {
		f.Fatal(err)
	}
	keys, err := LoadGCBKeys(map[string][]byte{"global.key": keyData})
	if err != nil {
		f.Fatal(err)
	}
	p, err := DefaultPolicyWith(Flags{Source: "github.com/a/b", SourceVersionedTag: "v1", BuilderID: GCBBuilderID})
	if err != nil {
		f.Fatal(err)
	}
	p.ExternalParameters = map[string]any{"a": "b"}
	p.StrictExternalParameters = true
	v, err := NewGCB(keys, p)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, pt := range []string{PredicateSLSAv01, PredicateSLSAv1} {
			st, v01, err := parseGCBStatement(payload, 4, pt)
			if err != nil {
				continue
			}
			if len(st.Subject) == 0 || len(st.Subject) > 4 {
				t.Fatalf("%d subjects escaped the limit", len(st.Subject))
			}
			if (pt == PredicateSLSAv01) != (v01 != nil) || (pt == PredicateSLSAv1) != (st.v1 != nil) {
				t.Fatalf("predicate %s read as v0.1 %v, v1 %v", pt, v01 != nil, st.v1 != nil)
			}
			e := &gcbEntry{}
			_ = gcbTextMatches(e, st.doc, pt)
			r := &gcbRun{v: v, p: &GCBProvenance{}, e: e, st: st, v01: v01, keyID: "k"}
			_ = r.checkBuilder()
			_ = r.checkSource()
			_ = r.checkRef()
			_ = r.checkBuildTypes()
			_ = r.checkExternalParameters()
			if _, err := r.result(); err != nil {
				t.Fatalf("a parsed statement does not convert: %v", err)
			}
		}
	})
}
