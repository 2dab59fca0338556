// Package adversarial reads the verifier's adversarial corpus
// (testdata/adversarial): signed bundles an attacker could make,
// each with the verify-artifact flags it is checked under and the verdict
// it must get, beside honest cases that must pass. The verifier's table
// test and the CLI's both run it; the verifier's tests regenerate it on a
// sandbox with -update.
package adversarial

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// IssuerPlaceholder stands for Manifest.Issuer in a case's flags and
// policy files.
const IssuerPlaceholder = "$ISSUER"

// MaxBundleSize is the verifier's bundle size limit, which the oversized
// synthetic input exceeds.
const MaxBundleSize = 4 << 20

// Manifest is the corpus's cases.json.
type Manifest struct {
	Comment string `json:"comment"`
	// Issuer is the sandbox OIDC issuer the certificates name.
	Issuer    string    `json:"issuer"`
	Generated time.Time `json:"generated"`
	// Artifact is the file every statement is about.
	Artifact string `json:"artifact"`
	Cases    []Case `json:"cases"`

	dir string
}

// Case is one case of the corpus.
type Case struct {
	Name string `json:"name"`
	// Class is the attack class the case stands for ("honest" for the
	// cases that must pass).
	Class string `json:"class"`
	// Bundle is the file verified, or Synthetic names bytes Input makes
	// (too large for the repository).
	Bundle    string `json:"bundle,omitempty"`
	Synthetic string `json:"synthetic,omitempty"`
	// Args are verify-artifact's flags; Policy a policy file beside them;
	// SPIFFEBundle adds --spiffe-trust-bundle spiffe-bundle.pem.
	Args         []string `json:"args,omitempty"`
	Policy       string   `json:"policy,omitempty"`
	SPIFFEBundle bool     `json:"spiffeBundle,omitempty"`
	// Attestations are bundle files given beside the provenance with
	// --attestation-path: the attestations a policy requires
	// (attestations.require).
	Attestations []string `json:"attestations,omitempty"`
	// Digests are the algorithms the artifact is presented with (sha256
	// when empty).
	Digests []string `json:"digests,omitempty"`
	// VSA verifies a verification summary instead, signed by SAN.
	VSA    *VSA   `json:"vsa,omitempty"`
	Expect Expect `json:"expect"`
}

// VSA says which verifier a summary case expects.
type VSA struct {
	SAN      string `json:"san"`
	MinLevel int    `json:"minLevel"`
}

// Expect is the verdict: a pass at Level, or a failure of Check wrapping
// the sentinel error named Error, whose fix contains Fix.
type Expect struct {
	Check string `json:"check,omitempty"`
	Error string `json:"error,omitempty"`
	Fix   string `json:"fix,omitempty"`
	Level int    `json:"level,omitempty"`
}

// Load reads dir/cases.json.
func Load(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s/cases.json: %w", dir, err)
	}
	m.dir = dir
	return &m, nil
}

// Path is the path of a file of the corpus.
func (m *Manifest) Path(name string) string { return filepath.Join(m.dir, name) }

// Args returns a case's flags with the placeholder replaced.
func (m *Manifest) Args(c Case) []string {
	out := make([]string, len(c.Args))
	for i, a := range c.Args {
		out[i] = strings.ReplaceAll(a, IssuerPlaceholder, m.Issuer)
	}
	return out
}

// Policy returns a case's policy file with the placeholder replaced.
func (m *Manifest) Policy(c Case) ([]byte, error) {
	data, err := os.ReadFile(m.Path(c.Policy))
	if err != nil {
		return nil, err
	}
	return []byte(strings.ReplaceAll(string(data), IssuerPlaceholder, m.Issuer)), nil
}

// Input returns a case's bundle bytes: the file, or the synthetic input
// the case names.
func (m *Manifest) Input(c Case) ([]byte, error) {
	switch c.Synthetic {
	case "":
		return os.ReadFile(m.Path(c.Bundle))
	case "oversized-bundle":
		// A bundle over the size limit: refused before it is parsed.
		return []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","padding":"` + strings.Repeat("A", MaxBundleSize) + `"}`), nil
	case "deeply-nested-bundle":
		// A bundle within the size limit, nested a million deep.
		const depth = 1 << 20
		return []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`), nil
	}
	return nil, fmt.Errorf("case %s: unknown synthetic input %q", c.Name, c.Synthetic)
}

// Digest is an artifact digest as "alg:hex".
type Digest struct{ Algorithm, Hex string }

// Digests are the artifact's digests a case presents.
func (m *Manifest) Digests(c Case) ([]Digest, error) {
	data, err := os.ReadFile(m.Path(m.Artifact))
	if err != nil {
		return nil, err
	}
	algs := c.Digests
	if len(algs) == 0 {
		algs = []string{"sha256"}
	}
	var out []Digest
	for _, a := range algs {
		var sum []byte
		switch a {
		case "sha256":
			s := sha256.Sum256(data)
			sum = s[:]
		case "sha512":
			s := sha512.Sum512(data)
			sum = s[:]
		default:
			return nil, fmt.Errorf("case %s: digest %s", c.Name, a)
		}
		out = append(out, Digest{Algorithm: a, Hex: hex.EncodeToString(sum)})
	}
	return out, nil
}
