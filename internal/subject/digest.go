package subject

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Algorithm names, as in-toto spells them in a digest set.
const (
	SHA256 = "sha256"
	SHA512 = "sha512"
)

// hexLen gives the length in hex digits of each algorithm this package
// accepts.
var hexLen = map[string]int{
	SHA256: 64,
	SHA512: 128,
}

var (
	// ErrMalformedDigest is matched by errors about a digest that is not
	// "sha256:" followed by 64, or "sha512:" followed by 128, lowercase hex
	// digits.
	ErrMalformedDigest = errors.New("malformed digest")
	// ErrInvalidName is matched by errors about a subject name that is empty,
	// not valid UTF-8 or contains a NUL byte. In-toto statements are JSON, so
	// their names must be valid UTF-8.
	ErrInvalidName = errors.New("invalid subject name")
)

// ParseDigest splits a digest written "ALG:HEX" into its algorithm and hex
// parts. ALG must be "sha256" or "sha512" and HEX exactly 64 or 128 lowercase
// hex digits to match. Anything else is an error matching
// [ErrMalformedDigest].
func ParseDigest(s string) (alg, hex string, err error) {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", digestError(s, "want ALG:HEX, such as sha256:<64 hex digits>")
	}
	want, ok := hexLen[alg]
	if !ok {
		return "", "", digestError(s, fmt.Sprintf("algorithm %s: want sha256 or sha512", short(alg)))
	}
	if err := checkHex(hex, want); err != nil {
		return "", "", digestError(s, fmt.Sprintf("%s %v", alg, err))
	}
	return alg, hex, nil
}

// FromNameDigest makes a subject from a name and a digest written "ALG:HEX"
// (see [ParseDigest]). The name is kept as given; it must be non-empty valid
// UTF-8 without NUL bytes.
func FromNameDigest(name, digest string) (Subject, error) {
	if err := checkName(name); err != nil {
		return Subject{}, err
	}
	alg, hex, err := ParseDigest(digest)
	if err != nil {
		return Subject{}, fmt.Errorf("subject %q: %w", name, err)
	}
	return Subject{Name: name, Digest: map[string]string{alg: hex}}, nil
}

// checkHex reports whether s is exactly n lowercase hex digits.
func checkHex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("digest has %d characters, want %d hex digits", len(s), n)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') {
			continue
		}
		if 'A' <= c && c <= 'F' {
			return fmt.Errorf("digest has uppercase hex digit %q at offset %d, want lowercase", c, i)
		}
		return fmt.Errorf("digest has non-hex character %q at offset %d", c, i)
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w %q: not valid UTF-8", ErrInvalidName, name)
	case strings.IndexByte(name, 0) >= 0:
		return fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidName, name)
	}
	return nil
}

func digestError(s, reason string) error {
	return fmt.Errorf("%w %s: %s", ErrMalformedDigest, short(s), reason)
}

// short quotes s for an error message, cutting it if it is long so that a
// garbage input does not flood the terminal.
func short(s string) string {
	const max = 160
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
