package subject_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

func TestParseDigest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantAlg string
		wantHex string
		wantErr bool
	}{
		{name: "sha256", in: "sha256:" + hexA, wantAlg: "sha256", wantHex: hexA},
		{name: "sha512", in: "sha512:" + hex512, wantAlg: "sha512", wantHex: hex512},
		{name: "no colon", in: hexA, wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "unknown algorithm", in: "md5:" + strings.Repeat("a", 32), wantErr: true},
		{name: "uppercase algorithm", in: "SHA256:" + hexA, wantErr: true},
		{name: "uppercase hex", in: "sha256:" + strings.ToUpper(hexA), wantErr: true},
		{name: "too short", in: "sha256:" + hexA[1:], wantErr: true},
		{name: "too long", in: "sha256:" + hexA + "a", wantErr: true},
		{name: "sha512 length for sha256", in: "sha256:" + hex512, wantErr: true},
		{name: "sha256 length for sha512", in: "sha512:" + hexA, wantErr: true},
		{name: "non-hex", in: "sha256:" + hexA[:63] + "z", wantErr: true},
		{name: "trailing space", in: "sha256:" + hexA[:63] + " ", wantErr: true},
		{name: "two colons", in: "sha256:sha256:" + hexA, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg, hex, err := subject.ParseDigest(tt.in)
			if tt.wantErr {
				if !errors.Is(err, subject.ErrMalformedDigest) {
					t.Fatalf("ParseDigest(%q) = %q, %q, %v; want ErrMalformedDigest", tt.in, alg, hex, err)
				}
				return
			}
			if err != nil || alg != tt.wantAlg || hex != tt.wantHex {
				t.Fatalf("ParseDigest(%q) = %q, %q, %v; want %q, %q", tt.in, alg, hex, err, tt.wantAlg, tt.wantHex)
			}
		})
	}
}

func TestFromNameDigest(t *testing.T) {
	tests := []struct {
		name, subjectName, digest string
		want                      subject.Subject
		wantErr                   error
	}{
		{name: "ok", subjectName: "app.tar.gz", digest: "sha256:" + hexA, want: subject.Subject{Name: "app.tar.gz", Digest: map[string]string{"sha256": hexA}}},
		{name: "any name is kept", subjectName: " pkg:npm/app@1.0 ", digest: "sha512:" + hex512, want: subject.Subject{Name: " pkg:npm/app@1.0 ", Digest: map[string]string{"sha512": hex512}}},
		{name: "empty name", subjectName: "", digest: "sha256:" + hexA, wantErr: subject.ErrInvalidName},
		{name: "invalid UTF-8 name", subjectName: "a\xc0", digest: "sha256:" + hexA, wantErr: subject.ErrInvalidName},
		{name: "NUL in name", subjectName: "a\x00", digest: "sha256:" + hexA, wantErr: subject.ErrInvalidName},
		{name: "bad digest", subjectName: "a", digest: "sha256:abc", wantErr: subject.ErrMalformedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.FromNameDigest(tt.subjectName, tt.digest)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFromImageRef(t *testing.T) {
	tests := []struct {
		name, ref string
		want      subject.Subject
		wantErr   error
	}{
		{name: "digest only", ref: "ghcr.io/acme/app@sha256:" + hexA, want: subject.Subject{Name: "ghcr.io/acme/app", Digest: map[string]string{"sha256": hexA}}},
		{name: "tag and digest", ref: "ghcr.io/acme/app:v1.2.3@sha256:" + hexA, want: subject.Subject{Name: "ghcr.io/acme/app", Digest: map[string]string{"sha256": hexA}}},
		{name: "registry with port", ref: "localhost:5000/team/tool/cli:latest@sha256:" + hexB, want: subject.Subject{Name: "localhost:5000/team/tool/cli", Digest: map[string]string{"sha256": hexB}}},
		{name: "docker hub short name", ref: "alpine@sha256:" + hexA, want: subject.Subject{Name: "index.docker.io/library/alpine", Digest: map[string]string{"sha256": hexA}}},
		{name: "docker hub user image", ref: "docker.io/acme/app:1@sha256:" + hexA, want: subject.Subject{Name: "index.docker.io/acme/app", Digest: map[string]string{"sha256": hexA}}},
		{name: "sha512", ref: "ghcr.io/acme/app@sha512:" + hex512, want: subject.Subject{Name: "ghcr.io/acme/app", Digest: map[string]string{"sha512": hex512}}},
		{name: "tag only", ref: "ghcr.io/acme/app:v1", wantErr: subject.ErrNoImageDigest},
		{name: "bare name", ref: "ghcr.io/acme/app", wantErr: subject.ErrNoImageDigest},
		{name: "short digest", ref: "ghcr.io/acme/app@sha256:abc", wantErr: subject.ErrMalformedDigest},
		{name: "uppercase digest", ref: "ghcr.io/acme/app@sha256:" + strings.ToUpper(hexA), wantErr: subject.ErrMalformedDigest},
		{name: "uppercase repository", ref: "ghcr.io/Acme/App@sha256:" + hexA, wantErr: subject.ErrMalformedImageRef},
		{name: "two digests", ref: "ghcr.io/acme/app@sha256:" + hexA + "@sha256:" + hexA, wantErr: subject.ErrMalformedImageRef},
		{name: "empty", ref: "", wantErr: subject.ErrMalformedImageRef},
		{name: "spaces", ref: "ghcr.io/acme/my app@sha256:" + hexA, wantErr: subject.ErrMalformedImageRef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.FromImageRef(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("FromImageRef(%q) = %v, %v; want %v", tt.ref, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("FromImageRef(%q) = %v, %v; want %v", tt.ref, got, err, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a := subject.Subject{Name: "a", Digest: map[string]string{"sha256": hexA}}
	a512 := subject.Subject{Name: "a", Digest: map[string]string{"sha512": hex512}}
	b := subject.Subject{Name: "b", Digest: map[string]string{"sha256": hexB}}
	tests := []struct {
		name  string
		lists [][]subject.Subject
		want  []subject.Subject
	}{
		{name: "nothing", want: nil},
		{name: "empty lists", lists: [][]subject.Subject{nil, {}}, want: nil},
		{name: "sorted by name", lists: [][]subject.Subject{{b}, {a}}, want: []subject.Subject{a, b}},
		{name: "identical entries collapse", lists: [][]subject.Subject{{a, b}, {a}, {b, a}}, want: []subject.Subject{a, b}},
		{
			name:  "digest sets are joined",
			lists: [][]subject.Subject{{a}, {a512}},
			want:  []subject.Subject{{Name: "a", Digest: map[string]string{"sha256": hexA, "sha512": hex512}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.Merge(tt.lists...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("inputs are not modified", func(t *testing.T) {
		in := []subject.Subject{a}
		if _, err := subject.Merge(in, []subject.Subject{a512}); err != nil {
			t.Fatal(err)
		}
		if len(in[0].Digest) != 1 {
			t.Errorf("Merge changed its input: %v", in[0])
		}
	})
	t.Run("conflict", func(t *testing.T) {
		_, err := subject.Merge([]subject.Subject{a}, []subject.Subject{{Name: "a", Digest: map[string]string{"sha256": hexB}}})
		var ce *subject.ConflictError
		if !errors.Is(err, subject.ErrConflict) || !errors.As(err, &ce) || ce.Name != "a" || ce.Algorithm != "sha256" {
			t.Fatalf("err = %v, want a *ConflictError for a/sha256", err)
		}
	})
}

func TestSplit(t *testing.T) {
	mk := func(n int) []subject.Subject {
		out := make([]subject.Subject, n)
		for i := range out {
			out[i] = subject.Subject{Name: strings.Repeat("x", i+1)}
		}
		return out
	}
	tests := []struct {
		name      string
		n, max    int
		wantSizes []int
	}{
		{name: "empty", n: 0, max: 3, wantSizes: nil},
		{name: "fits", n: 3, max: 3, wantSizes: []int{3}},
		{name: "remainder", n: 7, max: 3, wantSizes: []int{3, 3, 1}},
		{name: "one each", n: 3, max: 1, wantSizes: []int{1, 1, 1}},
		{name: "zero means the statement limit", n: 2*subject.MaxPerStatement + 1, max: 0, wantSizes: []int{1024, 1024, 1}},
		{name: "negative means the statement limit", n: 5, max: -1, wantSizes: []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mk(tt.n)
			got := subject.Split(in, tt.max)
			var sizes []int
			var joined []subject.Subject
			for _, part := range got {
				sizes = append(sizes, len(part))
				joined = append(joined, part...)
			}
			if !reflect.DeepEqual(sizes, tt.wantSizes) {
				t.Errorf("sizes %v, want %v", sizes, tt.wantSizes)
			}
			if tt.n > 0 && !reflect.DeepEqual(joined, in) {
				t.Error("parts do not join back to the input in order")
			}
		})
	}
	t.Run("appending to a part does not clobber the next", func(t *testing.T) {
		in := mk(4)
		parts := subject.Split(in, 2)
		_ = append(parts[0], subject.Subject{Name: "new"})
		if parts[1][0].Name != in[2].Name || in[2].Name != "xxx" {
			t.Error("append to the first part overwrote the second")
		}
	})
}
