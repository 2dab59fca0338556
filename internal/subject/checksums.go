package subject

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hallmark-dev/hallmark/internal/digest"
)

// ErrMalformedChecksums is matched by errors about a checksums file that is
// not sha256sum or sha512sum output.
var ErrMalformedChecksums = errors.New("malformed checksums")

// LineError reports a line of a checksums file that could not be parsed.
type LineError struct {
	// Line is the 1-based line number.
	Line int
	// Reason says what was wrong with it.
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("checksums line %d: %s", e.Line, e.Reason)
}

// Is reports whether target is [ErrMalformedChecksums].
func (e *LineError) Is(target error) bool { return target == ErrMalformedChecksums }

// maxLine bounds one line of a checksums file; file names are far shorter.
const maxLine = 1 << 20

// ParseChecksums reads the output of sha256sum or sha512sum (GNU coreutils
// format) and returns one subject per file name.
//
// Each line is "HEX  NAME" (text mode) or "HEX *NAME" (binary mode). The
// algorithm follows from the length of HEX: 64 hex digits for sha256, 128 for
// sha512. Hex digits may be upper or lower case and are stored lowercase. A
// line starting with a backslash has an escaped NAME, as coreutils writes
// names holding a newline, carriage return or backslash: "\\n", "\\r" and
// "\\\\" stand for those. A carriage return ending a line is dropped, so
// files written on Windows parse. Blank lines are ignored. Any other line is a
// [*LineError] naming its line number and what was wrong; so is a name that is
// not valid UTF-8, since it could not be written into a statement.
//
// The result is merged as by [Merge]: sorted by name, with a name listed twice
// kept once and a name listed with two different digests an error.
func ParseChecksums(r io.Reader) ([]Subject, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	var list []Subject
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		s, err := parseChecksumLine(string(line))
		if err != nil {
			return nil, &LineError{Line: n, Reason: err.Error()}
		}
		list = append(list, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{Line: n + 1, Reason: fmt.Sprintf("longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("reading checksums: %w", err)
	}
	return Merge(list)
}

func parseChecksumLine(line string) (Subject, error) {
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	hex, rest, ok := strings.Cut(line, " ")
	if !ok {
		return Subject{}, errors.New(`want "HEX  NAME" or "HEX *NAME"`)
	}
	var alg string
	switch len(hex) {
	case 64:
		alg = SHA256
	case 128:
		alg = SHA512
	default:
		return Subject{}, fmt.Errorf("digest has %d characters, want 64 (sha256) or 128 (sha512) hex digits", len(hex))
	}
	hex = strings.ToLower(hex)
	if err := digest.CheckHex(hex, len(hex)); err != nil {
		return Subject{}, err
	}
	if rest == "" || (rest[0] != ' ' && rest[0] != '*') {
		return Subject{}, errors.New(`want two spaces or " *" between digest and name`)
	}
	name := rest[1:]
	if escaped {
		var err error
		if name, err = unescapeName(name); err != nil {
			return Subject{}, err
		}
	}
	if name == "" {
		return Subject{}, errors.New("missing file name")
	}
	if !utf8.ValidString(name) {
		return Subject{}, fmt.Errorf("file name %q is not valid UTF-8", name)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return Subject{}, fmt.Errorf("file name %q contains a NUL byte", name)
	}
	return Subject{Name: name, Digest: map[string]string{alg: hex}}, nil
}

// unescapeName undoes coreutils' escaping of a file name.
func unescapeName(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			return "", errors.New("escaped file name ends in a lone backslash")
		}
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf(`escaped file name has unknown escape "\%c"`, s[i])
		}
	}
	return b.String(), nil
}
