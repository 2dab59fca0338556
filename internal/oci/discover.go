package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// Found is one attestation attached to an image.
type Found struct {
	// Source is where it was found.
	Source Source
	// Manifest is the attestation's manifest.
	Manifest name.Digest
	// PredicateType is the predicate type of the bundle's statement, read
	// before verification (for the legacy tag, the layer's annotation when
	// it has one); verification checks the signed statement's own.
	PredicateType string
	// Bundle is the Sigstore bundle JSON.
	Bundle []byte
}

// SourceReport is what one place held.
type SourceReport struct {
	Source Source
	// Where is the tag or endpoint consulted.
	Where string
	// Absent: the registry does not serve the referrers API, or the tag
	// does not exist.
	Absent bool
	// Listed is the number of artifacts listed there (referrers or legacy
	// layers), Bundles how many of them are Sigstore bundles, Matching how
	// many of those have the wanted predicate type.
	Listed, Bundles, Matching int
	// Broken are the errors of matching artifacts that could not be read
	// (a missing blob, a malformed manifest).
	Broken []error
}

func (r SourceReport) String() string {
	if r.Absent {
		if r.Source == SourceReferrersAPI {
			return "referrers API: not served by the registry"
		}
		return fmt.Sprintf("%s %s: absent", r.Source, r.Where)
	}
	noun := "referrer"
	if r.Source == SourceLegacyTag {
		noun = "layer"
	}
	s := fmt.Sprintf("%s %s: %d %s", r.Source, r.Where, r.Listed, plural(noun, r.Listed))
	switch {
	case r.Listed == 0:
	case r.Bundles == 0:
		s += ", none a Sigstore bundle"
	case r.Matching == 0:
		s += fmt.Sprintf(" (%d Sigstore %s), none with the predicate", r.Bundles, plural("bundle", r.Bundles))
	default:
		s += fmt.Sprintf(", %d with the predicate", r.Matching)
	}
	for _, e := range r.Broken {
		s += "; " + e.Error()
	}
	return s
}

func plural(s string, n int) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// Discovery is what Discover found for an image.
type Discovery struct {
	Subject name.Digest
	// PredicateTypes are the predicate types looked for.
	PredicateTypes []string
	// Attestations have the wanted predicate type and could be read.
	Attestations []Found
	// Sources are the places consulted, in order.
	Sources []SourceReport
}

// NotFoundError is returned when no readable attestation with the wanted
// predicate type is attached. It matches ErrNoAttestation.
type NotFoundError struct{ Discovery *Discovery }

func (e *NotFoundError) Error() string {
	d := e.Discovery
	parts := make([]string, len(d.Sources))
	for i, s := range d.Sources {
		parts[i] = s.String()
	}
	return fmt.Sprintf("no %s attestation for %s: %s", strings.Join(d.PredicateTypes, " or "), d.Subject, strings.Join(parts, "; "))
}

// Is reports whether target is ErrNoAttestation.
func (e *NotFoundError) Is(target error) bool { return target == ErrNoAttestation }

// Discover finds the attestations with predicateType attached to the image
// subject. It looks, in order, at the referrers API; the referrers tag
// schema's index (tag sha256-HEX) when the registry does not serve the API;
// and cosign's legacy tag sha256-HEX.att. It stops at the first place that
// holds a matching attestation. Referrers are filtered by artifactType
// ArtifactTypeBundle before any is fetched, and by the predicate type of
// the statement each bundle carries: the AnnotationPredicateType
// annotation is not trusted to rule one out.
//
// Nothing found is a *NotFoundError saying what each place held. A
// registry failure (unreachable, 401, 5xx) is an error matching
// ErrUnreachable, ErrUnauthorized or ErrRegistry. What is returned is
// unverified: pass the bundles to a verifier.
func Discover(ctx context.Context, subject name.Digest, predicateType string, opts ...Option) (*Discovery, error) {
	return DiscoverAny(ctx, subject, []string{predicateType}, opts...)
}

// DiscoverAny is Discover for attestations of any of predicateTypes (SLSA
// provenance v1 or v0.2, say).
func DiscoverAny(ctx context.Context, subject name.Digest, predicateTypes []string, opts ...Option) (*Discovery, error) {
	if len(predicateTypes) == 0 {
		return nil, errors.New("oci: no predicate type to look for")
	}
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if subject, err = reparse(subject, o); err != nil {
		return nil, err
	}
	c, err := newClient(ctx, subject.Repository, o)
	if err != nil {
		return nil, o.explain(err, subject.Registry, false)
	}
	d, err := c.discover(ctx, subject, predicateTypes)
	return d, o.explain(err, subject.Registry, false)
}

func (c *client) discover(ctx context.Context, subject name.Digest, predicateTypes []string) (*Discovery, error) {
	d := &Discovery{Subject: subject, PredicateTypes: predicateTypes}
	predicateType := typeSet(predicateTypes)
	// What this discovery may still keep of matching bundles.
	left := c.o.maxFound
	ok, idx, err := c.referrersAPI(ctx, subject)
	if err != nil {
		return nil, err
	}
	if ok {
		rep, found := c.referrers(ctx, subject, predicateType, idx, SourceReferrersAPI, "/v2/"+subject.RepositoryStr()+"/referrers/"+subject.DigestStr(), &left)
		d.Sources = append(d.Sources, rep)
		d.Attestations = append(d.Attestations, found...)
	} else {
		d.Sources = append(d.Sources, SourceReport{Source: SourceReferrersAPI, Absent: true})
		tag := referrersTag(subject)
		raw, _, err := c.manifest(ctx, tag, []types.MediaType{types.OCIImageIndex})
		switch {
		case errors.Is(err, ErrNotFound):
			d.Sources = append(d.Sources, SourceReport{Source: SourceReferrersTag, Where: tag, Absent: true})
		case err != nil:
			return nil, err
		default:
			idx, err := decodeIndex(bytes.NewReader(raw))
			if err != nil {
				return nil, fmt.Errorf("referrers tag %s: %w", tag, err)
			}
			rep, found := c.referrers(ctx, subject, predicateType, idx, SourceReferrersTag, tag, &left)
			d.Sources = append(d.Sources, rep)
			d.Attestations = append(d.Attestations, found...)
		}
	}
	if len(d.Attestations) == 0 {
		rep, found, err := c.legacy(ctx, subject, predicateType, &left)
		if err != nil {
			return nil, err
		}
		d.Sources = append(d.Sources, rep)
		d.Attestations = append(d.Attestations, found...)
	}
	c.o.log.Debug("discovered attestations", "subject", subject.String(), "found", len(d.Attestations))
	if len(d.Attestations) == 0 {
		return d, &NotFoundError{Discovery: d}
	}
	return d, nil
}

// referrers reads the matching Sigstore bundles among an index of
// referrers. Unreadable ones are reported, not fatal: another may verify.
//
// Which statement a bundle carries is read from the bundle itself. The
// predicate type annotation is unsigned, and writers get it wrong: cosign
// 2.6 labels every bundle it makes with --signing-config
// https://sigstore.dev/cosign/sign/v1, attestations included. So every
// DSSE bundle is fetched, and only a bundle its annotations call a message
// signature (which carries no statement) is passed over unread. Matching
// bundles are kept while *left bytes allow.
func (c *client) referrers(ctx context.Context, subject name.Digest, predicateType typeSet, idx *v1.IndexManifest, src Source, where string, left *int64) (SourceReport, []Found) {
	rep := SourceReport{Source: src, Where: where, Listed: len(idx.Manifests)}
	var found []Found
	for _, desc := range idx.Manifests {
		typed := isBundleType(desc.ArtifactType) || sigstoreAnnotated(desc)
		if !typed && !untyped(desc) {
			continue
		}
		if typed {
			rep.Bundles++
		}
		if content := desc.Annotations[AnnotationContent]; content != "" && content != ContentDSSE {
			continue
		}
		ref := subject.Context().Digest(desc.Digest.String())
		bundle, err := c.referrerBundle(ctx, subject, ref, *left)
		if !typed {
			// Listed without its artifactType: only the manifest says.
			if errors.Is(err, errNotBundle) {
				continue
			}
			rep.Bundles++
		}
		if err != nil {
			// An unreadable bundle labelled with another predicate type
			// is not reported as one that was looked for.
			if pt, annotated := desc.Annotations[AnnotationPredicateType]; !annotated || predicateType.has(pt) {
				rep.Broken = append(rep.Broken, fmt.Errorf("referrer %s: %w", desc.Digest, err))
			}
			continue
		}
		pt := bundlePredicateType(bundle)
		if !predicateType.has(pt) {
			continue
		}
		rep.Matching++
		*left -= int64(len(bundle))
		found = append(found, Found{Source: src, Manifest: ref, PredicateType: pt, Bundle: bundle})
	}
	// A referrer that matched but could not be read still counts as matching
	// in what the report tells a person.
	rep.Matching += len(rep.Broken)
	return rep, found
}

// errNotBundle: a referrer listed without artifactType is no Sigstore bundle.
var errNotBundle = errors.New("not a Sigstore bundle")

// untyped: the referrers tag index that go-containerregistry before v0.21
// writes (cosign 2.6 pushes with it) lists a referrer's config media type,
// the empty descriptor's, without annotations; its manifest must be read.
func untyped(desc v1.Descriptor) bool {
	return desc.ArtifactType == "" || desc.ArtifactType == MediaTypeEmpty
}

// sigstoreAnnotated: some registries (go-containerregistry's own) list a
// referrer's config media type as its artifactType; the Sigstore
// annotations still say what it is, and the manifest is checked on fetch.
func sigstoreAnnotated(desc v1.Descriptor) bool {
	_, ok := desc.Annotations[AnnotationPredicateType]
	return ok || desc.Annotations[AnnotationContent] != ""
}

func isBundleType(t string) bool {
	return strings.HasPrefix(t, formats.BundleMediaTypePrefix)
}

// referrerBundle fetches a referrer manifest and its one bundle layer, of
// at most left bytes.
func (c *client) referrerBundle(ctx context.Context, subject, ref name.Digest, left int64) ([]byte, error) {
	raw, _, err := c.manifest(ctx, ref.DigestStr(), []types.MediaType{types.OCIManifestSchema1})
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: not an image manifest: %v", ErrInvalidArtifact, err)
	}
	if m.Subject == nil || m.Subject.Digest.String() != subject.DigestStr() {
		return nil, fmt.Errorf("%w: its subject is not %s", ErrInvalidArtifact, subject.DigestStr())
	}
	if !isBundleType(m.ArtifactType) && !isBundleType(string(m.Config.MediaType)) {
		return nil, fmt.Errorf("%w: artifactType %q: %w", ErrInvalidArtifact, m.ArtifactType, errNotBundle)
	}
	var layer *v1.Descriptor
	for i := range m.Layers {
		if isBundleType(string(m.Layers[i].MediaType)) {
			if layer != nil {
				return nil, fmt.Errorf("%w: more than one bundle layer", ErrInvalidArtifact)
			}
			layer = &m.Layers[i]
		}
	}
	if layer == nil {
		return nil, fmt.Errorf("%w: no layer of media type %s", ErrInvalidArtifact, ArtifactTypeBundle)
	}
	if err := c.fits(layer.Size, left); err != nil {
		return nil, fmt.Errorf("bundle layer: %w", err)
	}
	return c.blob(ctx, layer.Digest, min(c.o.maxBundle, left))
}

// errBudget: the bundles a discovery kept leave no room for another.
var errBudget = errors.New("not read: the attestations read before it fill what one discovery keeps")

// fits says whether a bundle of size bytes may be read with left bytes
// still to keep: no larger than the bundle limit, nor than what is left.
func (c *client) fits(size, left int64) error {
	switch {
	case size > c.o.maxBundle:
		return fmt.Errorf("%w: %d bytes, over the %d-byte limit of a bundle", ErrInvalidArtifact, size, c.o.maxBundle)
	case size > left:
		return fmt.Errorf("%w: %d bytes: %w (%d bytes)", ErrInvalidArtifact, size, errBudget, c.o.maxFound)
	}
	return nil
}

// legacy reads cosign's legacy attestation tag: an image whose layers are
// DSSE envelopes. A layer Hallmark pushed carries its whole Sigstore bundle
// (AnnotationLegacyBundle); one cosign pushed carries the certificate and
// Rekor entry as annotations, which cosignBundle turns into a bundle. A
// layer with neither is not signed the way a verifier can check, and is
// reported, never returned.
func (c *client) legacy(ctx context.Context, subject name.Digest, predicateType typeSet, left *int64) (SourceReport, []Found, error) {
	tag := legacyTag(subject)
	rep := SourceReport{Source: SourceLegacyTag, Where: tag}
	raw, _, err := c.manifest(ctx, tag, []types.MediaType{types.OCIManifestSchema1, types.DockerManifestSchema2})
	if errors.Is(err, ErrNotFound) {
		rep.Absent = true
		return rep, nil, nil
	} else if err != nil {
		return rep, nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		rep.Broken = append(rep.Broken, fmt.Errorf("%w: not an image manifest: %v", ErrInvalidArtifact, err))
		return rep, nil, nil
	}
	mdigest := subject.Context().Digest("sha256:" + sha256Hex(raw))
	rep.Listed = len(m.Layers)
	if len(m.Layers) > MaxReferrers {
		rep.Broken = append(rep.Broken, fmt.Errorf("%w: %d layers, limit %d", ErrInvalidArtifact, len(m.Layers), MaxReferrers))
		return rep, nil, nil
	}
	var found []Found
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeDSSE {
			continue
		}
		pt, annotated := l.Annotations["predicateType"]
		if b, ok := l.Annotations[AnnotationLegacyBundle]; ok {
			rep.Bundles++
			if !predicateType.has(pt) {
				continue
			}
			if err := c.fits(int64(len(b)), *left); err != nil {
				rep.Broken = append(rep.Broken, fmt.Errorf("layer %s: %w", l.Digest, err))
				continue
			}
			rep.Matching++
			*left -= int64(len(b))
			found = append(found, Found{Source: SourceLegacyTag, Manifest: mdigest, PredicateType: pt, Bundle: []byte(b)})
			continue
		}
		signed := cosignSigned(l.Annotations)
		if signed {
			rep.Bundles++
		}
		if annotated && !predicateType.has(pt) {
			continue
		}
		if err := c.fits(l.Size, *left); err != nil {
			rep.Broken = append(rep.Broken, fmt.Errorf("layer %s: %w", l.Digest, err))
			continue
		}
		envelope, err := c.blob(ctx, l.Digest, min(c.o.maxBundle, *left))
		if err != nil {
			rep.Broken = append(rep.Broken, fmt.Errorf("layer %s: %w", l.Digest, err))
			continue
		}
		if !annotated {
			if pt = envelopePredicateType(envelope); !predicateType.has(pt) {
				continue
			}
		}
		if !signed {
			rep.Broken = append(rep.Broken, fmt.Errorf("layer %s: %w: %w: not trusted", l.Digest, ErrInvalidArtifact, errUnsigned))
			continue
		}
		bundle, err := cosignBundle(envelope, l.Annotations)
		if err != nil {
			rep.Broken = append(rep.Broken, fmt.Errorf("layer %s: %w", l.Digest, err))
			continue
		}
		rep.Matching++
		*left -= int64(len(bundle))
		found = append(found, Found{Source: SourceLegacyTag, Manifest: mdigest, PredicateType: pt, Bundle: bundle})
	}
	rep.Matching += len(rep.Broken)
	return rep, found, nil
}

// typeSet is the predicate types looked for.
type typeSet []string

func (s typeSet) has(t string) bool {
	for _, x := range s {
		if x == t {
			return true
		}
	}
	return false
}

// bundlePredicateType reads the predicate type of the statement in a
// bundle's DSSE envelope, unverified; "" if there is none.
func bundlePredicateType(bundle []byte) string {
	var b struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if json.Unmarshal(bundle, &b) != nil {
		return ""
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}
