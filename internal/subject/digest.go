package subject

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hallmark-dev/hallmark/internal/digest"
)

// Algorithm names, as in-toto spells them in a digest set.
const (
	SHA256 = digest.SHA256
	SHA512 = digest.SHA512
)

var (
	// ErrMalformedDigest is matched by errors about a digest that is not
	// "sha256:" followed by 64, or "sha512:" followed by 128, lowercase hex
	// digits.
	ErrMalformedDigest = digest.ErrMalformed
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
	d, err := digest.Parse(s, SHA256, SHA512)
	return d.Algorithm, d.Hex, err
}

// FromNameDigest makes a subject from a name and a digest written "ALG:HEX"
// (see [ParseDigest]). The name is kept as given; it must be non-empty valid
// UTF-8 without NUL bytes.
func FromNameDigest(name, d string) (Subject, error) {
	if err := checkName(name); err != nil {
		return Subject{}, err
	}
	alg, hex, err := ParseDigest(d)
	if err != nil {
		return Subject{}, fmt.Errorf("subject %q: %w", name, err)
	}
	return Subject{Name: name, Digest: map[string]string{alg: hex}}, nil
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

// short quotes s for an error message, cutting it if it is long so that a
// garbage input does not flood the terminal.
func short(s string) string { return digest.Quote(s) }
