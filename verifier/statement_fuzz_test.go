package verifier

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
)

// FuzzParseStatement: the payload parser never panics on hostile
// statements, honours the subject limit, and the accessors used by the
// checks are safe on whatever it returns.
func FuzzParseStatement(f *testing.F) {
	for _, name := range RealFixtures() {
		data, err := os.ReadFile(RealFixture(name))
		if err != nil {
			continue
		}
		var b struct {
			DsseEnvelope struct {
				Payload string `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		if json.Unmarshal(data, &b) == nil {
			if p, err := base64.StdEncoding.DecodeString(b.DsseEnvelope.Payload); err == nil {
				f.Add(p)
			}
		}
	}
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		st, err := parseStatement(payload, 4, []string{PredicateSLSAv1, PredicateSLSAv02, PredicateVSA})
		if err != nil {
			return
		}
		if len(st.Subject) == 0 || len(st.Subject) > 4 {
			t.Fatalf("%d subjects escaped the limit", len(st.Subject))
		}
		for _, s := range []*signer{{kind: signerGitHub}, {kind: signerSVID}} {
			_ = st.builderID()
			_ = st.buildType()
			_, _ = crossCheck(st, s)
			_, _ = workflowInputs(st, &s.cert)
			_ = baseRefForTag(st)
			_ = st.celValue()
			if _, err := st.proto(); err != nil {
				t.Fatalf("a parsed statement does not convert: %v", err)
			}
			p := DefaultPolicy()
			p.WorkflowInputs = map[string]string{"a": "b"}
			if err := p.compile(); err != nil {
				t.Fatal(err)
			}
			_ = p.checkExternalParameters(st, s, nil)
		}
	})
}
