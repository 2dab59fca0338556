package provenance

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	v1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

const (
	// StatementTypeV1 is the _type of an in-toto Statement v1.
	StatementTypeV1 = v1.StatementTypeUri
	// PredicateSLSAProvenanceV1 is the predicateType of SLSA provenance v1.0.
	PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// PayloadTypeInToto is the DSSE payloadType of an in-toto statement.
	PayloadTypeInToto = "application/vnd.in-toto+json"
	// MaxSubjects is the most subjects [Statement] puts in one statement.
	MaxSubjects = subject.MaxPerStatement
)

// Build holds the facts of one build run, as a front end gathered them. The
// field names follow the SLSA v1.0 provenance predicate; see
// https://slsa.dev/spec/v1.0/provenance.
type Build struct {
	// BuildType is a URI naming the template the parameters follow, such
	// as https://actions.github.io/buildtypes/workflow/v1. Required.
	BuildType string
	// ExternalParameters are the inputs a user controlled. Required and
	// non-empty: a verifier compares them to what it expects.
	ExternalParameters map[string]any
	// InternalParameters are inputs the build platform set. Optional.
	InternalParameters map[string]any
	// ResolvedDependencies are the artifacts the build fetched, the source
	// first. Each URI that is set must be absolute.
	ResolvedDependencies []*v1.ResourceDescriptor
	// BuilderID is the URI of the trusted builder. Required.
	BuilderID string
	// BuilderVersion maps builder components to their versions. Optional.
	BuilderVersion map[string]string
	// BuilderDependencies are the builder's own parts. Optional.
	BuilderDependencies []*v1.ResourceDescriptor
	// InvocationID is a URI naming this run. Optional.
	InvocationID string
	// StartedOn and FinishedOn bound the run; the zero time means unknown
	// and leaves the field out.
	StartedOn, FinishedOn time.Time
	// Byproducts are artifacts produced alongside the subjects, such as
	// logs. Optional.
	Byproducts []*v1.ResourceDescriptor
}

// Context is a source of build facts: a front end such as GitHub mode or
// factory mode.
type Context interface {
	// Build returns the facts of the current build.
	Build(ctx context.Context) (*Build, error)
}

// Statement lays out subjects and b as an in-toto Statement v1 whose
// predicate is SLSA provenance v1.0, and validates it.
//
// Parameters are written as JSON: maps with string keys, slices, strings,
// numbers, booleans and nil are taken as they are; any other value, such as a
// struct, is first encoded with encoding/json.
//
// The statement must have between 1 and [MaxSubjects] subjects
// ([ErrNoSubjects], [ErrTooManySubjects]), none listed twice (one name with
// a digest in common: [ErrDuplicateSubject]), with non-empty UTF-8 names
// ([ErrInvalidSubjectName]), each with at least one digest of an algorithm
// in-toto knows, in lowercase hex of the right length ([ErrInvalidDigest]).
// BuildType, ExternalParameters and BuilderID are required
// ([ErrMissingField]); BuildType, BuilderID and each dependency's URI, where
// set, must be absolute URIs ([ErrInvalidURI]); InvocationID is opaque, as
// SLSA defines it, but has no whitespace or control characters
// ([ErrInvalidInvocationID]). Each failure is a [*FieldError]
// naming the field.
func Statement(subjects []subject.Subject, b *Build) (*v1.Statement, error) {
	if b == nil {
		return nil, fieldErr("predicate", ErrMissingField, "no build facts")
	}
	rds, err := subjectDescriptors(subjects)
	if err != nil {
		return nil, err
	}
	pred, err := predicate(b)
	if err != nil {
		return nil, err
	}
	if err := pred.Validate(); err != nil {
		return nil, fieldErr("predicate", ErrInvalidStatement, "%v", err)
	}
	raw, err := protojson.Marshal(pred)
	if err != nil {
		return nil, fieldErr("predicate", ErrInvalidParameters, "%v", err)
	}
	st := &v1.Statement{
		Type:          StatementTypeV1,
		Subject:       rds,
		PredicateType: PredicateSLSAProvenanceV1,
		Predicate:     &structpb.Struct{},
	}
	if err := protojson.Unmarshal(raw, st.Predicate); err != nil {
		return nil, fieldErr("predicate", ErrInvalidParameters, "%v", err)
	}
	if err := st.Validate(); err != nil {
		return nil, fieldErr("statement", ErrInvalidStatement, "%v", err)
	}
	return st, nil
}

func subjectDescriptors(subjects []subject.Subject) ([]*v1.ResourceDescriptor, error) {
	switch {
	case len(subjects) == 0:
		return nil, fieldErr("subject", ErrNoSubjects, "")
	case len(subjects) > MaxSubjects:
		return nil, fieldErr("subject", ErrTooManySubjects,
			"%d, want at most %d: split them with subject.Split", len(subjects), MaxSubjects)
	}
	seen := make(map[string]int, len(subjects))
	rds := make([]*v1.ResourceDescriptor, len(subjects))
	for i, s := range subjects {
		field := fmt.Sprintf("subject[%d]", i)
		switch {
		case s.Name == "":
			return nil, fieldErr(field+".name", ErrInvalidSubjectName, "empty")
		case !utf8.ValidString(s.Name):
			return nil, fieldErr(field+".name", ErrInvalidSubjectName, "%q is not valid UTF-8", s.Name)
		}
		for _, alg := range slices.Sorted(maps.Keys(s.Digest)) {
			hex := s.Digest[alg]
			key := s.Name + "\x00" + alg + ":" + hex
			if j, ok := seen[key]; ok {
				return nil, fieldErr(field, ErrDuplicateSubject, "%q with %s:%s is also subject[%d]", s.Name, alg, hex, j)
			}
			seen[key] = i
		}
		if len(s.Digest) == 0 {
			return nil, fieldErr(field+".digest", ErrInvalidDigest, "no digest")
		}
		for _, alg := range slices.Sorted(maps.Keys(s.Digest)) {
			if err := checkDigest(alg, s.Digest[alg]); err != nil {
				return nil, fieldErr(field+".digest."+alg, ErrInvalidDigest, "%v", err)
			}
		}
		rds[i] = &v1.ResourceDescriptor{Name: s.Name, Digest: maps.Clone(s.Digest)}
	}
	return rds, nil
}

// checkDigest accepts an algorithm in-toto knows with a lowercase hex value of
// its length.
func checkDigest(alg, hex string) error {
	known, ok := v1.HashAlgorithms[alg]
	if !ok {
		return fmt.Errorf("unknown algorithm %q", alg)
	}
	want := 2 * known.HexLength() // HexLength counts bytes
	if len(hex) != want {
		return fmt.Errorf("%d hex digits, want %d", len(hex), want)
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%q at offset %d is not a lowercase hex digit", c, i)
		}
	}
	return nil
}

func predicate(b *Build) (*slsa.Provenance, error) {
	if b.BuildType == "" {
		return nil, fieldErr("buildDefinition.buildType", ErrMissingField, "")
	}
	if err := checkURI("buildDefinition.buildType", b.BuildType); err != nil {
		return nil, err
	}
	if len(b.ExternalParameters) == 0 {
		return nil, fieldErr("buildDefinition.externalParameters", ErrMissingField, "")
	}
	external, err := toStruct("buildDefinition.externalParameters", b.ExternalParameters)
	if err != nil {
		return nil, err
	}
	internal, err := toStruct("buildDefinition.internalParameters", b.InternalParameters)
	if err != nil {
		return nil, err
	}
	if err := checkDescriptors("buildDefinition.resolvedDependencies", b.ResolvedDependencies); err != nil {
		return nil, err
	}
	if b.BuilderID == "" {
		return nil, fieldErr("runDetails.builder.id", ErrMissingField, "")
	}
	if err := checkURI("runDetails.builder.id", b.BuilderID); err != nil {
		return nil, err
	}
	if err := checkDescriptors("runDetails.builder.builderDependencies", b.BuilderDependencies); err != nil {
		return nil, err
	}
	if b.InvocationID != "" && (!utf8.ValidString(b.InvocationID) || strings.ContainsFunc(b.InvocationID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })) {
		return nil, fieldErr("runDetails.metadata.invocationId", ErrInvalidInvocationID, "%q: want an id without whitespace or control characters", b.InvocationID)
	}
	if err := checkDescriptors("runDetails.byproducts", b.Byproducts); err != nil {
		return nil, err
	}
	started, err := timestamp("runDetails.metadata.startedOn", b.StartedOn)
	if err != nil {
		return nil, err
	}
	finished, err := timestamp("runDetails.metadata.finishedOn", b.FinishedOn)
	if err != nil {
		return nil, err
	}
	if started != nil && finished != nil && b.FinishedOn.Before(b.StartedOn) {
		return nil, fieldErr("runDetails.metadata.finishedOn", ErrInvalidTime,
			"%s is before startedOn %s", b.FinishedOn.UTC().Format(time.RFC3339Nano), b.StartedOn.UTC().Format(time.RFC3339Nano))
	}

	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{
			BuildType:            b.BuildType,
			ExternalParameters:   external,
			InternalParameters:   internal,
			ResolvedDependencies: b.ResolvedDependencies,
		},
		RunDetails: &slsa.RunDetails{
			Builder: &slsa.Builder{
				Id:                  b.BuilderID,
				Version:             b.BuilderVersion,
				BuilderDependencies: b.BuilderDependencies,
			},
			Byproducts: b.Byproducts,
		},
	}
	if b.InvocationID != "" || started != nil || finished != nil {
		p.RunDetails.Metadata = &slsa.BuildMetadata{
			InvocationId: b.InvocationID,
			StartedOn:    started,
			FinishedOn:   finished,
		}
	}
	return p, nil
}

func checkDescriptors(field string, rds []*v1.ResourceDescriptor) error {
	for i, rd := range rds {
		f := fmt.Sprintf("%s[%d]", field, i)
		if rd == nil {
			return fieldErr(f, ErrMissingField, "nil resource descriptor")
		}
		if rd.GetUri() != "" {
			if err := checkURI(f+".uri", rd.GetUri()); err != nil {
				return err
			}
		}
		for _, alg := range slices.Sorted(maps.Keys(rd.GetDigest())) {
			if _, known := v1.HashAlgorithms[alg]; !known {
				continue // in-toto allows custom algorithms here
			}
			if err := checkDigest(alg, rd.GetDigest()[alg]); err != nil {
				return fieldErr(f+".digest."+alg, ErrInvalidDigest, "%v", err)
			}
		}
		if err := rd.Validate(); err != nil {
			return fieldErr(f, ErrInvalidStatement, "%v", err)
		}
	}
	return nil
}

// checkURI accepts an absolute URI (with a scheme) that has no whitespace.
func checkURI(field, s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fieldErr(field, ErrInvalidURI, "%q: %v", s, err)
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fieldErr(field, ErrInvalidURI, "%q contains whitespace or control characters", s)
	case !u.IsAbs():
		return fieldErr(field, ErrInvalidURI, "%q has no scheme", s)
	case u.Opaque == "" && u.Host == "" && u.Path == "":
		return fieldErr(field, ErrInvalidURI, "%q is only a scheme", s)
	}
	return nil
}

func timestamp(field string, t time.Time) (*timestamppb.Timestamp, error) {
	if t.IsZero() {
		return nil, nil
	}
	ts := timestamppb.New(t)
	if err := ts.CheckValid(); err != nil {
		return nil, fieldErr(field, ErrInvalidTime, "%v", err)
	}
	return ts, nil
}
