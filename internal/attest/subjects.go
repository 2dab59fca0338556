package attest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/digest"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// collectSubjects gathers and merges the subjects of every kind r names.
func collectSubjects(ctx context.Context, r Request, stdin io.Reader) ([]subject.Subject, error) {
	var lists [][]subject.Subject
	if len(r.SubjectPaths) > 0 {
		s, err := subject.FromPaths(ctx, r.SubjectPaths, subject.WithAlgorithms(r.digestAlgorithms()...))
		if err != nil {
			return nil, err
		}
		lists = append(lists, s)
	}
	for _, c := range r.SubjectChecksums {
		s, err := readChecksums(c, stdin)
		if err != nil {
			return nil, err
		}
		lists = append(lists, s)
	}
	if len(r.SubjectNames) != len(r.SubjectDigests) {
		return nil, fmt.Errorf("--subject-name and --subject-digest come in pairs: got %d names and %d digests", len(r.SubjectNames), len(r.SubjectDigests))
	}
	for i := range r.SubjectNames {
		s, err := subject.FromNameDigest(r.SubjectNames[i], r.SubjectDigests[i])
		if err != nil {
			return nil, err
		}
		lists = append(lists, []subject.Subject{s})
	}
	for _, ref := range r.SubjectImages {
		s, err := subject.FromImageRef(ref)
		if err != nil {
			return nil, err
		}
		lists = append(lists, []subject.Subject{s})
	}
	if len(lists) == 0 {
		return nil, errors.New("nothing to attest: give --subject-path, --subject-checksums, --subject-name/--subject-digest or --subject-image")
	}
	return subject.Merge(lists...)
}

// readChecksums reads the subjects of one --subject-checksums: a file, or
// stdin for "-".
func readChecksums(c string, stdin io.Reader) ([]subject.Subject, error) {
	r := stdin
	if c != "-" {
		fh, err := os.Open(c)
		if err != nil {
			return nil, fmt.Errorf("--subject-checksums: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	s, err := subject.ParseChecksums(r)
	if err != nil {
		return nil, fmt.Errorf("--subject-checksums %s: %w", c, err)
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("--subject-checksums %s lists no file: want sha256sum output, one \"HEX  NAME\" a line (did the build produce its files, and hash them?)", c)
	}
	return s, nil
}

// subjectGroups gathers the subjects and groups them into statements: up
// to provenance.MaxSubjects a statement, one a subject with PerSubject, one
// a digest when perImage.
func subjectGroups(ctx context.Context, r Request, perImage bool, stdin io.Reader) ([][]subject.Subject, error) {
	if perImage {
		return imageGroups(r.SubjectImages)
	}
	subjects, err := collectSubjects(ctx, r, stdin)
	if err != nil {
		return nil, err
	}
	if !r.PerSubject {
		return subject.Split(subjects, provenance.MaxSubjects), nil
	}
	groups := make([][]subject.Subject, len(subjects))
	for i, s := range subjects {
		groups[i] = []subject.Subject{s}
	}
	return groups, nil
}

// imageGroups makes one group a digest of the images refs: an image named
// twice, or in two repositories (mirrors), is one statement with a
// subject for each name.
func imageGroups(refs []string) ([][]subject.Subject, error) {
	var groups [][]subject.Subject
	at := map[string]int{}
	for _, ref := range refs {
		s, err := subject.FromImageRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--subject-images: %w", err)
		}
		d := digest.Set(s.Digest).String()
		i, ok := at[d]
		if !ok {
			i, at[d] = len(groups), len(groups)
			groups = append(groups, nil)
		}
		if !slices.ContainsFunc(groups[i], func(o subject.Subject) bool { return o.Name == s.Name }) {
			groups[i] = append(groups[i], s)
		}
	}
	return groups, nil
}

// groupLabel names a group's subjects for a message: NAME@DIGEST, ...
func groupLabel(g []subject.Subject) string {
	parts := make([]string, len(g))
	for i, s := range g {
		parts[i] = s.Name + "@" + digest.Set(s.Digest).String()
	}
	return strings.Join(parts, ", ")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// bundleBase is path without its .sigstore.json (or .json) ending: the
// base of the names of the bundles beside it.
func bundleBase(path string) string {
	return strings.TrimSuffix(strings.TrimSuffix(path, ".json"), ".sigstore")
}

// bundlePaths names the bundle files: the path itself for one bundle,
// BASE.N.sigstore.json for split statements, BASE.<subject>.sigstore.json
// per subject, BASE.<repository>-<12 digits of the digest>.sigstore.json
// per image.
func bundlePaths(path string, groups [][]subject.Subject, perSubject, perImage bool) []string {
	if len(groups) == 1 && (!perSubject || perImage) {
		return []string{path}
	}
	base := bundleBase(path)
	seen := map[string]bool{}
	paths := make([]string, len(groups))
	for i, g := range groups {
		tag := fmt.Sprint(i + 1)
		switch {
		case perImage:
			hex := g[0].Digest["sha256"]
			tag = strings.Trim(unsafeName.ReplaceAllString(filepath.Base(g[0].Name), "_"), "._") + "-" + hex[:min(12, len(hex))]
			if seen[tag] {
				tag = fmt.Sprintf("%s-%d", tag, i+1)
			}
		case perSubject:
			tag = strings.Trim(unsafeName.ReplaceAllString(filepath.Base(g[0].Name), "_"), "._")
			if tag == "" || seen[tag] {
				tag = fmt.Sprintf("%s%d", tag, i+1)
			}
		}
		seen[tag] = true
		paths[i] = base + "." + tag + ".sigstore.json"
	}
	return paths
}
