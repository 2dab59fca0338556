package result_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/result/resulttest"
	"github.com/hallmark-dev/hallmark/verifier"
)

var hex64 = strings.Repeat("ab", 32)

func TestAttestSchema(t *testing.T) {
	idx := int64(7)
	r := result.Attest{
		BuilderID: "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1",
		Bundles: []result.Bundle{{Path: "app.sigstore.json", Subjects: []result.Subject{{Name: "app", Digest: map[string]string{"sha256": hex64}}},
			Identity: "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1", Issuer: "https://token.actions.githubusercontent.com",
			LogIndex: &idx, LogURL: "https://log.example", Timestamped: true}},
		Pushes: []result.Push{{Image: "ghcr.io/acme/app@sha256:" + hex64, Bundle: "app.sigstore.json", Manifest: "sha256:" + hex64, Via: "referrers API"}},
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	resulttest.Check(t, resulttest.AttestSchema, data)
	for name, bad := range map[string]string{
		"no builder":          `{"bundles":[]}`,
		"unknown member":      `{"builderID":"b","bundles":[],"extra":1}`,
		"uppercase digest":    `{"builderID":"b","bundles":[{"path":"p","subjects":[{"name":"a","digest":{"sha256":"` + strings.ToUpper(hex64) + `"}}],"certificateIdentity":"i","certificateIssuer":"s","timestamped":false}]}`,
		"bundle without path": `{"builderID":"b","bundles":[{"subjects":[{"name":"a","digest":{"sha256":"` + hex64 + `"}}],"certificateIdentity":"i","certificateIssuer":"s","timestamped":false}]}`,
	} {
		if resulttest.Validate(t, resulttest.AttestSchema, []byte(bad)) == nil {
			t.Errorf("%s: the schema accepts %s", name, bad)
		}
	}
	checkFields(t, resulttest.AttestSchema, reflect.TypeFor[result.Attest](), "")
	checkFields(t, resulttest.AttestSchema, reflect.TypeFor[result.Bundle](), "bundle")
	checkFields(t, resulttest.AttestSchema, reflect.TypeFor[result.Subject](), "subject")
	checkFields(t, resulttest.AttestSchema, reflect.TypeFor[result.Push](), "push")
}

func TestVerifySchema(t *testing.T) {
	passed := result.Verdict{Artifact: "app", Digest: "sha256:" + hex64, Passed: true, Level: 3, BuilderID: "b", Source: "https://github.com/acme/app",
		Timestamps: []verifier.Timestamp{{Kind: "TimestampAuthority", URI: "https://tsa.example", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}}
	failed := result.NewVerdict("other", verifier.Digest{Algorithm: "sha256", Hex: hex64}, nil,
		&verifier.CheckError{Check: verifier.CheckSource, Want: "github.com/acme/app", Got: "github.com/evil/app", Err: errors.New("source mismatch")})
	st := []json.RawMessage{json.RawMessage(`{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"https://slsa.dev/provenance/v1"}`)}
	for name, r := range map[string]result.Verify{
		"passed":                            {Passed: true, Verdicts: []result.Verdict{passed}, Provenance: &st},
		"one failed":                        {Passed: false, Verdicts: []result.Verdict{passed, failed}},
		"none passed, provenance asked for": {Passed: false, Verdicts: []result.Verdict{failed}, Provenance: new([]json.RawMessage)},
	} {
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := resulttest.Validate(t, resulttest.VerifySchema, data); err != nil {
			t.Errorf("%s: %v\n%s", name, err, data)
		}
	}
	if failed.Failure == nil || failed.Failure.Check != "source" || failed.Failure.Want != "github.com/acme/app" {
		t.Errorf("NewVerdict of a check error: failure %+v", failed.Failure)
	}
	for name, bad := range map[string]string{
		"failed without failure":   `{"passed":false,"verdicts":[{"artifact":"a","digest":"sha256:` + hex64 + `","passed":false}]}`,
		"passed with failure":      `{"passed":true,"verdicts":[{"artifact":"a","digest":"sha256:` + hex64 + `","passed":true,"failure":{"check":"x","message":"m"}}]}`,
		"digest without algorithm": `{"passed":true,"verdicts":[{"artifact":"a","digest":"` + hex64 + `","passed":true}]}`,
		"no verdicts":              `{"passed":true,"verdicts":[]}`,
		"bad time":                 `{"passed":true,"verdicts":[{"artifact":"a","digest":"sha256:` + hex64 + `","passed":true,"timestamps":[{"Kind":"Tlog","URI":"u","Time":"yesterday"}]}]}`,
	} {
		if resulttest.Validate(t, resulttest.VerifySchema, []byte(bad)) == nil {
			t.Errorf("%s: the schema accepts %s", name, bad)
		}
	}
	checkFields(t, resulttest.VerifySchema, reflect.TypeFor[result.Verify](), "")
	checkFields(t, resulttest.VerifySchema, reflect.TypeFor[result.Verdict](), "verdict")
	checkFields(t, resulttest.VerifySchema, reflect.TypeFor[result.Failure](), "failure")
}

// checkFields keeps a type and its schema in step: the schema's
// properties for def (the top level when empty) are exactly the type's
// JSON members, and it refuses others.
func checkFields(t *testing.T, schemaName string, typ reflect.Type, def string) {
	t.Helper()
	var members []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "-" && f.IsExported() {
			members = append(members, name)
		}
	}
	loc := schemaName
	if def != "" {
		loc += "#/$defs/" + def
	}
	s := resulttest.Schema(t, loc)
	props := slices.Sorted(func(yield func(string) bool) {
		for k := range s.Properties {
			if !yield(k) {
				return
			}
		}
	})
	if slices.Sort(members); !slices.Equal(props, members) {
		t.Errorf("%s %s: schema properties %v, %s's JSON members %v", schemaName, def, props, typ, members)
	}
	if b, ok := s.AdditionalProperties.(bool); !ok || b {
		t.Errorf("%s %s: other members are not refused (additionalProperties: false)", schemaName, def)
	}
}
