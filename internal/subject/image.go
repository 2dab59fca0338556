package subject

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

var (
	// ErrMalformedImageRef is matched by errors about a string that is not a
	// container image reference.
	ErrMalformedImageRef = errors.New("malformed image reference")
	// ErrNoImageDigest is matched by errors about an image reference that is
	// not pinned by digest. A tag can be moved to another image, so an
	// attestation must name the digest.
	ErrNoImageDigest = errors.New("image reference has no digest")
)

// FromImageRef makes a subject from a container image reference pinned by
// digest, written REGISTRY/REPOSITORY[:TAG]@ALG:HEX, where ALG:HEX is as
// [ParseDigest] accepts.
//
// The subject's name is the fully qualified repository, without tag or
// digest, as actions/attest names image subjects: "ghcr.io/acme/app" for
// "ghcr.io/acme/app:v1@sha256:…". A reference without a registry is qualified
// the way Docker does it, so "alpine@sha256:…" is named
// "index.docker.io/library/alpine". No registry is contacted.
//
// A reference without a digest is an error matching [ErrNoImageDigest]; the
// digest of a tag can be found with "crane digest REF" or "docker buildx
// imagetools inspect REF".
func FromImageRef(ref string) (Subject, error) {
	at := strings.LastIndexByte(ref, '@')
	if at < 0 {
		if _, err := name.NewTag(ref); err != nil {
			return Subject{}, fmt.Errorf("%w %s: %v", ErrMalformedImageRef, short(ref), err)
		}
		return Subject{}, fmt.Errorf("%w: %s: pass the image by digest, REPOSITORY@sha256:HEX", ErrNoImageDigest, short(ref))
	}
	alg, hex, err := ParseDigest(ref[at+1:])
	if err != nil {
		return Subject{}, fmt.Errorf("image %s: %w", short(ref), err)
	}
	d, err := name.NewDigest(ref)
	if err != nil {
		return Subject{}, fmt.Errorf("%w %s: %v", ErrMalformedImageRef, short(ref), err)
	}
	return Subject{Name: d.Context().Name(), Digest: map[string]string{alg: hex}}, nil
}
