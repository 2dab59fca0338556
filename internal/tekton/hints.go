package tekton

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	v1 "github.com/in-toto/attestation/go/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

// Type-hint names and suffixes, as Tekton Chains reads them.
const (
	hintImageURL        = "IMAGE_URL"
	hintImageDigest     = "IMAGE_DIGEST"
	hintImages          = "IMAGES"
	hintArtifactOutputs = "ARTIFACT_OUTPUTS"
	hintArtifactInputs  = "ARTIFACT_INPUTS"
	hintGitURL          = "CHAINS-GIT_URL"
	hintGitCommit       = "CHAINS-GIT_COMMIT"
)

// maxHintValues bounds how many values one run's hints may name; a run
// declaring more is cut, with a warning.
const maxHintValues = 4 * subject.MaxPerStatement

// maxWarnings bounds the warnings kept for one run.
const maxWarnings = 100

// Result is one named value a run or step produced or was given: a
// TaskRun, step or PipelineRun result, or a parameter.
type Result struct {
	Name  string
	Value pipelinev1.ParamValue
}

// Hints is what the type hints of one producer — a TaskRun's results, one
// step's results, or a PipelineRun's results — say on their own. Hints of
// different producers are never paired with each other: an *IMAGE_URL is
// read with the *IMAGE_DIGEST of the same producer, a CHAINS-GIT_URL with
// the CHAINS-GIT_COMMIT of the same run.
type Hints struct {
	// Subjects are the artifacts built, in the order the hints name them,
	// with entries for one artifact merged.
	Subjects []subject.Subject
	// Images are the container images among Subjects, as
	// REPOSITORY@ALG:HEX, where their attestations can be attached.
	Images []string
	// Inputs are the artifacts *ARTIFACT_INPUTS results name.
	Inputs []*v1.ResourceDescriptor
	// Git is the source CHAINS-GIT_URL and CHAINS-GIT_COMMIT name, when
	// both are set, as Chains records it (git+URL.git).
	Git *v1.ResourceDescriptor
	// GitURL is CHAINS-GIT_URL as the run wrote it (without credentials),
	// which the tenancy policy reads: Chains' form can hide the repository
	// (a URL ending in ".git/" becomes ".git/.git").
	GitURL string
	// Warnings describe hints that were malformed and skipped.
	Warnings []string
}

// ParseHints reads the type hints of one producer: results are what it
// wrote; params are what it was given, lowest precedence first (its
// spec's parameter defaults, then the run's parameters). It never fails: a
// hint it cannot read is skipped with a warning.
//
// Subjects come from IMAGES, *IMAGE_URL with *IMAGE_DIGEST, and
// *ARTIFACT_OUTPUTS objects whose isBuildArtifact is "true", as Chains'
// slsa/v2alpha4 reads them; inputs from *ARTIFACT_INPUTS results; the git
// source from CHAINS-GIT_URL and CHAINS-GIT_COMMIT, a result overriding a
// parameter of the same name.
func ParseHints(results, params []Result) Hints {
	var h Hints
	warn := func(format string, a ...any) {
		if len(h.Warnings) < maxWarnings {
			h.Warnings = append(h.Warnings, fmt.Sprintf(format, a...))
		}
	}
	var subjects []subject.Subject
	add := func(s subject.Subject, image bool) {
		if len(subjects) >= maxHintValues {
			warn("more than %d subjects: the rest are ignored", maxHintValues)
			return
		}
		subjects = append(subjects, s)
		if image {
			h.Images = append(h.Images, imageRef(s))
		}
	}
	// Pairs of *IMAGE_URL and *IMAGE_DIGEST, by their common prefix, in
	// the order the first of each pair appears.
	type pair struct {
		url, digest    string
		urlOK, digOK   bool
		urlName, dName string
	}
	pairs := map[string]*pair{}
	var prefixes []string
	pairOf := func(prefix string) *pair {
		p, ok := pairs[prefix]
		if !ok {
			p = &pair{}
			pairs[prefix] = p
			prefixes = append(prefixes, prefix)
		}
		return p
	}
	for _, r := range results {
		switch {
		case r.Name == hintImages:
			v, ok := stringValue(r, warn)
			if !ok {
				continue
			}
			for _, ref := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == '\n' }) {
				ref = strings.TrimSpace(ref)
				if ref == "" {
					continue
				}
				s, err := subject.FromImageRef(ref)
				if err != nil {
					warn("%s: %v", hintImages, err)
					continue
				}
				add(s, true)
			}
		case strings.HasSuffix(r.Name, hintImageURL):
			v, ok := stringValue(r, warn)
			if ok && v != "" {
				p := pairOf(strings.TrimSuffix(r.Name, hintImageURL))
				p.url, p.urlOK, p.urlName = v, true, r.Name
			}
		case strings.HasSuffix(r.Name, hintImageDigest):
			v, ok := stringValue(r, warn)
			if ok && v != "" {
				p := pairOf(strings.TrimSuffix(r.Name, hintImageDigest))
				p.digest, p.digOK, p.dName = v, true, r.Name
			}
		case strings.HasSuffix(r.Name, hintArtifactOutputs):
			o, ok := object(r, warn)
			if !ok || strings.TrimSpace(o["isBuildArtifact"]) != "true" {
				// Not a build artifact: Chains records it only as a
				// byproduct, with the run's other results.
				continue
			}
			s, err := artifactSubject(o["uri"], o["digest"])
			if err != nil {
				warn("%s: %v", quote(r.Name), err)
				continue
			}
			add(s, false)
		case strings.HasSuffix(r.Name, hintArtifactInputs):
			o, ok := object(r, warn)
			if !ok {
				continue
			}
			uri := redact(strings.TrimSpace(o["uri"]))
			alg, hex, err := parseDigest(o["digest"])
			if err != nil || !absoluteURI(uri) {
				warn("%s: want an absolute uri and a digest ALG:HEX, got %s %s", quote(r.Name), quote(uri), quote(o["digest"]))
				continue
			}
			if len(h.Inputs) < maxHintValues {
				h.Inputs = append(h.Inputs, &v1.ResourceDescriptor{Name: depInput, Uri: uri, Digest: map[string]string{alg: hex}})
			}
		}
	}
	for _, prefix := range prefixes {
		p := pairs[prefix]
		switch {
		case !p.digOK:
			warn("%s has no %s", quote(p.urlName), quote(prefix+hintImageDigest))
			continue
		case !p.urlOK:
			warn("%s has no %s", quote(p.dName), quote(prefix+hintImageURL))
			continue
		}
		url := p.url
		if i := strings.LastIndexByte(url, '@'); i >= 0 {
			url = url[:i]
		}
		s, err := subject.FromImageRef(url + "@" + p.digest)
		if err != nil {
			warn("%s: %v", quote(p.urlName), err)
			continue
		}
		add(s, true)
	}
	var dropped []string
	h.Subjects, dropped = mergeSubjects(nil, subjects)
	for _, d := range dropped {
		warn("%s", d)
	}
	h.Images = keptImages(h.Images, h.Subjects)
	h.Git, h.GitURL = gitHint(append(slices.Clone(params), results...), warn)
	return h
}

// gitHint reads CHAINS-GIT_URL and CHAINS-GIT_COMMIT among rs, the last
// of each name winning, as the git source Chains records: git+URL.git at
// the commit.
func gitHint(rs []Result, warn func(string, ...any)) (*v1.ResourceDescriptor, string) {
	var url, commit string
	for _, r := range rs {
		switch r.Name {
		case hintGitURL:
			url = strings.TrimSpace(r.Value.StringVal)
		case hintGitCommit:
			commit = strings.TrimSpace(r.Value.StringVal)
		}
	}
	if url == "" && commit == "" {
		return nil, ""
	}
	url = redact(url)
	uri := spdxGit(url)
	if url == "" || commit == "" || !absoluteURI(uri) || checkHex(commit, 40) != nil {
		warn("%s %s and %s %s: want a URL and a 40-digit commit", hintGitURL, quote(url), hintGitCommit, quote(commit))
		return nil, ""
	}
	return &v1.ResourceDescriptor{Name: depInput, Uri: uri, Digest: map[string]string{"sha1": commit}}, url
}

// spdxGit writes a repository URL as Chains does: git+URL ending in .git.
func spdxGit(url string) string {
	if !strings.HasPrefix(url, "git+") {
		url = "git+" + url
	}
	if !strings.HasSuffix(url, ".git") {
		url += ".git"
	}
	return url
}

func stringValue(r Result, warn func(string, ...any)) (string, bool) {
	if r.Value.Type != pipelinev1.ParamTypeString && r.Value.Type != "" {
		warn("%s: want a string, got %s", quote(r.Name), r.Value.Type)
		return "", false
	}
	return strings.TrimSpace(r.Value.StringVal), true
}

func object(r Result, warn func(string, ...any)) (map[string]string, bool) {
	if r.Value.Type != pipelinev1.ParamTypeObject || r.Value.ObjectVal == nil {
		warn("%s: want an object {uri, digest}, got %s", quote(r.Name), r.Value.Type)
		return nil, false
	}
	return r.Value.ObjectVal, true
}

// artifactSubject is the subject of an *ARTIFACT_OUTPUTS build artifact.
func artifactSubject(uri, digest string) (subject.Subject, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" || strings.IndexByte(uri, 0) >= 0 || !utf8.ValidString(uri) {
		return subject.Subject{}, fmt.Errorf("uri %s: want a non-empty name", quote(uri))
	}
	alg, hex, err := parseDigest(digest)
	if err != nil {
		return subject.Subject{}, err
	}
	return subject.Subject{Name: uri, Digest: map[string]string{alg: hex}}, nil
}

// digestLen is the hex length of each algorithm accepted in a hint's
// digest: the ones Chains accepts (go-digest's sha256, sha384 and sha512,
// and sha1 for git commits).
var digestLen = map[string]int{"sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}

// parseDigest reads ALG:HEX, with one of the algorithms of digestLen and
// exactly its number of lowercase hex digits.
func parseDigest(s string) (alg, hex string, err error) {
	alg, hex, ok := strings.Cut(strings.TrimSpace(s), ":")
	alg = strings.ToLower(strings.TrimSpace(alg))
	hex = strings.TrimSpace(hex)
	n, known := digestLen[alg]
	if !ok || !known {
		return "", "", fmt.Errorf("digest %s: want ALG:HEX with ALG one of sha256, sha384, sha512, sha1", quote(s))
	}
	if err := checkHex(hex, n); err != nil {
		return "", "", fmt.Errorf("digest %s: %w", quote(s), err)
	}
	return alg, hex, nil
}

func checkHex(s string, n int) error {
	if len(s) != n {
		return fmt.Errorf("%d hex digits, want %d", len(s), n)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("not lowercase hex")
		}
	}
	return nil
}

// mergeSubjects appends items to subjects as Chains does: an item with the
// name of an entry and a digest in common with it is the same artifact,
// and its digests join that entry's; any other item is an artifact of its
// own, even under a name already listed (one repository, two images). An
// item that shares one digest with an entry but gives another algorithm a
// different value describes no possible artifact: every entry of that
// name is dropped, and dropped says why.
func mergeSubjects(subjects, items []subject.Subject) (merged []subject.Subject, dropped []string) {
	out := make([]subject.Subject, 0, len(subjects)+len(items))
	for _, s := range subjects {
		out = append(out, subject.Subject{Name: s.Name, Digest: maps.Clone(s.Digest)})
	}
	bad := map[string]bool{}
	for _, it := range items {
		i := slices.IndexFunc(out, func(s subject.Subject) bool { return s.Name == it.Name && shareDigest(s.Digest, it.Digest) })
		if i < 0 {
			out = append(out, subject.Subject{Name: it.Name, Digest: maps.Clone(it.Digest)})
			continue
		}
		for alg, hex := range it.Digest {
			if old, ok := out[i].Digest[alg]; ok && old != hex {
				if !bad[it.Name] {
					dropped = append(dropped, fmt.Sprintf("subject %s: one artifact given two %s digests (%s and %s): every entry of that name is ignored", quote(it.Name), alg, old, hex))
				}
				bad[it.Name] = true
			}
			out[i].Digest[alg] = hex
		}
	}
	if len(bad) > 0 {
		out = slices.DeleteFunc(out, func(s subject.Subject) bool { return bad[s.Name] })
	}
	return out, dropped
}

func shareDigest(a, b map[string]string) bool {
	for alg, hex := range a {
		if b[alg] == hex {
			return true
		}
	}
	return false
}

// sortSubjects orders subjects by name, then by digest, so one run always
// gives one statement.
func sortSubjects(s []subject.Subject) {
	slices.SortStableFunc(s, func(a, b subject.Subject) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(digestKey(a.Digest), digestKey(b.Digest))
	})
}

func digestKey(d map[string]string) string {
	var b strings.Builder
	for _, alg := range slices.Sorted(maps.Keys(d)) {
		b.WriteString(alg + ":" + d[alg] + ",")
	}
	return b.String()
}

// keptImages keeps the image references whose subject survived merging,
// once each.
func keptImages(images []string, subjects []subject.Subject) []string {
	kept := map[string]bool{}
	for _, s := range subjects {
		for alg, hex := range s.Digest {
			kept[s.Name+"@"+alg+":"+hex] = true
		}
	}
	var out []string
	for _, ref := range images {
		if kept[ref] && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// quote shortens and quotes untrusted text for a warning, without the
// credentials a URL in it may carry.
func quote(s string) string {
	s = redact(s)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// redact replaces the user information of a URL (SCHEME://USER:TOKEN@HOST)
// with "REDACTED": run results and params are written by the tenant's
// steps, and a clone URL with a token in it must reach neither a log nor a
// signed statement.
func redact(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 || rest[:at] == "git" {
		// No user, or ssh's customary one.
		return s
	}
	return s[:i+3] + "REDACTED" + rest[at:]
}

// imageRef writes an image subject as REPOSITORY@ALG:HEX.
func imageRef(s subject.Subject) string {
	for _, alg := range []string{subject.SHA256, subject.SHA512} {
		if hex, ok := s.Digest[alg]; ok {
			return s.Name + "@" + alg + ":" + hex
		}
	}
	return ""
}
