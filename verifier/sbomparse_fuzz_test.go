package verifier

import (
	"fmt"
	"testing"
)

// parseSBOMWhole is ParseSBOM as it reads a document held whole: decode
// it, then readSBOM. ParseSBOM holds one element at a time and must agree.
// shape says the error, if any, is readSBOM's.
func parseSBOMWhole(data []byte) (pt string, shape bool, err error) {
	v, err := decodeStrict(data)
	if err != nil {
		return "", false, fmt.Errorf("decode: %w", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return "", false, fmt.Errorf("not an object: %w", ErrMalformed)
	}
	_, spdx := doc["spdxVersion"]
	_, cdx := doc["bomFormat"]
	switch {
	case spdx && cdx:
		return "", false, fmt.Errorf("both: %w", ErrMalformed)
	case spdx:
		pt = PredicateSPDX
	case cdx:
		pt = PredicateCycloneDX
	default:
		return "", false, fmt.Errorf("neither: %w", ErrMalformed)
	}
	r := &reader{}
	readSBOM(r, doc, pt, "")
	if r.err != nil {
		return "", true, r.err
	}
	return pt, false, nil
}

// FuzzParseSBOMOneElementAtATime: ParseSBOM accepts what decoding the
// document whole and reading it with readSBOM accepts, as the same
// predicate type, and where readSBOM refuses the shape it gives the same
// error.
func FuzzParseSBOMOneElementAtATime(f *testing.F) {
	for _, s := range []string{
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"},"packages":[{"SPDXID":"p","name":"n"},{"SPDXID":"q","name":""}]}`,
		`{"packages":[{"SPDXID":"p"},2],"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"}}`,
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"},"packages":{"a":1}}`,
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"},"packages":[],"packages":[]}`,
		`{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"a","creationInfo":{"created":"x"},"packages":[{"SPDXID":1,"name":"n"}],"components":[3]}`,
		`{"spdxVersion":"SPDX-3.0","packages":[7]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"n"},{"type":"x"}]}`,
		`{"components":[{"type":"library","name":"n"},[1]],"bomFormat":"CycloneDX","specVersion":"1.6","packages":[1]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[[[[]]]]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"type":"library","name":"n","name":"m"}]}`,
		`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[1,`, `[{"packages":[1]}]`, `{"bomFormat":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseSBOM(data)
		want, shape, werr := parseSBOMWhole(data)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("ParseSBOM = %q, %v; whole = %q, %v", got, err, want, werr)
		case got != want:
			t.Fatalf("ParseSBOM = %q, %v; whole = %q, %v", got, err, want, werr)
		case shape && err.Error() != werr.Error():
			// Past decoding and the format, the error is readSBOM's own.
			t.Fatalf("ParseSBOM: %v; whole: %v", err, werr)
		}
	})
}
