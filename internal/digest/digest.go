// Package digest is Hallmark's one artifact digest: an algorithm as in-toto
// spells it in a digest set ("sha256", "sha512", ...) and the lowercase hex of
// the hash, written "ALG:HEX". Every front end parses, validates, compares and
// formats digests here; each says which algorithms it accepts.
package digest

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
)

// Algorithm names, as in-toto spells them in a digest set.
const (
	SHA1   = "sha1"
	SHA256 = "sha256"
	SHA384 = "sha384"
	SHA512 = "sha512"
)

// ErrMalformed is matched by every error about a digest that is not
// "ALG:HEX" with an accepted algorithm and exactly its number of lowercase
// hex digits.
var ErrMalformed = errors.New("malformed digest")

// Digest is an artifact digest.
type Digest struct {
	Algorithm string
	Hex       string
}

// String reads "ALG:HEX".
func (d Digest) String() string { return d.Algorithm + ":" + d.Hex }

// HexLen is the number of hex digits of alg's hashes, for the algorithms
// in-toto's resource descriptor knows; 0 for any other.
func HexLen(alg string) int {
	a, ok := intoto.HashAlgorithms[alg]
	if !ok {
		return 0
	}
	return 2 * a.HexLength() // HexLength counts bytes
}

// Parse reads "ALG:HEX" with ALG one of algs and HEX exactly its number of
// lowercase hex digits. Anything else is an error matching [ErrMalformed]
// that quotes the input (cut when long) and says what is wrong.
func Parse(s string, algs ...string) (Digest, error) {
	alg, h, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, parseError(s, "want ALG:HEX, such as sha256:<64 hex digits>")
	}
	if !slices.Contains(algs, alg) || HexLen(alg) == 0 {
		return Digest{}, parseError(s, fmt.Sprintf("algorithm %s: want %s", Quote(alg), orList(algs)))
	}
	if err := CheckHex(h, HexLen(alg)); err != nil {
		return Digest{}, parseError(s, fmt.Sprintf("%s %v", alg, err))
	}
	return Digest{Algorithm: alg, Hex: h}, nil
}

// Check reports whether d has an algorithm in-toto knows with exactly its
// number of lowercase hex digits.
func (d Digest) Check() error {
	n := HexLen(d.Algorithm)
	if n == 0 {
		return fmt.Errorf("%w: unknown algorithm %q", ErrMalformed, d.Algorithm)
	}
	if err := CheckHex(d.Hex, n); err != nil {
		return fmt.Errorf("%w: %s %v", ErrMalformed, d.Algorithm, err)
	}
	return nil
}

// CheckHex reports whether s is exactly n lowercase hex digits, and if not,
// which character or length is wrong.
func CheckHex(s string, n int) error {
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

// Set is an in-toto digest set: algorithm to lowercase hex.
type Set map[string]string

// Digests lists the set's digests sorted by algorithm.
func (s Set) Digests() []Digest {
	out := make([]Digest, 0, len(s))
	for alg, h := range s {
		out = append(out, Digest{Algorithm: alg, Hex: h})
	}
	slices.SortFunc(out, func(a, b Digest) int { return strings.Compare(a.Algorithm, b.Algorithm) })
	return out
}

// String is the set's digests as ALG:HEX, sorted by algorithm, separated by
// spaces.
func (s Set) String() string {
	parts := make([]string, 0, len(s))
	for _, d := range s.Digests() {
		parts = append(parts, d.String())
	}
	return strings.Join(parts, " ")
}

// Has reports whether the set holds d.
func (s Set) Has(d Digest) bool {
	h, ok := s[d.Algorithm]
	return ok && h == d.Hex
}

// New returns a hash of alg, for the algorithms Hallmark computes itself:
// sha256, sha384 and sha512.
func New(alg string) (hash.Hash, error) {
	switch alg {
	case SHA256:
		return sha256.New(), nil
	case SHA384:
		return sha512.New384(), nil
	case SHA512:
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: cannot compute %s digests: want sha256, sha384 or sha512", ErrMalformed, Quote(alg))
}

// Of returns the digest of data with alg (see [New]).
func Of(alg string, data []byte) (Digest, error) {
	h, err := New(alg)
	if err != nil {
		return Digest{}, err
	}
	h.Write(data)
	return Digest{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// SHA256Of returns the sha256 digest of data.
func SHA256Of(data []byte) Digest {
	sum := sha256.Sum256(data)
	return Digest{Algorithm: SHA256, Hex: hex.EncodeToString(sum[:])}
}

func parseError(s, reason string) error {
	return fmt.Errorf("%w %s: %s", ErrMalformed, Quote(s), reason)
}

// orList is "a", "a or b", "a, b or c".
func orList(algs []string) string {
	switch len(algs) {
	case 0:
		return "no algorithm"
	case 1:
		return algs[0]
	}
	return strings.Join(algs[:len(algs)-1], ", ") + " or " + algs[len(algs)-1]
}

// Quote quotes s for an error message, cutting it if it is long so that a
// garbage input does not flood the terminal.
func Quote(s string) string {
	const max = 160
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
