package verifier

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/internal/digest"
)

// Input limits. A real provenance bundle weighs tens of kilobytes; these
// bounds leave two orders of magnitude of headroom while keeping a hostile
// input from costing more than a few megabytes of memory.
const (
	// MaxBundleSize is the largest bundle ParseBundle accepts, in bytes.
	MaxBundleSize = 4 << 20
	// MaxBundlesSize is the largest .intoto.jsonl file ParseBundles accepts.
	MaxBundlesSize = 32 << 20
	// MaxBundles is the most bundles ParseBundles accepts in one file.
	MaxBundles = 1024
	// DefaultMaxSubjects is the default of WithMaxSubjects.
	DefaultMaxSubjects = 1024
)

// ParseBundle parses one Sigstore bundle (JSON, media type v0.1 to v0.3).
// It checks the bundle's structure as sigstore-go does, not its signatures:
// the size first, then the media type and the verification material the
// version requires (a v0.1 bundle's log entries need an inclusion promise,
// later ones an inclusion proof). A failure is a *CheckError of CheckInput.
func ParseBundle(data []byte) (*bundle.Bundle, error) {
	return parseBundle(data, MaxBundleSize)
}

// ParseBundleLimit is ParseBundle with limit bytes, instead of
// MaxBundleSize, as the largest bundle accepted: an SBOM attestation
// weighs as much as the SBOM (see DefaultMaxAttestationBundleSize).
func ParseBundleLimit(data []byte, limit int) (*bundle.Bundle, error) {
	return parseBundle(data, limit)
}

func parseBundle(data []byte, limit int) (*bundle.Bundle, error) {
	if len(data) > limit {
		return nil, fail(CheckInput, fmt.Sprintf("a bundle of at most %d bytes", limit), fmt.Sprintf("%d bytes", len(data)), ErrTooLarge)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		if isBareEnvelope(data) {
			return nil, fail(CheckInput, "a Sigstore bundle, media type v0.1 to v0.3", "a bare DSSE envelope", ErrBareEnvelope).
				with("a bare envelope (slsa-github-generator before v2.1.0 wrote .intoto.jsonl files of them) carries no certificate, log entry or timestamp: its entry is in the public Rekor log, which verify-artifact --rekor-url https://rekor.sigstore.dev looks up (online); or verify provenance from a release made with v2.1.0 or later, whose .intoto.jsonl holds Sigstore bundles")
		}
		return nil, fail(CheckInput, "a Sigstore bundle, media type v0.1 to v0.3", "one that does not parse", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return &b, nil
}

// isBareEnvelope reports whether data is a DSSE envelope itself rather
// than a bundle holding one.
func isBareEnvelope(data []byte) bool {
	var env struct {
		PayloadType string            `json:"payloadType"`
		Payload     string            `json:"payload"`
		Signatures  []json.RawMessage `json:"signatures"`
	}
	return json.Unmarshal(data, &env) == nil && env.PayloadType != "" && env.Payload != "" && len(env.Signatures) > 0
}

// ParseBundles parses a file of bundles: either one bundle in JSON, or a
// JSON-lines file (.intoto.jsonl) of which every non-blank line is a bundle.
func ParseBundles(data []byte) ([]*bundle.Bundle, error) {
	return parseBundles(data, MaxBundleSize, MaxBundlesSize)
}

// ParseBundlesLimit is ParseBundles with limit bytes, instead of
// MaxBundleSize, as the largest bundle accepted; the file may hold the
// larger of limit and MaxBundlesSize.
func ParseBundlesLimit(data []byte, limit int) ([]*bundle.Bundle, error) {
	return parseBundles(data, limit, max(limit, MaxBundlesSize))
}

func parseBundles(data []byte, limit, fileLimit int) ([]*bundle.Bundle, error) {
	if len(data) > fileLimit {
		return nil, fail(CheckInput, fmt.Sprintf("bundles of at most %d bytes", fileLimit), fmt.Sprintf("%d bytes", len(data)), ErrTooLarge)
	}
	trimmed := bytes.TrimSpace(data)
	b, err := parseBundle(trimmed, limit)
	if err == nil {
		return []*bundle.Bundle{b}, nil
	}
	if json.Valid(trimmed) {
		// One JSON document, not JSON lines: its own error says why.
		return nil, err
	}
	var out []*bundle.Bundle
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), limit+1)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if len(out) == MaxBundles {
			return nil, fail(CheckInput, fmt.Sprintf("at most %d bundles", MaxBundles), "more", ErrTooLarge)
		}
		b, err := parseBundle(text, limit)
		if err != nil {
			var ce *CheckError
			if errors.As(err, &ce) {
				ce.Got += fmt.Sprintf(" (line %d)", line)
			}
			return nil, err
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fail(CheckInput, fmt.Sprintf("lines of at most %d bytes", limit), fmt.Sprintf("a longer line %d", line+1), fmt.Errorf("%w: %w", ErrTooLarge, err))
	}
	if len(out) == 0 {
		return nil, fail(CheckInput, "a Sigstore bundle or JSON lines of bundles", "none", ErrMalformed)
	}
	return out, nil
}

// soundDigests are the digest algorithms an artifact may be matched by,
// with their sizes in bytes: collision-resistant ones only.
var soundDigests = map[string]int{"sha256": sha256.Size, "sha384": sha512.Size384, "sha512": sha512.Size}

// SoundDigestAlgorithms lists the digest algorithms Verify matches
// artifacts by: sha256, sha384 and sha512. sha1 and md5 are not
// collision-resistant and never match.
func SoundDigestAlgorithms() []string { return []string{"sha256", "sha384", "sha512"} }

// Digest is an artifact digest: an algorithm (sha256, sha384 or sha512) and
// the lowercase hex of the hash. Its String reads "sha256:hex".
type Digest = digest.Digest

// ParseDigest parses "sha256:HEX", "sha384:HEX" or "sha512:HEX". A bare hex
// string is read by its length: 64 digits as sha256, 96 as sha384, 128 as
// sha512. Uppercase hex digits are read as lowercase.
func ParseDigest(s string) (Digest, error) {
	alg, hexPart, found := strings.Cut(s, ":")
	if !found {
		hexPart = s
		for a, n := range soundDigests {
			if len(s) == 2*n {
				alg = a
			}
		}
		if alg == "" {
			return Digest{}, fmt.Errorf("parsing digest %q: %w: unknown length", s, ErrMalformed)
		}
	}
	want := soundDigests[alg]
	if want == 0 {
		return Digest{}, fmt.Errorf("parsing digest %q: %w: algorithm %q not one of sha256, sha384, sha512", s, ErrMalformed, alg)
	}
	d, err := digest.Parse(alg+":"+strings.ToLower(hexPart), SoundDigestAlgorithms()...)
	if err != nil {
		return Digest{}, fmt.Errorf("parsing digest %q: %w: want %d hex bytes", s, ErrMalformed, want)
	}
	return d, nil
}

// MustParseDigest is ParseDigest for constants; it panics on error.
func MustParseDigest(s string) Digest {
	d, err := ParseDigest(s)
	if err != nil {
		panic(err)
	}
	return d
}

// SubjectDigestAlgorithms returns the sound digest algorithms (see
// SoundDigestAlgorithms) the bundles' statements name their subjects by,
// so a caller hashes the artifact only with those; sha256 when they name
// none. It reads the payloads before any signature is checked, for this
// choice only: what it returns decides nothing about trust.
func SubjectDigestAlgorithms(bundles []*bundle.Bundle) []string {
	seen := map[string]bool{}
	for _, b := range bundles {
		env := b.GetDsseEnvelope()
		if env == nil || len(env.GetPayload()) > MaxBundleSize {
			continue
		}
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if json.Unmarshal(env.GetPayload(), &st) != nil {
			continue
		}
		for _, s := range st.Subject {
			for alg := range s.Digest {
				if _, ok := soundDigests[alg]; ok {
					seen[alg] = true
				}
			}
		}
	}
	var out []string
	for _, alg := range SoundDigestAlgorithms() {
		if seen[alg] {
			out = append(out, alg)
		}
	}
	if len(out) == 0 {
		out = []string{"sha256"}
	}
	return out
}

// SHA256 returns the sha256 digest of data.
func SHA256(data []byte) Digest { return digest.SHA256Of(data) }
