package oci

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrIndex: an image was asked for by the digest of a multi-platform
// index, which is no one image.
var ErrIndex = errors.New("a multi-platform index, not an image")

// Image returns the image d names, to read its config and layers (an SBOM
// generator does): go-containerregistry checks each blob against its
// digest as it is read. Nothing is read but the manifest until a layer is
// asked for. d must name one image: the digest of a multi-platform index
// is refused with an error matching ErrIndex that lists its platforms'
// digests, since which of them to read is the caller's choice.
func Image(ctx context.Context, d name.Digest, opts ...Option) (v1.Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if d, err = reparse(d, o); err != nil {
		return nil, err
	}
	desc, err := remote.Get(d, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, classify("image "+d.String(), err)
	}
	if desc.MediaType.IsIndex() {
		ps, perr := Platforms(ctx, d, opts...)
		var list string
		for _, p := range ps {
			list += fmt.Sprintf("\n  %s: %s", p, p.Digest)
		}
		if perr != nil {
			list = fmt.Sprintf(" (listing its platforms: %v)", perr)
		}
		return nil, fmt.Errorf("image %s: %w: name one of its platform images%s", d, ErrIndex, list)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, classify("image "+d.String(), err)
	}
	return img, nil
}
