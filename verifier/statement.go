package verifier

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Statement and predicate type URIs this package understands.
const (
	StatementTypeV1   = "https://in-toto.io/Statement/v1"
	StatementTypeV01  = "https://in-toto.io/Statement/v0.1"
	PredicateSLSAv1   = "https://slsa.dev/provenance/v1"
	PredicateSLSAv02  = "https://slsa.dev/provenance/v0.2"
	PayloadTypeInToto = "application/vnd.in-toto+json"
)

// statement is the view of an in-toto statement the checks read. It is
// decoded from the signed payload bytes, never from a re-encoding.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`

	v1  *predicateV1
	v02 *predicateV02
	// raw is the whole statement as generic JSON, for CEL and inputs.
	raw map[string]any
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type resourceDescriptor struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
	Name   string            `json:"name"`
}

// predicateV1 is SLSA provenance v1.0.
type predicateV1 struct {
	BuildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   map[string]any       `json:"externalParameters"`
		InternalParameters   map[string]any       `json:"internalParameters"`
		ResolvedDependencies []resourceDescriptor `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata struct {
			InvocationID string `json:"invocationId"`
			StartedOn    string `json:"startedOn"`
			FinishedOn   string `json:"finishedOn"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

// predicateV02 is SLSA provenance v0.2, as slsa-github-generator and the npm
// CLI still emit it.
type predicateV02 struct {
	Builder struct {
		ID string `json:"id"`
	} `json:"builder"`
	BuildType  string `json:"buildType"`
	Invocation struct {
		ConfigSource struct {
			URI        string            `json:"uri"`
			Digest     map[string]string `json:"digest"`
			EntryPoint string            `json:"entryPoint"`
		} `json:"configSource"`
		Parameters  map[string]any `json:"parameters"`
		Environment map[string]any `json:"environment"`
	} `json:"invocation"`
	Metadata struct {
		BuildInvocationID  string `json:"buildInvocationID"`
		BuildInvocationId2 string `json:"buildInvocationId"`
		BuildStartedOn     string `json:"buildStartedOn"`
		BuildFinishedOn    string `json:"buildFinishedOn"`
	} `json:"metadata"`
	Materials []resourceDescriptor `json:"materials"`
}

// invocationID returns the build invocation id under either spelling.
func (p *predicateV02) invocationID() string {
	if p.Metadata.BuildInvocationID != "" {
		return p.Metadata.BuildInvocationID
	}
	return p.Metadata.BuildInvocationId2
}

// parseStatement decodes an in-toto statement and, for the SLSA predicate
// types, its predicate. It enforces the subject limit before anything else
// is decoded.
func parseStatement(payload []byte, maxSubjects int) (*statement, error) {
	var st statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("decoding statement: %w: %w", ErrMalformed, err)
	}
	if st.Type != StatementTypeV1 && st.Type != StatementTypeV01 {
		return nil, fmt.Errorf("statement _type %q: %w", st.Type, ErrMalformed)
	}
	if len(st.Subject) == 0 {
		return nil, fmt.Errorf("statement has no subject: %w", ErrMalformed)
	}
	if len(st.Subject) > maxSubjects {
		return nil, fmt.Errorf("%d subjects, limit %d: %w", len(st.Subject), maxSubjects, ErrTooManySubjects)
	}
	if st.PredicateType == "" {
		return nil, fmt.Errorf("statement has no predicateType: %w", ErrMalformed)
	}
	if err := decodeJSONNumbers(payload, &st.raw); err != nil {
		return nil, fmt.Errorf("decoding statement: %w: %w", ErrMalformed, err)
	}
	switch st.PredicateType {
	case PredicateSLSAv1:
		st.v1 = new(predicateV1)
		if err := decodeJSONNumbers(st.Predicate, st.v1); err != nil {
			return nil, fmt.Errorf("decoding SLSA v1 predicate: %w: %w", ErrMalformed, err)
		}
	case PredicateSLSAv02:
		st.v02 = new(predicateV02)
		if err := decodeJSONNumbers(st.Predicate, st.v02); err != nil {
			return nil, fmt.Errorf("decoding SLSA v0.2 predicate: %w: %w", ErrMalformed, err)
		}
	}
	return &st, nil
}

// decodeJSONNumbers decodes JSON into generic values, keeping numbers as
// json.Number so workflow inputs such as "123" and 123 compare as written.
func decodeJSONNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// builderID returns the provenance's builder.id.
func (st *statement) builderID() string {
	switch {
	case st.v1 != nil:
		return st.v1.RunDetails.Builder.ID
	case st.v02 != nil:
		return st.v02.Builder.ID
	}
	return ""
}

// buildType returns the provenance's buildType.
func (st *statement) buildType() string {
	switch {
	case st.v1 != nil:
		return st.v1.BuildDefinition.BuildType
	case st.v02 != nil:
		return st.v02.BuildType
	}
	return ""
}
