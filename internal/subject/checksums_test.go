package subject_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

var (
	hexA   = strings.Repeat("a", 64)
	hexB   = strings.Repeat("b", 64)
	hex512 = strings.Repeat("c", 128)
)

func TestParseChecksums(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []subject.Subject
	}{
		{name: "empty", input: "", want: nil},
		{name: "only blank lines", input: "\n  \n\t\n", want: nil},
		{
			name:  "text mode",
			input: hexA + "  dist/app.tar.gz\n",
			want:  []subject.Subject{{Name: "dist/app.tar.gz", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "binary mode",
			input: hexA + " *app.exe\n",
			want:  []subject.Subject{{Name: "app.exe", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "sha512 by length",
			input: hex512 + "  big.iso",
			want:  []subject.Subject{{Name: "big.iso", Digest: map[string]string{"sha512": hex512}}},
		},
		{
			name:  "blank lines, CRLF and no final newline",
			input: "\r\n" + hexB + "  b.txt\r\n\n" + hexA + "  a.txt",
			want: []subject.Subject{
				{Name: "a.txt", Digest: map[string]string{"sha256": hexA}},
				{Name: "b.txt", Digest: map[string]string{"sha256": hexB}},
			},
		},
		{
			name:  "uppercase hex is stored lowercase",
			input: strings.ToUpper(hexA) + "  a.txt\n",
			want:  []subject.Subject{{Name: "a.txt", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "spaces inside and around names are kept",
			input: hexA + "   my file .txt \n",
			want:  []subject.Subject{{Name: " my file .txt ", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "escaped name",
			input: `\` + hexA + `  new\nline\\back\rcr` + "\n",
			want:  []subject.Subject{{Name: "new\nline\\back\rcr", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "backslash in an unescaped line is literal",
			input: hexA + `  dir\file` + "\n",
			want:  []subject.Subject{{Name: `dir\file`, Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "exact duplicates collapse",
			input: hexA + "  a.txt\n" + hexA + " *a.txt\n",
			want:  []subject.Subject{{Name: "a.txt", Digest: map[string]string{"sha256": hexA}}},
		},
		{
			name:  "sha256 and sha512 of one name combine",
			input: hexA + "  a.txt\n" + hex512 + "  a.txt\n",
			want:  []subject.Subject{{Name: "a.txt", Digest: map[string]string{"sha256": hexA, "sha512": hex512}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.ParseChecksums(strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("ParseChecksums: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestParseChecksumsErrors(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantLine int
	}{
		{name: "short digest", input: hexA[:63] + "  a.txt\n", wantLine: 1},
		{name: "sha1 length", input: strings.Repeat("a", 40) + "  a.txt\n", wantLine: 1},
		{name: "non-hex digit", input: "\n" + hexA[:63] + "g  a.txt\n", wantLine: 2},
		{name: "one space", input: hexA + " a.txt\n", wantLine: 1},
		{name: "tab separator", input: hexA + "\ta.txt\n", wantLine: 1},
		{name: "no separator", input: hexA + "\n", wantLine: 1},
		{name: "missing name", input: hexA + "  \n", wantLine: 1},
		{name: "missing name binary", input: hexA + " *", wantLine: 1},
		{name: "leading blanks", input: "  " + hexA + "  a.txt\n", wantLine: 1},
		{name: "BSD tag format", input: "SHA256 (a.txt) = " + hexA + "\n", wantLine: 1},
		{name: "digest prefix", input: "sha256:" + hexA + "  a.txt\n", wantLine: 1},
		{name: "third line bad", input: hexA + "  a\n" + hexB + "  b\nnot a checksum\n", wantLine: 3},
		{name: "unknown escape", input: `\` + hexA + `  a\tb` + "\n", wantLine: 1},
		{name: "lone backslash", input: `\` + hexA + `  a\` + "\n", wantLine: 1},
		{name: "invalid UTF-8 name", input: hexA + "  a\xff\n", wantLine: 1},
		{name: "NUL in name", input: hexA + "  a\x00b\n", wantLine: 1},
		{name: "line too long", input: hexA + "  a\n" + hexA + "  " + strings.Repeat("x", 1<<20) + "\n", wantLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subject.ParseChecksums(strings.NewReader(tt.input))
			if !errors.Is(err, subject.ErrMalformedChecksums) {
				t.Fatalf("ParseChecksums = %v, %v; want ErrMalformedChecksums", got, err)
			}
			var le *subject.LineError
			if !errors.As(err, &le) || le.Line != tt.wantLine {
				t.Fatalf("err = %v; want a *LineError for line %d", err, tt.wantLine)
			}
			if le.Reason == "" {
				t.Error("LineError has no reason")
			}
		})
	}
}

func TestParseChecksumsConflict(t *testing.T) {
	input := hexA + "  a.txt\n" + hexB + "  a.txt\n"
	_, err := subject.ParseChecksums(strings.NewReader(input))
	var ce *subject.ConflictError
	if !errors.Is(err, subject.ErrConflict) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConflictError", err)
	}
	want := subject.ConflictError{Name: "a.txt", Algorithm: "sha256", First: hexA, Second: hexB}
	if *ce != want {
		t.Errorf("got %+v, want %+v", *ce, want)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseChecksumsReadError(t *testing.T) {
	_, err := subject.ParseChecksums(failingReader{})
	if err == nil || errors.Is(err, subject.ErrMalformedChecksums) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
}

// formatChecksums writes subjects the way sha256sum does, escaping names as
// coreutils does.
func formatChecksums(subjects []subject.Subject) string {
	var b strings.Builder
	for _, s := range subjects {
		for _, alg := range []string{"sha256", "sha512"} {
			hex, ok := s.Digest[alg]
			if !ok {
				continue
			}
			name := s.Name
			if strings.ContainsAny(name, "\\\n\r") {
				name = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(name)
				b.WriteString(`\`)
			}
			fmt.Fprintf(&b, "%s  %s\n", hex, name)
		}
	}
	return b.String()
}

func FuzzParseChecksums(f *testing.F) {
	seeds := []string{
		"",
		"\n\n",
		hexA + "  a.txt\n",
		hexA + " *a.txt\r\n" + hex512 + "  b.txt",
		`\` + hexA + `  x\ny\\z` + "\n",
		strings.ToUpper(hexB) + "   spaced name\n",
		hexA + "  a\n" + hexB + "  a\n",
		"SHA256 (a) = " + hexA,
		hexA + " a",
		`\` + hexA + `  a\`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		got, err := subject.ParseChecksums(strings.NewReader(input))
		if err != nil {
			if !errors.Is(err, subject.ErrMalformedChecksums) && !errors.Is(err, subject.ErrConflict) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for i, s := range got {
			if _, err := subject.FromNameDigest(s.Name, "sha256:"+hexA); err != nil {
				t.Fatalf("accepted a bad name %q: %v", s.Name, err)
			}
			if len(s.Digest) == 0 {
				t.Fatalf("subject %q has no digest", s.Name)
			}
			for alg, hex := range s.Digest {
				if _, _, err := subject.ParseDigest(alg + ":" + hex); err != nil {
					t.Fatalf("subject %q: accepted a bad digest: %v", s.Name, err)
				}
			}
			if i > 0 && got[i-1].Name >= s.Name {
				t.Fatalf("not sorted or not unique: %q then %q", got[i-1].Name, s.Name)
			}
		}
		again, err := subject.ParseChecksums(strings.NewReader(formatChecksums(got)))
		if err != nil {
			t.Fatalf("re-parsing formatted output: %v", err)
		}
		if !reflect.DeepEqual(again, got) && !(len(again) == 0 && len(got) == 0) {
			t.Fatalf("round trip changed subjects:\n got %v\nwant %v", again, got)
		}
		if !slices.IsSortedFunc(got, func(a, b subject.Subject) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("not sorted")
		}
	})
}
