package provenance_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	v1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hallmark-dev/hallmark/internal/golden"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

var (
	hexA    = strings.Repeat("a", 64)
	hexB    = strings.Repeat("b", 64)
	commit  = "0123456789abcdef0123456789abcdef01234567"
	started = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

func subjects(n int) []subject.Subject {
	out := make([]subject.Subject, n)
	for i := range out {
		out[i] = subject.Subject{Name: fmt.Sprintf("dist/app-%04d.tar.gz", i), Digest: map[string]string{"sha256": fmt.Sprintf("%064x", i)}}
	}
	return out
}

// minimalBuild is the least Statement accepts.
func minimalBuild() *provenance.Build {
	return &provenance.Build{
		BuildType:          "https://example.com/buildtypes/make/v1",
		ExternalParameters: map[string]any{"target": "release"},
		BuilderID:          "https://example.com/builders/make@v1",
	}
}

// fullBuild sets every field.
func fullBuild() *provenance.Build {
	return &provenance.Build{
		BuildType: "https://example.com/buildtypes/make/v1",
		ExternalParameters: map[string]any{
			"target": "release",
			"source": map[string]string{"uri": "git+https://example.com/acme/app@refs/tags/v1.0.0"},
			"flags":  []string{"-trimpath", "<html>&"},
			"jobs":   4,
		},
		InternalParameters: map[string]any{"runner": struct {
			OS   string `json:"os"`
			Arch string `json:"arch"`
		}{"linux", "amd64"}},
		ResolvedDependencies: []*v1.ResourceDescriptor{{
			Uri:    "git+https://example.com/acme/app@refs/tags/v1.0.0",
			Digest: map[string]string{"gitCommit": commit},
		}},
		BuilderID:      "https://example.com/builders/make@v1",
		BuilderVersion: map[string]string{"make": "4.4.1"},
		BuilderDependencies: []*v1.ResourceDescriptor{{
			Uri:    "pkg:golang/github.com/hallmark-dev/hallmark@v0.1.0",
			Digest: map[string]string{"sha256": hexB},
		}},
		InvocationID: "https://example.com/acme/app/runs/42",
		StartedOn:    started,
		FinishedOn:   started.Add(90*time.Second + 5*time.Millisecond),
		Byproducts:   []*v1.ResourceDescriptor{{Name: "build.log", Digest: map[string]string{"sha256": hexA}}},
	}
}

func TestStatementGolden(t *testing.T) {
	tests := []struct {
		name   string
		build  *provenance.Build
		golden string
	}{
		{name: "minimal", build: minimalBuild(), golden: "statement-minimal.golden.json"},
		{name: "every field", build: fullBuild(), golden: "statement-full.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subs := []subject.Subject{
				{Name: "dist/app.tar.gz", Digest: map[string]string{"sha256": hexA}},
				{Name: "dist/app.zip", Digest: map[string]string{"sha256": hexB, "sha512": strings.Repeat("c", 128)}},
			}
			st, err := provenance.Statement(subs, tt.build)
			if err != nil {
				t.Fatalf("Statement: %v", err)
			}
			if st.GetType() != provenance.StatementTypeV1 || st.GetPredicateType() != provenance.PredicateSLSAProvenanceV1 {
				t.Errorf("type %q, predicateType %q", st.GetType(), st.GetPredicateType())
			}
			got, err := provenance.MarshalStatement(st)
			if err != nil {
				t.Fatal(err)
			}
			golden.JSON(t, tt.golden, got)

			// What we write must read back as the same statement.
			var back v1.Statement
			if err := protojson.Unmarshal(got, &back); err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if !proto.Equal(&back, st) {
				t.Error("statement read back differs from the one written")
			}
		})
	}
}

func TestMarshalStatementDeterministic(t *testing.T) {
	b := fullBuild()
	for i := range 50 {
		b.ExternalParameters[fmt.Sprintf("k%02d", i)] = map[string]any{"v": i, "s": "x"}
	}
	first, err := provenance.Statement(subjects(100), b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := provenance.MarshalStatement(first)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(want, "\n\t") || bytes.Contains(want, []byte(`": `)) || bytes.Contains(want, []byte(`, "`)) {
		t.Errorf("output is not compact: %.200s", want)
	}
	if !bytes.HasPrefix(want, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicate":{`)) {
		t.Errorf("keys are not sorted: %.100s", want)
	}
	if !bytes.Contains(want, []byte(`"<html>&"`)) {
		t.Error("HTML characters were escaped")
	}
	for i := range 20 {
		st, err := provenance.Statement(subjects(100), b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := provenance.MarshalStatement(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d gave different bytes", i)
		}
	}
}

func TestMarshalStatementNil(t *testing.T) {
	if _, err := provenance.MarshalStatement(nil); err == nil {
		t.Fatal("MarshalStatement(nil) succeeded")
	}
}

func TestStatementOmitsUnknown(t *testing.T) {
	st, err := provenance.Statement(subjects(1), minimalBuild())
	if err != nil {
		t.Fatal(err)
	}
	out, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"metadata", "internalParameters", "resolvedDependencies", "byproducts", "startedOn", "version"} {
		if bytes.Contains(out, []byte(`"`+field+`"`)) {
			t.Errorf("unset field %s is in the output: %s", field, out)
		}
	}
	b := minimalBuild()
	b.FinishedOn = started
	st, err = provenance.Statement(subjects(1), b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = provenance.MarshalStatement(st)
	if !bytes.Contains(out, []byte(`"metadata":{"finishedOn":"2025-03-01T12:00:00Z"}`)) {
		t.Errorf("want only finishedOn in metadata: %s", out)
	}
}

func TestStatementMaxSubjects(t *testing.T) {
	if _, err := provenance.Statement(subjects(provenance.MaxSubjects), minimalBuild()); err != nil {
		t.Fatalf("%d subjects: %v", provenance.MaxSubjects, err)
	}
}

func TestStatementErrors(t *testing.T) {
	one := subjects(1)
	tests := []struct {
		name      string
		subjects  []subject.Subject
		edit      func(b *provenance.Build)
		nilBuild  bool
		want      error
		wantField string
	}{
		{name: "nil build", subjects: one, nilBuild: true, want: provenance.ErrMissingField, wantField: "predicate"},
		{name: "no subjects", want: provenance.ErrNoSubjects, wantField: "subject"},
		{name: "too many subjects", subjects: subjects(provenance.MaxSubjects + 1), want: provenance.ErrTooManySubjects, wantField: "subject"},
		{name: "empty subject name", subjects: []subject.Subject{{Digest: one[0].Digest}}, want: provenance.ErrInvalidSubjectName, wantField: "subject[0].name"},
		{name: "invalid UTF-8 subject name", subjects: []subject.Subject{{Name: "a\xff", Digest: one[0].Digest}}, want: provenance.ErrInvalidSubjectName, wantField: "subject[0].name"},
		{name: "duplicate subject", subjects: []subject.Subject{one[0], subjects(2)[1], one[0]}, want: provenance.ErrDuplicateSubject, wantField: "subject[2]"},
		{name: "subject without digest", subjects: []subject.Subject{{Name: "a"}}, want: provenance.ErrInvalidDigest, wantField: "subject[0].digest"},
		{name: "unknown algorithm", subjects: []subject.Subject{{Name: "a", Digest: map[string]string{"blake3": hexA}}}, want: provenance.ErrInvalidDigest, wantField: "subject[0].digest.blake3"},
		{name: "short digest", subjects: []subject.Subject{{Name: "a", Digest: map[string]string{"sha256": "abc"}}}, want: provenance.ErrInvalidDigest, wantField: "subject[0].digest.sha256"},
		{name: "uppercase digest", subjects: []subject.Subject{{Name: "a", Digest: map[string]string{"sha256": strings.ToUpper(hexA)}}}, want: provenance.ErrInvalidDigest, wantField: "subject[0].digest.sha256"},
		{name: "second subject bad", subjects: []subject.Subject{one[0], {Name: "b", Digest: map[string]string{"sha512": hexA}}}, want: provenance.ErrInvalidDigest, wantField: "subject[1].digest.sha512"},
		{name: "no build type", subjects: one, edit: func(b *provenance.Build) { b.BuildType = "" }, want: provenance.ErrMissingField, wantField: "buildDefinition.buildType"},
		{name: "relative build type", subjects: one, edit: func(b *provenance.Build) { b.BuildType = "make/v1" }, want: provenance.ErrInvalidURI, wantField: "buildDefinition.buildType"},
		{name: "no external parameters", subjects: one, edit: func(b *provenance.Build) { b.ExternalParameters = nil }, want: provenance.ErrMissingField, wantField: "buildDefinition.externalParameters"},
		{name: "NaN parameter", subjects: one, edit: func(b *provenance.Build) { b.ExternalParameters["x"] = math.NaN() }, want: provenance.ErrInvalidParameters, wantField: "buildDefinition.externalParameters.x"},
		{name: "nested invalid UTF-8", subjects: one, edit: func(b *provenance.Build) {
			b.InternalParameters = map[string]any{"a": []any{"ok", map[string]any{"b": "\xff"}}}
		}, want: provenance.ErrInvalidParameters, wantField: "buildDefinition.internalParameters.a[1].b"},
		{name: "unencodable parameter", subjects: one, edit: func(b *provenance.Build) { b.ExternalParameters["f"] = func() {} }, want: provenance.ErrInvalidParameters, wantField: "buildDefinition.externalParameters.f"},
		{name: "no builder id", subjects: one, edit: func(b *provenance.Build) { b.BuilderID = "" }, want: provenance.ErrMissingField, wantField: "runDetails.builder.id"},
		{name: "relative builder id", subjects: one, edit: func(b *provenance.Build) { b.BuilderID = "acme/app/.github/workflows/x.yml@refs/heads/main" }, want: provenance.ErrInvalidURI, wantField: "runDetails.builder.id"},
		{name: "builder id with space", subjects: one, edit: func(b *provenance.Build) { b.BuilderID = "https://example.com/a b" }, want: provenance.ErrInvalidURI, wantField: "runDetails.builder.id"},
		{name: "builder id only a scheme", subjects: one, edit: func(b *provenance.Build) { b.BuilderID = "https:" }, want: provenance.ErrInvalidURI, wantField: "runDetails.builder.id"},
		{name: "invocation id with space", subjects: one, edit: func(b *provenance.Build) { b.InvocationID = "run 42" }, want: provenance.ErrInvalidInvocationID, wantField: "runDetails.metadata.invocationId"},
		{name: "invocation id with newline", subjects: one, edit: func(b *provenance.Build) { b.InvocationID = "42\n" }, want: provenance.ErrInvalidInvocationID, wantField: "runDetails.metadata.invocationId"},
		{name: "bad dependency URI", subjects: one, edit: func(b *provenance.Build) {
			b.ResolvedDependencies = []*v1.ResourceDescriptor{{Uri: "github.com/acme/app", Digest: map[string]string{"gitCommit": commit}}}
		}, want: provenance.ErrInvalidURI, wantField: "buildDefinition.resolvedDependencies[0].uri"},
		{name: "nil dependency", subjects: one, edit: func(b *provenance.Build) {
			b.ResolvedDependencies = []*v1.ResourceDescriptor{nil}
		}, want: provenance.ErrMissingField, wantField: "buildDefinition.resolvedDependencies[0]"},
		{name: "empty dependency", subjects: one, edit: func(b *provenance.Build) {
			b.ResolvedDependencies = []*v1.ResourceDescriptor{{}}
		}, want: provenance.ErrInvalidStatement, wantField: "buildDefinition.resolvedDependencies[0]"},
		{name: "bad dependency commit", subjects: one, edit: func(b *provenance.Build) {
			b.ResolvedDependencies = []*v1.ResourceDescriptor{{Uri: "git+https://example.com/a", Digest: map[string]string{"gitCommit": "abc"}}}
		}, want: provenance.ErrInvalidDigest, wantField: "buildDefinition.resolvedDependencies[0].digest.gitCommit"},
		{name: "bad builder dependency", subjects: one, edit: func(b *provenance.Build) {
			b.BuilderDependencies = []*v1.ResourceDescriptor{{Uri: "not a uri"}}
		}, want: provenance.ErrInvalidURI, wantField: "runDetails.builder.builderDependencies[0].uri"},
		{name: "bad byproduct", subjects: one, edit: func(b *provenance.Build) {
			b.Byproducts = []*v1.ResourceDescriptor{{Name: "log", Digest: map[string]string{"sha256": "xyz"}}}
		}, want: provenance.ErrInvalidDigest, wantField: "runDetails.byproducts[0].digest.sha256"},
		{name: "finished before started", subjects: one, edit: func(b *provenance.Build) {
			b.StartedOn, b.FinishedOn = started, started.Add(-time.Second)
		}, want: provenance.ErrInvalidTime, wantField: "runDetails.metadata.finishedOn"},
		{name: "time out of range", subjects: one, edit: func(b *provenance.Build) {
			b.StartedOn = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, want: provenance.ErrInvalidTime, wantField: "runDetails.metadata.startedOn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := minimalBuild()
			if tt.edit != nil {
				tt.edit(b)
			}
			if tt.nilBuild {
				b = nil
			}
			st, err := provenance.Statement(tt.subjects, b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Statement = %v, %v; want %v", st, err, tt.want)
			}
			var fe *provenance.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("err = %v; want a *FieldError for %s", err, tt.wantField)
			}
		})
	}
}

// TestStatementAccepts covers inputs the checks must let through: one
// name with two different digests is two artifacts (two images of one
// repository), and an invocation id is opaque, as SLSA defines it.
func TestStatementAccepts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		subjects []subject.Subject
		edit     func(b *provenance.Build)
	}{
		{name: "one name, two digests", subjects: []subject.Subject{
			{Name: "registry.example.com/acme/app", Digest: map[string]string{"sha256": hexA}},
			{Name: "registry.example.com/acme/app", Digest: map[string]string{"sha256": hexB}},
		}},
		{name: "opaque invocation id", subjects: []subject.Subject{{Name: "a", Digest: map[string]string{"sha256": hexA}}},
			edit: func(b *provenance.Build) { b.InvocationID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := minimalBuild()
			if tc.edit != nil {
				tc.edit(b)
			}
			if _, err := provenance.Statement(tc.subjects, b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatementDoesNotShareInput(t *testing.T) {
	subs := subjects(1)
	st, err := provenance.Statement(subs, minimalBuild())
	if err != nil {
		t.Fatal(err)
	}
	subs[0].Digest["sha256"] = hexB
	if got := st.GetSubject()[0].GetDigest()["sha256"]; got == hexB {
		t.Error("changing the input subject changed the statement")
	}
}

func BenchmarkStatement(b *testing.B) {
	subs := subjects(provenance.MaxSubjects)
	build := fullBuild()
	b.ReportAllocs()
	var size int
	for b.Loop() {
		st, err := provenance.Statement(subs, build)
		if err != nil {
			b.Fatal(err)
		}
		out, err := provenance.MarshalStatement(st)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "bytes/statement")
}
