package realworld

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// ManifestFile is the manifest's name inside a corpus folder.
const ManifestFile = "cases.json"

// SchemaVersion is the manifest schema this package reads.
const SchemaVersion = 1

// ErrInvalidManifest is wrapped by every error Parse and Load return for a
// manifest that does not follow the schema.
var ErrInvalidManifest = errors.New("invalid corpus manifest")

// ErrCorpusMismatch is wrapped by every error Check returns for a file that
// is missing or differs from what the manifest records.
var ErrCorpusMismatch = errors.New("corpus does not match its manifest")

// Verdict is what the source project's test expects of a case.
type Verdict string

// The two verdicts.
const (
	Accept Verdict = "accept"
	Reject Verdict = "reject"
)

// Kinds of trust material.
const (
	// TrustSigstoreRoot is a Sigstore trusted_root.json (or one line of a
	// JSON-lines file of them, as `gh attestation trusted-root` prints).
	TrustSigstoreRoot = "sigstore-trusted-root"
	// TrustNPMRegistryKeys is npm's keys.json: the keys the registry signs
	// publish attestations with.
	TrustNPMRegistryKeys = "npm-registry-keys"
	// TrustGCBKeys is a folder of Google Cloud Build attestor public keys.
	TrustGCBKeys = "gcb-kms-keys"
	// TrustPublicKey is one PEM public key.
	TrustPublicKey = "public-key-pem"
)

// Formats of the signed evidence a case points at.
const (
	FormatSigstoreBundle      = "sigstore-bundle"           // one Sigstore bundle (any media type version)
	FormatSigstoreBundleJSONL = "sigstore-bundle-jsonl"     // Sigstore bundles, one per line
	FormatDSSEEnvelope        = "dsse-envelope"             // a bare DSSE envelope (slsa-github-generator <= v2.0.0, VSAs)
	FormatNPMAttestations     = "npm-attestations"          // the npm registry's attestations response: provenance and publish bundles
	FormatCosignAttestation   = "cosign-legacy-attestation" // an OCI layout holding the image and cosign's .att manifest
	FormatGCBDescribe         = "gcb-gcloud-describe-json"  // `gcloud builds describe` output with Cloud Build provenance
)

var (
	knownTrust   = map[string]bool{TrustSigstoreRoot: true, TrustNPMRegistryKeys: true, TrustGCBKeys: true, TrustPublicKey: true}
	knownFormats = map[string]bool{
		FormatSigstoreBundle: true, FormatSigstoreBundleJSONL: true, FormatDSSEEnvelope: true,
		FormatNPMAttestations: true, FormatCosignAttestation: true, FormatGCBDescribe: true,
	}
	digestLen = map[string]int{"sha256": sha256.Size, "sha512": sha512.Size}
	flagName  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// Manifest is a parsed cases.json.
type Manifest struct {
	SchemaVersion int              `json:"schemaVersion"`
	Description   string           `json:"description"`
	Trust         map[string]Trust `json:"trust"`
	Cases         []Case           `json:"cases"`

	dir string
}

// Trust is one piece of trust material cases refer to by its key in
// Manifest.Trust.
type Trust struct {
	Kind string `json:"kind"`
	// File is the material's path, relative to the corpus folder.
	File string `json:"file,omitempty"`
	// Line, when set, picks one line (from 1) of a JSON-lines File.
	Line int `json:"line,omitempty"`
	// Dir is a folder of keys (TrustGCBKeys only).
	Dir         string `json:"dir,omitempty"`
	Description string `json:"description"`
}

// Digests maps an algorithm ("sha256", "sha512") to a lowercase hex digest.
type Digests map[string]string

// Artifact is one artifact a case verifies: a copied file, its digests, or
// only digests when the upstream file is too large to copy.
type Artifact struct {
	File    string  `json:"artifact,omitempty"`
	Digests Digests `json:"digests"`
}

// Case is one verification with the verdict its source states.
type Case struct {
	// Name is unique and stable: source/builder-or-fixture/what.
	Name string `json:"name"`
	// Source is the project whose test states the verdict.
	Source string `json:"source"`
	// Kind is the builder or kind of evidence (gha_go, gha_delegator, npm-cli, ...).
	Kind string `json:"kind"`
	// Command is the source's command for this case (verify-artifact,
	// verify-image, verify-npm-package, gh attestation verify, ...).
	Command string `json:"command"`

	// Bundle is the signed evidence's path; OCILayout replaces it for
	// image cases.
	Bundle       string `json:"bundle,omitempty"`
	OCILayout    string `json:"ociLayout,omitempty"`
	BundleFormat string `json:"bundleFormat"`

	// Artifact and Digests describe the one artifact; Artifacts replaces
	// both when a case verifies several.
	Artifact  string     `json:"artifact,omitempty"`
	Digests   Digests    `json:"digests,omitempty"`
	Artifacts []Artifact `json:"artifacts,omitempty"`

	// DigestFile is the upstream file an image digest was read from.
	DigestFile string `json:"digestFile,omitempty"`
	// Readme is the upstream explanation of the case, when it has one.
	Readme string `json:"readme,omitempty"`

	// TrustedRoot names the Sigstore trusted root (a Manifest.Trust key).
	TrustedRoot string `json:"trustedRoot,omitempty"`
	// Trust names further trust material (npm keys, GCB keys, a public key).
	Trust []string `json:"trust,omitempty"`

	// Flags are the source's options for the case under Hallmark's flag
	// names where Hallmark has one, the source's names otherwise.
	Flags Flags `json:"flags,omitempty"`

	Expect Verdict `json:"expect"`
	// Level is the SLSA level the source states, when it states one.
	Level string `json:"level,omitempty"`
	// Reason is the source's error or its description of the case.
	Reason string `json:"reason"`
	// SourceError is the source's error value, when its test names one.
	SourceError string `json:"sourceError,omitempty"`
	// Origin names the source's test file, test and case.
	Origin string `json:"origin"`
	// Needs says what, beyond offline verification, the source's verdict
	// depends on.
	Needs string `json:"needs,omitempty"`
	Note  string `json:"note,omitempty"`
}

// Flags maps a flag name to its values; a repeatable flag has several.
type Flags map[string][]string

// UnmarshalJSON takes a string or an array of strings for each flag.
func (f *Flags) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Flags, len(raw))
	for name, v := range raw {
		var one string
		if err := json.Unmarshal(v, &one); err == nil {
			out[name] = []string{one}
			continue
		}
		var many []string
		if err := json.Unmarshal(v, &many); err != nil {
			return fmt.Errorf("flag %q: want a string or an array of strings", name)
		}
		out[name] = many
	}
	*f = out
	return nil
}

// Args renders the flags as command-line arguments, --name=value, sorted by
// name and in manifest order within a name.
func (c *Case) Args() []string {
	names := make([]string, 0, len(c.Flags))
	for n := range c.Flags {
		names = append(names, n)
	}
	sort.Strings(names)
	var args []string
	for _, n := range names {
		for _, v := range c.Flags[n] {
			args = append(args, "--"+n+"="+v)
		}
	}
	return args
}

// AllArtifacts returns the case's artifacts whichever way the manifest
// lists them; none for a case whose subject is given in its flags (a VSA's
// --subject-digest).
func (c *Case) AllArtifacts() []Artifact {
	if len(c.Artifacts) > 0 {
		return c.Artifacts
	}
	if c.Artifact == "" && len(c.Digests) == 0 {
		return nil
	}
	return []Artifact{{File: c.Artifact, Digests: c.Digests}}
}

// Load reads and checks dir/cases.json. Paths in the manifest are relative
// to dir; Manifest.Path resolves them.
func Load(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("reading corpus manifest: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	m.dir = dir
	return m, nil
}

// Parse decodes and checks a manifest. It refuses unknown fields, unknown
// references and paths that leave the corpus folder.
func Parse(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the manifest object", ErrInvalidManifest)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.SchemaVersion != SchemaVersion {
		return fmt.Errorf("schemaVersion: want %d, got %d", SchemaVersion, m.SchemaVersion)
	}
	for id, t := range m.Trust {
		if err := t.validate(); err != nil {
			return fmt.Errorf("trust %q: %v", id, err)
		}
	}
	if len(m.Cases) == 0 {
		return errors.New("no cases")
	}
	seen := make(map[string]bool, len(m.Cases))
	for i := range m.Cases {
		c := &m.Cases[i]
		if c.Name == "" {
			return fmt.Errorf("case %d: empty name", i)
		}
		if seen[c.Name] {
			return fmt.Errorf("case %q: name used twice", c.Name)
		}
		seen[c.Name] = true
		if err := m.validateCase(c); err != nil {
			return fmt.Errorf("case %q: %v", c.Name, err)
		}
	}
	return nil
}

func (t Trust) validate() error {
	if !knownTrust[t.Kind] {
		return fmt.Errorf("unknown kind %q", t.Kind)
	}
	if t.Description == "" {
		return errors.New("empty description")
	}
	if t.Kind == TrustGCBKeys {
		if t.File != "" || t.Line != 0 {
			return errors.New("a key folder takes dir only")
		}
		return checkRel("dir", t.Dir)
	}
	if t.Dir != "" {
		return errors.New("dir is only for " + TrustGCBKeys)
	}
	if t.Line < 0 {
		return fmt.Errorf("line %d: lines count from 1", t.Line)
	}
	return checkRel("file", t.File)
}

func (m *Manifest) validateCase(c *Case) error {
	for field, v := range map[string]string{
		"source": c.Source, "kind": c.Kind, "command": c.Command, "reason": c.Reason, "origin": c.Origin,
	} {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty %s", field)
		}
	}
	if c.Expect != Accept && c.Expect != Reject {
		return fmt.Errorf("expect: want %q or %q, got %q", Accept, Reject, c.Expect)
	}
	if !knownFormats[c.BundleFormat] {
		return fmt.Errorf("unknown bundleFormat %q", c.BundleFormat)
	}
	switch {
	case c.Bundle != "" && c.OCILayout != "":
		return errors.New("both bundle and ociLayout")
	case c.OCILayout != "":
		if c.BundleFormat != FormatCosignAttestation {
			return fmt.Errorf("ociLayout with bundleFormat %q", c.BundleFormat)
		}
		if err := checkRel("ociLayout", c.OCILayout); err != nil {
			return err
		}
	default:
		if err := checkRel("bundle", c.Bundle); err != nil {
			return err
		}
	}
	if len(c.Artifacts) > 0 {
		if c.Artifact != "" || len(c.Digests) > 0 {
			return errors.New("artifacts together with artifact or digests")
		}
	}
	for i, a := range c.AllArtifacts() {
		if a.File != "" {
			if err := checkRel("artifact", a.File); err != nil {
				return err
			}
		}
		if err := a.Digests.validate(); err != nil {
			return fmt.Errorf("artifact %d: %v", i, err)
		}
	}
	for field, p := range map[string]string{"digestFile": c.DigestFile, "readme": c.Readme} {
		if p != "" {
			if err := checkRel(field, p); err != nil {
				return err
			}
		}
	}
	if c.TrustedRoot == "" && len(c.Trust) == 0 {
		return errors.New("no trust material")
	}
	if c.TrustedRoot != "" {
		t, ok := m.Trust[c.TrustedRoot]
		if !ok {
			return fmt.Errorf("trustedRoot %q: no such trust entry", c.TrustedRoot)
		}
		if t.Kind != TrustSigstoreRoot {
			return fmt.Errorf("trustedRoot %q is a %s", c.TrustedRoot, t.Kind)
		}
	}
	for _, id := range c.Trust {
		if _, ok := m.Trust[id]; !ok {
			return fmt.Errorf("trust %q: no such trust entry", id)
		}
	}
	for name, vals := range c.Flags {
		if !flagName.MatchString(name) {
			return fmt.Errorf("flag name %q", name)
		}
		if len(vals) == 0 {
			return fmt.Errorf("flag %q has no value", name)
		}
	}
	return nil
}

func (d Digests) validate() error {
	if len(d) == 0 {
		return errors.New("no digests")
	}
	for alg, h := range d {
		n, ok := digestLen[alg]
		if !ok {
			return fmt.Errorf("unknown digest algorithm %q", alg)
		}
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != n || h != strings.ToLower(h) {
			return fmt.Errorf("%s: want %d bytes of lowercase hex, got %q", alg, n, h)
		}
	}
	return nil
}

// checkRel accepts a clean slash-separated path inside the corpus folder.
func checkRel(field, p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty %s", field)
	case strings.Contains(p, `\`):
		return fmt.Errorf("%s %q: use forward slashes", field, p)
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("%s %q: want a path relative to the corpus folder", field, p)
	case path.Clean(p) != p:
		return fmt.Errorf("%s %q: not a clean path", field, p)
	case p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("%s %q: leaves the corpus folder", field, p)
	}
	return nil
}

// Dir is the corpus folder Load read the manifest from.
func (m *Manifest) Dir() string { return m.dir }

// Path resolves a manifest path against the corpus folder.
func (m *Manifest) Path(rel string) string {
	return filepath.Join(m.dir, filepath.FromSlash(rel))
}

// TrustedRoot returns the bytes of the Sigstore trusted root named id: the
// whole file, or its Line-th line.
func (m *Manifest) TrustedRoot(id string) ([]byte, error) {
	t, ok := m.Trust[id]
	if !ok {
		return nil, fmt.Errorf("trusted root %q: no such trust entry", id)
	}
	if t.Kind != TrustSigstoreRoot {
		return nil, fmt.Errorf("trusted root %q: is a %s", id, t.Kind)
	}
	b, err := os.ReadFile(m.Path(t.File))
	if err != nil {
		return nil, fmt.Errorf("trusted root %q: %w", id, err)
	}
	if t.Line == 0 {
		return b, nil
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if t.Line > len(lines) {
		return nil, fmt.Errorf("trusted root %q: %s has %d lines, want line %d", id, t.File, len(lines), t.Line)
	}
	return lines[t.Line-1], nil
}

// References lists every path the manifest names, files and folders,
// relative to the corpus folder and sorted.
func (m *Manifest) References() []string {
	set := map[string]bool{}
	add := func(p string) {
		if p != "" {
			set[p] = true
		}
	}
	for _, t := range m.Trust {
		add(t.File)
		add(t.Dir)
	}
	for i := range m.Cases {
		c := &m.Cases[i]
		add(c.Bundle)
		add(c.OCILayout)
		add(c.DigestFile)
		add(c.Readme)
		for _, a := range c.AllArtifacts() {
			add(a.File)
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Check compares the corpus folder with the manifest: every named file
// exists, copied artifacts have the recorded digests, an image digest file
// says the recorded digest, and every trusted root is a trusted_root.json.
// It reports every difference it finds.
func (m *Manifest) Check() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrCorpusMismatch}, args...)...))
	}
	ids := make([]string, 0, len(m.Trust))
	for id := range m.Trust {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := m.Trust[id]
		if t.Dir != "" {
			if fi, err := os.Stat(m.Path(t.Dir)); err != nil || !fi.IsDir() {
				fail("trust %q: %s is not a folder", id, t.Dir)
			}
			continue
		}
		if !isFile(m.Path(t.File)) {
			fail("trust %q: %s is missing", id, t.File)
			continue
		}
		if t.Kind == TrustSigstoreRoot {
			b, err := m.TrustedRoot(id)
			if err != nil {
				fail("%v", err)
				continue
			}
			var tr struct {
				MediaType string `json:"mediaType"`
			}
			if err := json.Unmarshal(b, &tr); err != nil || !strings.HasPrefix(tr.MediaType, "application/vnd.dev.sigstore.trustedroot+json") {
				fail("trust %q: not a Sigstore trusted root", id)
			}
		}
	}
	for i := range m.Cases {
		c := &m.Cases[i]
		if c.Bundle != "" && !isFile(m.Path(c.Bundle)) {
			fail("case %q: bundle %s is missing", c.Name, c.Bundle)
		}
		if c.OCILayout != "" && !isFile(m.Path(path.Join(c.OCILayout, "index.json"))) {
			fail("case %q: %s is not an OCI layout (no index.json)", c.Name, c.OCILayout)
		}
		if c.Readme != "" && !isFile(m.Path(c.Readme)) {
			fail("case %q: readme %s is missing", c.Name, c.Readme)
		}
		if c.DigestFile != "" {
			b, err := os.ReadFile(m.Path(c.DigestFile))
			if err != nil {
				fail("case %q: digest file: %v", c.Name, err)
			} else if got, want := strings.TrimSpace(string(b)), "sha256:"+c.Digests["sha256"]; got != want {
				fail("case %q: %s says %s, manifest says %s", c.Name, c.DigestFile, got, want)
			}
		}
		for _, a := range c.AllArtifacts() {
			if a.File == "" {
				continue
			}
			if err := a.check(m.Path(a.File)); err != nil {
				fail("case %q: artifact %s: %v", c.Name, a.File, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (a Artifact) check(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	hs := map[string]hash.Hash{"sha256": sha256.New(), "sha512": sha512.New()}
	if _, err := io.Copy(io.MultiWriter(hs["sha256"], hs["sha512"]), f); err != nil {
		return err
	}
	for alg, want := range a.Digests {
		if got := hex.EncodeToString(hs[alg].Sum(nil)); got != want {
			return fmt.Errorf("%s is %s, manifest says %s", alg, got, want)
		}
	}
	return nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
