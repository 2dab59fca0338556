package tekton

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/in-toto/attestation/go/v1"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

// Type-hint names and suffixes, as Tekton Chains reads them.
const (
	hintImageURL        = "IMAGE_URL"
	hintImageDigest     = "IMAGE_DIGEST"
	hintImages          = "IMAGES"
	hintArtifactURI     = "ARTIFACT_URI"
	hintArtifactDigest  = "ARTIFACT_DIGEST"
	hintArtifactOutputs = "ARTIFACT_OUTPUTS"
	hintArtifactInputs  = "ARTIFACT_INPUTS"
	hintGitURL          = "CHAINS-GIT_URL"
	hintGitCommit       = "CHAINS-GIT_COMMIT"
)

// maxHintValues bounds how many values one run's hints may name; a run
// declaring more is cut, with a warning.
const maxHintValues = 4 * subject.MaxPerStatement

// Result is one named value a run produced or was given: a TaskRun or
// PipelineRun result, or a parameter.
type Result struct {
	Name  string
	Value pipelinev1.ParamValue
}

// Hints is what a run's type hints say.
type Hints struct {
	// Subjects are the artifacts built, merged by name.
	Subjects []subject.Subject
	// Materials are inputs named by *ARTIFACT_INPUTS and CHAINS-GIT_*.
	Materials []*v1.ResourceDescriptor
	// Byproducts are *ARTIFACT_OUTPUTS not marked as build artifacts.
	Byproducts []*v1.ResourceDescriptor
	// Images are the container images among Subjects, as
	// REPOSITORY@ALG:HEX, where their attestations can be attached.
	Images []string
	// Warnings describe hints that were malformed and skipped.
	Warnings []string
}

// ParseHints reads the type hints among outputs (results) and inputs
// (parameters and, for inputs hints, results too). It never fails: a hint
// it cannot read is skipped with a warning.
func ParseHints(outputs, inputs []Result) Hints {
	var h Hints
	var subjects []subject.Subject
	var images []string
	warn := func(format string, a ...any) {
		if len(h.Warnings) < 100 {
			h.Warnings = append(h.Warnings, fmt.Sprintf(format, a...))
		}
	}
	add := func(s subject.Subject) {
		if len(subjects) >= maxHintValues {
			warn("more than %d subjects: the rest are ignored", maxHintValues)
			return
		}
		subjects = append(subjects, s)
	}
	str := func(r Result) (string, bool) {
		if r.Value.Type != pipelinev1.ParamTypeString && r.Value.Type != "" {
			warn("%s: want a string, got %s", quote(r.Name), r.Value.Type)
			return "", false
		}
		return strings.TrimSpace(r.Value.StringVal), true
	}
	byName := make(map[string]Result, len(outputs))
	for _, r := range outputs {
		byName[r.Name] = r
	}
	// paired returns the string values of a result named PREFIX+suffix and
	// its twin PREFIX+twin (a *_URL and its *_DIGEST), warning when the twin
	// is missing.
	paired := func(r Result, suffix, twin string) (string, string, bool) {
		prefix := strings.TrimSuffix(r.Name, suffix)
		d, ok := byName[prefix+twin]
		if !ok {
			warn("%s has no %s", quote(r.Name), quote(prefix+twin))
			return "", "", false
		}
		v, ok1 := str(r)
		dv, ok2 := str(d)
		return v, dv, ok1 && ok2
	}
	for _, r := range outputs {
		switch {
		case r.Name == hintImages:
			v, ok := str(r)
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
				add(s)
				images = append(images, imageRef(s))
			}
		case strings.HasSuffix(r.Name, hintImageURL):
			url, digest, ok := paired(r, hintImageURL, hintImageDigest)
			if !ok {
				continue
			}
			if i := strings.LastIndexByte(url, '@'); i >= 0 {
				url = url[:i]
			}
			s, err := subject.FromImageRef(url + "@" + digest)
			if err != nil {
				warn("%s: %v", quote(r.Name), err)
				continue
			}
			add(s)
			images = append(images, imageRef(s))
		case strings.HasSuffix(r.Name, hintArtifactURI):
			uri, digest, ok := paired(r, hintArtifactURI, hintArtifactDigest)
			if !ok {
				continue
			}
			s, err := subject.FromNameDigest(uri, digest)
			if err != nil {
				warn("%s: %v", quote(r.Name), err)
				continue
			}
			add(s)
		case strings.HasSuffix(r.Name, hintArtifactOutputs):
			o, ok := object(r, warn)
			if !ok {
				continue
			}
			s, err := subject.FromNameDigest(o["uri"], o["digest"])
			if err != nil {
				warn("%s: %v", quote(r.Name), err)
				continue
			}
			if strings.EqualFold(strings.TrimSpace(o["isBuildArtifact"]), "true") {
				add(s)
			} else if len(h.Byproducts) < maxHintValues {
				h.Byproducts = append(h.Byproducts, &v1.ResourceDescriptor{Name: s.Name, Digest: s.Digest})
			}
		}
	}
	merged, err := subject.Merge(subjects)
	if err != nil {
		// Two digests of one algorithm for one name: trust neither.
		warn("%v: both are ignored", err)
		merged = dropConflicts(subjects)
	}
	h.Subjects = merged
	kept := map[string]bool{}
	for _, s := range merged {
		kept[imageRef(s)] = true
	}
	for _, ref := range images {
		if kept[ref] && !slices.Contains(h.Images, ref) {
			h.Images = append(h.Images, ref)
		}
	}
	h.Materials = materials(append(slices.Clone(inputs), outputs...), warn)
	return h
}

// dropConflicts merges subjects, leaving out every name that was given two
// digests of one algorithm.
func dropConflicts(subjects []subject.Subject) []subject.Subject {
	bad := map[string]bool{}
	seen := map[string]map[string]string{}
	for _, s := range subjects {
		if seen[s.Name] == nil {
			seen[s.Name] = map[string]string{}
		}
		for alg, hex := range s.Digest {
			if old, ok := seen[s.Name][alg]; ok && old != hex {
				bad[s.Name] = true
			}
			seen[s.Name][alg] = hex
		}
	}
	var keep []subject.Subject
	for _, s := range subjects {
		if !bad[s.Name] {
			keep = append(keep, s)
		}
	}
	out, _ := subject.Merge(keep)
	return out
}

func materials(rs []Result, warn func(string, ...any)) []*v1.ResourceDescriptor {
	var out []*v1.ResourceDescriptor
	seen := map[string]bool{}
	push := func(rd *v1.ResourceDescriptor) {
		key := rd.GetUri() + "\x00" + fmt.Sprint(rd.GetDigest())
		if seen[key] || len(out) >= maxHintValues {
			return
		}
		seen[key] = true
		out = append(out, rd)
	}
	var gitURL, gitCommit string
	for _, r := range rs {
		switch {
		case r.Name == hintGitURL:
			gitURL = strings.TrimSpace(r.Value.StringVal)
		case r.Name == hintGitCommit:
			gitCommit = strings.TrimSpace(r.Value.StringVal)
		case strings.HasSuffix(r.Name, hintArtifactInputs):
			o, ok := object(r, warn)
			if !ok {
				continue
			}
			uri := strings.TrimSpace(o["uri"])
			alg, hex, err := parseMaterialDigest(o["digest"])
			if err != nil || !absoluteURI(uri) {
				warn("%s: want an absolute uri and a digest ALG:HEX, got %s %s", quote(r.Name), quote(uri), quote(o["digest"]))
				continue
			}
			push(&v1.ResourceDescriptor{Name: "inputs/result", Uri: uri, Digest: map[string]string{alg: hex}})
		}
	}
	if gitURL != "" || gitCommit != "" {
		if !absoluteURI(gitURL) || checkHex(gitCommit, 40) != nil {
			warn("%s %s and %s %s: want a URL and a 40-digit commit", hintGitURL, quote(gitURL), hintGitCommit, quote(gitCommit))
		} else {
			push(&v1.ResourceDescriptor{Name: "inputs/result", Uri: "git+" + gitURL, Digest: map[string]string{"sha1": gitCommit}})
		}
	}
	return out
}

func object(r Result, warn func(string, ...any)) (map[string]string, bool) {
	if r.Value.Type != pipelinev1.ParamTypeObject || r.Value.ObjectVal == nil {
		warn("%s: want an object {uri, digest}, got %s", quote(r.Name), r.Value.Type)
		return nil, false
	}
	return r.Value.ObjectVal, true
}

// materialDigestLen is the hex length of each algorithm accepted in a
// material digest: git commits are sha1.
var materialDigestLen = map[string]int{"sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}

func parseMaterialDigest(s string) (alg, hex string, err error) {
	alg, hex, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, known := materialDigestLen[alg]
	if !ok || !known {
		return "", "", fmt.Errorf("digest %s: want ALG:HEX", quote(s))
	}
	if err := checkHex(hex, n); err != nil {
		return "", "", err
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

// quote shortens and quotes untrusted text for a warning.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return fmt.Sprintf("%q", s)
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
