package provenance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// MarshalStatement encodes s as compact JSON with object keys sorted, the
// same bytes for the same statement on every run and every machine. (The
// protobuf JSON encoder deliberately varies its whitespace between builds;
// this re-encodes its output so signatures cover stable bytes.) HTML
// characters are not escaped, and numbers keep the form the protobuf
// encoder gave them.
func MarshalStatement(s *v1.Statement) ([]byte, error) {
	if s == nil {
		return nil, errors.New("marshalling statement: nil statement")
	}
	raw, err := protojson.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("marshalling statement: %w", err)
	}
	return canonicalJSON(raw)
}

// canonicalJSON re-encodes a JSON document compactly with sorted keys.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("re-encoding statement: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("re-encoding statement: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
