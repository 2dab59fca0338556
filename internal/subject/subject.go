package subject

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxPerStatement is the largest number of subjects Hallmark puts in one
// in-toto statement. Larger lists are cut with [Split] and attested in several
// statements.
const MaxPerStatement = 1024

// Subject is one artifact an attestation is about.
type Subject struct {
	// Name identifies the artifact: a path for files, a repository name for
	// container images, or whatever the user gave.
	Name string
	// Digest maps an algorithm name ("sha256", "sha512") to the artifact's
	// digest in lowercase hexadecimal.
	Digest map[string]string
}

// ErrConflict is matched by errors reporting one subject name with two
// different digests for the same algorithm.
var ErrConflict = errors.New("conflicting digests")

// ConflictError reports a subject name that was given two different digests
// for the same algorithm, which almost always means two different files were
// listed under one name.
type ConflictError struct {
	Name      string
	Algorithm string
	// First and Second are the two hex digests, in the order they were seen.
	First, Second string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("subject %q: %s digest %s conflicts with %s", e.Name, e.Algorithm, e.First, e.Second)
}

// Is reports whether target is [ErrConflict].
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Merge combines subject lists into one. Entries with the same name are joined
// into one subject whose digest set is the union of theirs; identical entries
// collapse into one. The same name with two different digests for the same
// algorithm is a [*ConflictError]. The result is sorted by name, so equal
// inputs give equal output whatever their order. Merge does not modify its
// inputs.
func Merge(lists ...[]Subject) ([]Subject, error) {
	byName := map[string]map[string]string{}
	for _, list := range lists {
		for _, s := range list {
			digests, ok := byName[s.Name]
			if !ok {
				digests = make(map[string]string, len(s.Digest))
				byName[s.Name] = digests
			}
			for _, alg := range slices.Sorted(maps.Keys(s.Digest)) {
				hex := s.Digest[alg]
				if prev, ok := digests[alg]; ok && prev != hex {
					return nil, &ConflictError{Name: s.Name, Algorithm: alg, First: prev, Second: hex}
				}
				digests[alg] = hex
			}
		}
	}
	if len(byName) == 0 {
		return nil, nil
	}
	out := make([]Subject, 0, len(byName))
	for name, digests := range byName {
		out = append(out, Subject{Name: name, Digest: digests})
	}
	slices.SortFunc(out, func(a, b Subject) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Split cuts subjects into consecutive groups of at most max entries, keeping
// their order. A max below 1 means [MaxPerStatement]. An empty list gives no
// groups. The groups share the backing array of subjects.
func Split(subjects []Subject, max int) [][]Subject {
	if max < 1 {
		max = MaxPerStatement
	}
	var out [][]Subject
	for len(subjects) > 0 {
		n := min(max, len(subjects))
		out = append(out, subjects[:n:n])
		subjects = subjects[n:]
	}
	return out
}
