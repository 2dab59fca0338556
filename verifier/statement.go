package verifier

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// Statement and predicate type URIs this package understands.
const (
	StatementTypeV1   = formats.StatementTypeV1
	StatementTypeV01  = formats.StatementTypeV01
	PredicateSLSAv1   = formats.PredicateSLSAProvenanceV1
	PredicateSLSAv02  = formats.PredicateSLSAProvenanceV02
	PayloadTypeInToto = formats.PayloadTypeInToto
)

// maxStatementDepth bounds the nesting of a statement's JSON. Real
// provenance nests a dozen levels (a Tekton run spec in a predicate); the
// bound keeps a hostile payload from costing deep recursion.
const maxStatementDepth = 64

// statement is the one reading of an in-toto statement that every check,
// policy expression and result uses. It is decoded once from the signed
// payload bytes by decodeStrict, which refuses what two JSON readers could
// read differently (duplicate keys, keys equal under case folding, invalid
// UTF-8); the typed fields below are then read from that decoded value by
// exact key, never by a second decoder.
type statement struct {
	Type          string
	Subject       []subject
	PredicateType string

	v1  *predicateV1
	v02 *predicateV02
	vsa *predicateVSA
	// doc is the whole statement as decoded, numbers as json.Number.
	doc map[string]any
}

type subject struct {
	Name   string
	Digest map[string]string
}

type resourceDescriptor struct {
	URI         string
	Name        string
	Digest      map[string]string
	Annotations map[string]any
}

// predicateV1 is SLSA provenance v1.0.
type predicateV1 struct {
	BuildDefinition struct {
		BuildType            string
		ExternalParameters   map[string]any
		InternalParameters   map[string]any
		ResolvedDependencies []resourceDescriptor
	}
	RunDetails struct {
		Builder struct {
			ID string
		}
		Metadata struct {
			InvocationID string
			StartedOn    string
			FinishedOn   string
		}
	}
}

// predicateV02 is SLSA provenance v0.2, as slsa-github-generator and the npm
// CLI still emit it.
type predicateV02 struct {
	Builder struct {
		ID string
	}
	BuildType  string
	Invocation struct {
		ConfigSource struct {
			URI        string
			Digest     map[string]string
			EntryPoint string
		}
		Parameters  map[string]any
		Environment map[string]any
	}
	Metadata struct {
		BuildInvocationID string
		BuildStartedOn    string
		BuildFinishedOn   string
	}
	Materials []resourceDescriptor
}

// predicateVSA is a SLSA verification summary v1.
type predicateVSA struct {
	VerifierID         string
	TimeVerified       string
	ResourceURI        string
	PolicyURI          string
	PolicyDigest       map[string]string
	InputAttestations  []resourceDescriptor
	VerificationResult string
	VerifiedLevels     []string
}

// statementKeys are the only top-level keys of an in-toto statement: an
// unknown one (such as protobuf's alternative spelling predicate_type) could
// be read by another consumer as one of these.
var statementKeys = map[string]bool{"_type": true, "subject": true, "predicateType": true, "predicate": true}

// parseStatement decodes an in-toto statement and its predicate, which must
// be of one of the accepted types. The subject limit is enforced before any
// subject is read, the predicate type before the predicate is (a refused
// type comes back with the statement read so far).
func parseStatement(payload []byte, maxSubjects int, accept []string) (*statement, error) {
	v, err := decodeStrict(payload)
	if err != nil {
		return nil, fmt.Errorf("decoding statement: %w: %w", ErrMalformed, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("statement is not a JSON object: %w", ErrMalformed)
	}
	for _, k := range sortedKeys(doc) {
		if !statementKeys[k] {
			return nil, fmt.Errorf("statement has an unknown field %q: %w", k, ErrMalformed)
		}
	}
	r := &reader{}
	st := &statement{doc: doc}
	st.Type = r.str(doc, "", "_type")
	st.PredicateType = r.str(doc, "", "predicateType")
	subjects := r.arr(doc, "", "subject")
	if r.err != nil {
		return nil, r.err
	}
	if st.Type != StatementTypeV1 && st.Type != StatementTypeV01 {
		return nil, fmt.Errorf("statement _type %q: %w", st.Type, ErrMalformed)
	}
	if len(subjects) == 0 {
		return nil, fmt.Errorf("statement has no subject: %w", ErrMalformed)
	}
	if len(subjects) > maxSubjects {
		return nil, fmt.Errorf("%d subjects, limit %d: %w", len(subjects), maxSubjects, ErrTooManySubjects)
	}
	if st.PredicateType == "" {
		return nil, fmt.Errorf("statement has no predicateType: %w", ErrMalformed)
	}
	if !slices.Contains(accept, st.PredicateType) {
		// The statement so far, for the error to name its type.
		return st, fmt.Errorf("predicateType %q: %w", st.PredicateType, ErrPredicateType)
	}
	for i, s := range subjects {
		path := fmt.Sprintf("subject[%d]", i)
		o := r.asObject(s, path)
		sub := subject{Name: r.str(o, path, "name"), Digest: r.strMap(o, path, "digest")}
		if r.err != nil {
			return nil, r.err
		}
		if len(sub.Digest) == 0 {
			return nil, fmt.Errorf("%s has no digest: %w", path, ErrMalformed)
		}
		if err := checkDigestSet(path, sub.Digest); err != nil {
			return nil, err
		}
		st.Subject = append(st.Subject, sub)
	}
	pred, present := doc["predicate"]
	if !present {
		return nil, fmt.Errorf("statement has no predicate: %w", ErrMalformed)
	}
	p := r.asObject(pred, "predicate")
	switch st.PredicateType {
	case PredicateSLSAv1:
		st.v1 = readV1(r, p)
	case PredicateSLSAv02:
		st.v02 = readV02(r, p)
	case PredicateVSA:
		st.vsa = readVSA(r, p)
	case PredicateSPDX, PredicateCycloneDX:
		readSBOM(r, p, st.PredicateType, "predicate")
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

func readV1(r *reader, p map[string]any) *predicateV1 {
	v := &predicateV1{}
	bd := r.obj(p, "predicate", "buildDefinition")
	const bdp = "predicate.buildDefinition"
	v.BuildDefinition.BuildType = r.str(bd, bdp, "buildType")
	v.BuildDefinition.ExternalParameters = r.obj(bd, bdp, "externalParameters")
	v.BuildDefinition.InternalParameters = r.obj(bd, bdp, "internalParameters")
	v.BuildDefinition.ResolvedDependencies = r.descriptors(bd, bdp, "resolvedDependencies")
	rd := r.obj(p, "predicate", "runDetails")
	const rdp = "predicate.runDetails"
	v.RunDetails.Builder.ID = r.str(r.obj(rd, rdp, "builder"), rdp+".builder", "id")
	md := r.obj(rd, rdp, "metadata")
	v.RunDetails.Metadata.InvocationID = r.str(md, rdp+".metadata", "invocationId")
	v.RunDetails.Metadata.StartedOn = r.str(md, rdp+".metadata", "startedOn")
	v.RunDetails.Metadata.FinishedOn = r.str(md, rdp+".metadata", "finishedOn")
	r.require(v.BuildDefinition.BuildType, bdp+".buildType")
	r.require(v.RunDetails.Builder.ID, rdp+".builder.id")
	return v
}

func readV02(r *reader, p map[string]any) *predicateV02 {
	v := &predicateV02{}
	v.Builder.ID = r.str(r.obj(p, "predicate", "builder"), "predicate.builder", "id")
	v.BuildType = r.str(p, "predicate", "buildType")
	inv := r.obj(p, "predicate", "invocation")
	const ip = "predicate.invocation"
	cs := r.obj(inv, ip, "configSource")
	v.Invocation.ConfigSource.URI = r.str(cs, ip+".configSource", "uri")
	v.Invocation.ConfigSource.Digest = r.strMap(cs, ip+".configSource", "digest")
	v.Invocation.ConfigSource.EntryPoint = r.str(cs, ip+".configSource", "entryPoint")
	v.Invocation.Parameters = r.obj(inv, ip, "parameters")
	v.Invocation.Environment = r.obj(inv, ip, "environment")
	md := r.obj(p, "predicate", "metadata")
	v.Metadata.BuildInvocationID = r.str(md, "predicate.metadata", "buildInvocationID")
	if v.Metadata.BuildInvocationID == "" {
		v.Metadata.BuildInvocationID = r.str(md, "predicate.metadata", "buildInvocationId")
	}
	v.Metadata.BuildStartedOn = r.str(md, "predicate.metadata", "buildStartedOn")
	v.Metadata.BuildFinishedOn = r.str(md, "predicate.metadata", "buildFinishedOn")
	v.Materials = r.descriptors(p, "predicate", "materials")
	r.require(v.BuildType, "predicate.buildType")
	r.require(v.Builder.ID, "predicate.builder.id")
	return v
}

func readVSA(r *reader, p map[string]any) *predicateVSA {
	v := &predicateVSA{}
	v.VerifierID = r.str(r.obj(p, "predicate", "verifier"), "predicate.verifier", "id")
	v.TimeVerified = r.str(p, "predicate", "timeVerified")
	v.ResourceURI = r.str(p, "predicate", "resourceUri")
	pol := r.obj(p, "predicate", "policy")
	v.PolicyURI = r.str(pol, "predicate.policy", "uri")
	v.PolicyDigest = r.strMap(pol, "predicate.policy", "digest")
	v.InputAttestations = r.descriptors(p, "predicate", "inputAttestations")
	v.VerificationResult = r.str(p, "predicate", "verificationResult")
	for i, l := range r.arr(p, "predicate", "verifiedLevels") {
		s, ok := l.(string)
		if !ok {
			r.fail(fmt.Sprintf("predicate.verifiedLevels[%d]", i), "a string")
			break
		}
		v.VerifiedLevels = append(v.VerifiedLevels, s)
	}
	r.require(v.VerifierID, "predicate.verifier.id")
	r.require(v.VerificationResult, "predicate.verificationResult")
	return v
}

// reader reads typed fields of decoded JSON by exact key. A field of the
// wrong type is an error (kept, the first one); an absent field reads as
// the zero value.
type reader struct{ err error }

func (r *reader) fail(path, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s is not %s: %w", path, want, ErrMalformed)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (r *reader) require(v, path string) {
	if v == "" && r.err == nil {
		r.err = fmt.Errorf("%s is missing: %w", path, ErrMalformed)
	}
}

func (r *reader) str(o map[string]any, path, key string) string {
	v, ok := o[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fail(join(path, key), "a string")
	}
	return s
}

func (r *reader) asObject(v any, path string) map[string]any {
	o, ok := v.(map[string]any)
	if !ok {
		r.fail(path, "an object")
	}
	return o
}

func (r *reader) obj(o map[string]any, path, key string) map[string]any {
	v, ok := o[key]
	if !ok {
		return nil
	}
	return r.asObject(v, join(path, key))
}

func (r *reader) arr(o map[string]any, path, key string) []any {
	v, ok := o[key]
	if !ok {
		return nil
	}
	a, ok := v.([]any)
	if !ok {
		r.fail(join(path, key), "an array")
	}
	return a
}

func (r *reader) strMap(o map[string]any, path, key string) map[string]string {
	m := r.obj(o, path, key)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			r.fail(join(join(path, key), k), "a string")
			return nil
		}
		out[k] = s
	}
	return out
}

func (r *reader) descriptors(o map[string]any, path, key string) []resourceDescriptor {
	var out []resourceDescriptor
	for i, e := range r.arr(o, path, key) {
		p := fmt.Sprintf("%s[%d]", join(path, key), i)
		d := r.asObject(e, p)
		out = append(out, resourceDescriptor{
			URI: r.str(d, p, "uri"), Name: r.str(d, p, "name"),
			Digest: r.strMap(d, p, "digest"), Annotations: r.obj(d, p, "annotations"),
		})
	}
	return out
}

// digestHexLen is the hex length of each digest algorithm a subject may
// name that this package knows; hex must be lowercase, as in-toto requires,
// so one digest has one spelling.
var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128, "sha1": 40, "md5": 32, "gitCommit": 40}

func checkDigestSet(path string, d map[string]string) error {
	for _, alg := range sortedKeys(d) {
		n, known := digestHexLen[alg]
		if !known {
			continue
		}
		h := d[alg]
		if len(h) != n || strings.TrimLeft(h, "0123456789abcdef") != "" {
			return fmt.Errorf("%s.digest.%s %q is not %d lowercase hex digits: %w", path, alg, h, n, ErrMalformed)
		}
	}
	return nil
}

// foldKey maps every rune to the smallest rune of its Unicode case-folding
// orbit, so keys that any case-insensitive matcher (encoding/json's
// included: it folds ſ to s and the Kelvin sign to k) would confuse map to
// one string.
func foldKey(k string) string {
	if isASCII(k) {
		// An ASCII letter's orbit is itself, its other case and at most
		// one non-ASCII rune (K's Kelvin sign, S's long s): its smallest
		// is the upper case. Other ASCII runes fold to themselves.
		return strings.ToUpper(k)
	}
	var b strings.Builder
	for _, r := range k {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// isASCII reports whether s is ASCII alone.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
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

// proto returns the statement as in-toto's Go type, built from the one
// decoded value.
func (st *statement) proto() (*intoto.Statement, error) {
	out := &intoto.Statement{Type: st.Type, PredicateType: st.PredicateType}
	for _, s := range st.Subject {
		out.Subject = append(out.Subject, &intoto.ResourceDescriptor{Name: s.Name, Digest: s.Digest})
	}
	if p, ok := st.doc["predicate"].(map[string]any); ok {
		pb, err := structpb.NewStruct(p)
		if err != nil {
			return nil, err
		}
		out.Predicate = pb
	}
	return out, nil
}

// celValue returns the statement for policy expressions: the decoded value
// with numbers as float64, as CEL reads JSON numbers.
func (st *statement) celValue() map[string]any {
	return toCEL(st.doc).(map[string]any)
}

func toCEL(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toCEL(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toCEL(e)
		}
		return out
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	}
	return v
}
