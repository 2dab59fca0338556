package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// client reads one repository over an authenticated transport: every
// request is one round trip, its status checked by the caller.
type client struct {
	repo name.Repository
	http *http.Client
	o    *options
}

func newClient(ctx context.Context, repo name.Repository, o *options) (*client, error) {
	auth, err := authn.Resolve(ctx, o.auth, repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, o.roundTripper(), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, classify("registry "+repo.RegistryStr(), err)
	}
	return &client{repo: repo, http: &http.Client{Transport: rt}, o: o}, nil
}

func (c *client) url(kind, ref string) string {
	u := url.URL{Scheme: c.repo.Scheme(), Host: c.repo.RegistryStr(), Path: fmt.Sprintf("/v2/%s/%s/%s", c.repo.RepositoryStr(), kind, ref)}
	return u.String()
}

func (c *client) get(ctx context.Context, u string, accept []types.MediaType) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if len(accept) > 0 {
		as := make([]string, len(accept))
		for i, a := range accept {
			as[i] = string(a)
		}
		req.Header.Set("Accept", strings.Join(as, ","))
	}
	return c.http.Do(req)
}

// referrersAPI lists the referrers of d through the referrers API. ok is
// false when the registry does not serve the API (404, 400, 406, or an
// answer that is not an OCI index, as the distribution spec prescribes).
func (c *client) referrersAPI(ctx context.Context, d name.Digest) (ok bool, idx *v1.IndexManifest, err error) {
	resp, err := c.get(ctx, c.url("referrers", d.DigestStr()), []types.MediaType{types.OCIImageIndex})
	if err != nil {
		return false, nil, classify("listing referrers of "+d.String(), err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable, http.StatusMethodNotAllowed:
		return false, nil, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return false, nil, classify("listing referrers of "+d.String(), err)
	}
	if mt := resp.Header.Get("Content-Type"); !strings.HasPrefix(mt, string(types.OCIImageIndex)) {
		return false, nil, nil
	}
	idx, err = decodeIndex(resp.Body)
	if err != nil {
		return true, nil, fmt.Errorf("referrers of %s: %w", d.String(), err)
	}
	return true, idx, nil
}

// manifest fetches a manifest by tag or digest. A digest reference is
// checked against the bytes received.
func (c *client) manifest(ctx context.Context, ref string, accept []types.MediaType) ([]byte, types.MediaType, error) {
	resp, err := c.get(ctx, c.url("manifests", ref), accept)
	what := "manifest " + c.repo.String() + refSep(ref) + ref
	if err != nil {
		return nil, "", classify(what, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", classify(what, err)
	}
	raw, err := readLimited(resp.Body, MaxManifestSize)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	if strings.HasPrefix(ref, "sha256:") {
		if got := sha256Hex(raw); "sha256:"+got != ref {
			return nil, "", fmt.Errorf("%s: %w: content digest sha256:%s", what, ErrRegistry, got)
		}
	}
	return raw, types.MediaType(resp.Header.Get("Content-Type")), nil
}

// blob fetches a blob and checks its digest.
func (c *client) blob(ctx context.Context, d v1.Hash, limit int64) ([]byte, error) {
	what := "blob " + c.repo.String() + "@" + d.String()
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("%s: %w: unsupported digest algorithm", what, ErrInvalidArtifact)
	}
	resp, err := c.get(ctx, c.url("blobs", d.String()), nil)
	if err != nil {
		return nil, classify(what, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, classify(what, err)
	}
	data, err := readLimited(resp.Body, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if got := sha256Hex(data); got != d.Hex {
		return nil, fmt.Errorf("%s: %w: content digest sha256:%s", what, ErrRegistry, got)
	}
	return data, nil
}

// Resolve returns the digest and descriptor an image reference names: a
// digest reference as it is (after checking that the registry holds it),
// a tag as the registry resolves it now. A tag can be moved afterwards:
// verify and deploy by the returned digest.
func Resolve(ctx context.Context, ref string, opts ...Option) (name.Digest, *v1.Descriptor, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return name.Digest{}, nil, err
	}
	r, err := name.ParseReference(ref, o.nameOptions()...)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	c, err := newClient(ctx, r.Context(), o)
	if err != nil {
		return name.Digest{}, nil, o.explain(err, r.Context().Registry, false)
	}
	d, desc, err := c.resolve(ctx, r)
	return d, desc, o.explain(err, r.Context().Registry, false)
}

var manifestTypes = []types.MediaType{types.OCIManifestSchema1, types.OCIImageIndex, types.DockerManifestSchema2, types.DockerManifestList}

func (c *client) resolve(ctx context.Context, r name.Reference) (name.Digest, *v1.Descriptor, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url("manifests", r.Identifier()), nil)
	if err != nil {
		return name.Digest{}, nil, err
	}
	as := make([]string, len(manifestTypes))
	for i, a := range manifestTypes {
		as[i] = string(a)
	}
	req.Header.Set("Accept", strings.Join(as, ","))
	resp, err := c.http.Do(req)
	if err != nil {
		return name.Digest{}, nil, classify("image "+r.String(), err)
	}
	resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return name.Digest{}, nil, classify("image "+r.String(), err)
	}
	dg := resp.Header.Get("Docker-Content-Digest")
	if d, ok := r.(name.Digest); ok {
		if dg != "" && dg != d.DigestStr() {
			return name.Digest{}, nil, fmt.Errorf("image %s: %w: registry answered digest %s", r, ErrRegistry, dg)
		}
		dg = d.DigestStr()
	}
	if dg == "" {
		// HEAD without a digest header: fetch and hash the manifest.
		raw, _, err := c.manifest(ctx, r.Identifier(), manifestTypes)
		if err != nil {
			return name.Digest{}, nil, err
		}
		dg = "sha256:" + sha256Hex(raw)
	}
	h, err := v1.NewHash(dg)
	if err != nil {
		return name.Digest{}, nil, fmt.Errorf("image %s: %w: digest %q: %v", r, ErrRegistry, dg, err)
	}
	desc := &v1.Descriptor{Digest: h, MediaType: types.MediaType(resp.Header.Get("Content-Type")), Size: resp.ContentLength}
	return r.Context().Digest(dg), desc, nil
}

// Platform is one image of a multi-platform index.
type Platform struct {
	Digest   name.Digest
	Platform v1.Platform
}

// String is the platform as os/arch[/variant].
func (p Platform) String() string { return p.Platform.String() }

// Platforms lists the platform images of the index d; nil if d is a single
// image. Attestation manifests that buildx stores in an index (platform
// unknown/unknown) are left out.
func Platforms(ctx context.Context, d name.Digest, opts ...Option) ([]Platform, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if d, err = reparse(d, o); err != nil {
		return nil, err
	}
	ps, err := platforms(ctx, d, o)
	return ps, o.explain(err, d.Registry, false)
}

func platforms(ctx context.Context, d name.Digest, o *options) ([]Platform, error) {
	c, err := newClient(ctx, d.Repository, o)
	if err != nil {
		return nil, err
	}
	raw, mt, err := c.manifest(ctx, d.DigestStr(), manifestTypes)
	if err != nil {
		return nil, err
	}
	if !mt.IsIndex() {
		return nil, nil
	}
	idx, err := decodeIndex(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", d, err)
	}
	var out []Platform
	for _, m := range idx.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" || !m.MediaType.IsImage() {
			continue
		}
		out = append(out, Platform{Digest: d.Context().Digest(m.Digest.String()), Platform: *m.Platform})
	}
	return out, nil
}

func decodeIndex(r io.Reader) (*v1.IndexManifest, error) {
	raw, err := readLimited(r, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("%w: not an OCI index: %v", ErrInvalidArtifact, err)
	}
	if len(idx.Manifests) > MaxReferrers {
		return nil, fmt.Errorf("%w: %d manifests listed, limit %d", ErrInvalidArtifact, len(idx.Manifests), MaxReferrers)
	}
	return &idx, nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, classify("reading", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalidArtifact, limit)
	}
	return data, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func refSep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}
