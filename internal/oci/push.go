package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// Attestation is a Sigstore bundle to attach to an image.
type Attestation struct {
	// Bundle is the Sigstore bundle v0.3 as JSON.
	Bundle []byte
	// PredicateType is the in-toto predicate type of the bundle's
	// statement; it becomes the AnnotationPredicateType annotation.
	PredicateType string
	// Timestamp, when set, is asked by PushLegacy for an RFC 3161
	// timestamp over the exact bytes of the legacy layer's DSSE envelope
	// (signer.Timestamp does this). cosign checks a legacy attestation's
	// timestamp against those bytes, while a bundle's timestamp covers the
	// signature, so the bundle's cannot be reused. Without it the layer
	// carries no timestamp, and cosign can check the certificate's
	// validity only against its own clock. Push does not use it.
	Timestamp func(ctx context.Context, data []byte) ([]byte, error)
}

// Source is where an attestation is attached.
type Source string

// The places an attestation can be attached, in the order Discover looks.
const (
	// SourceReferrersAPI: an OCI 1.1 referrer listed by the registry's
	// referrers API (GET /v2/NAME/referrers/DIGEST).
	SourceReferrersAPI Source = "referrers API"
	// SourceReferrersTag: an OCI 1.1 referrer listed in the referrers tag
	// schema's index, tag sha256-HEX, on registries without the API.
	SourceReferrersTag Source = "referrers tag"
	// SourceLegacyTag: cosign's legacy attestation image, tag sha256-HEX.att.
	SourceLegacyTag Source = "legacy tag"
)

// Pushed says where an attestation went.
type Pushed struct {
	// Subject is the image the attestation is attached to.
	Subject name.Digest
	// Manifest is the attestation manifest's reference, by digest.
	Manifest name.Digest
	// Source is how it is discoverable: SourceReferrersAPI or
	// SourceReferrersTag for Push, SourceLegacyTag for PushLegacy.
	Source Source
	// Tag is the tag updated, if any (the referrers tag or legacy tag).
	Tag string
}

// Push attaches att to the image subject as an OCI 1.1 referrer: an image
// manifest with artifactType ArtifactTypeBundle, the empty config, one layer
// holding the bundle, the annotations AnnotationContent and
// AnnotationPredicateType, and subject pointing at the image. On a registry
// without the referrers API the referrers tag schema's index (tag
// sha256-HEX) is updated to list it.
//
// Blobs are pushed before the manifest, and the manifest before the
// referrers tag, so a failure leaves nothing that lists an incomplete
// attestation.
func Push(ctx context.Context, subject name.Digest, att Attestation, opts ...Option) (*Pushed, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	p, err := push(ctx, subject, att, o)
	return p, o.explain(err, subject.Registry, true)
}

func push(ctx context.Context, subject name.Digest, att Attestation, o *options) (*Pushed, error) {
	subject, ro, desc, err := prepare(ctx, subject, att, o)
	if err != nil {
		return nil, err
	}
	config := static.NewLayer([]byte("{}"), MediaTypeEmpty)
	layer := static.NewLayer(att.Bundle, ArtifactTypeBundle)
	if err := writeBlobs(subject, ro, config, layer); err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactTypeBundle,
		Config:        descriptorOf(config),
		Layers:        []v1.Descriptor{descriptorOf(layer)},
		Subject:       &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size},
		Annotations: map[string]string{
			AnnotationContent:                  ContentDSSE,
			AnnotationPredicateType:            att.PredicateType,
			"org.opencontainers.image.created": time.Now().UTC().Format(time.RFC3339),
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mdigest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	target := subject.Context().Digest(mdigest.String())
	source, err := referrersSupport(ctx, subject, o)
	if err != nil {
		return nil, err
	}
	// remote.Put writes the manifest and then, on a registry without the
	// referrers API, adds it to the referrers tag's index.
	if err := remote.Put(target, rawManifest{raw: raw, mediaType: types.OCIManifestSchema1}, ro...); err != nil {
		return nil, classify("pushing attestation manifest "+target.String(), err)
	}
	p := &Pushed{Subject: subject, Manifest: target, Source: source}
	if source == SourceReferrersTag {
		p.Tag = referrersTag(subject)
	}
	o.log.Info("attestation pushed", "subject", subject.String(), "manifest", target.DigestStr(), "source", string(source))
	return p, nil
}

// PushLegacy attaches att to the image subject the way cosign did before
// OCI 1.1: under the tag sha256-HEX.att, an image whose layers are DSSE
// envelopes annotated as cosign annotates them: the signing certificate,
// the empty layer signature, a Rekor v1 entry when the bundle has one, and
// with att.Timestamp an RFC 3161 timestamp over the envelope. cosign
// verifies the layer from those; the complete bundle rides along in
// AnnotationLegacyBundle for verifiers that need its Rekor v2 entry and
// the timestamp over its signature. Attestations already under the tag
// are kept.
func PushLegacy(ctx context.Context, subject name.Digest, att Attestation, opts ...Option) (*Pushed, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	p, err := pushLegacy(ctx, subject, att, o)
	return p, o.explain(err, subject.Registry, true)
}

func pushLegacy(ctx context.Context, subject name.Digest, att Attestation, o *options) (*Pushed, error) {
	subject, ro, _, err := prepare(ctx, subject, att, o)
	if err != nil {
		return nil, err
	}
	envelope, annotations, err := legacyLayer(att)
	if err != nil {
		return nil, err
	}
	if att.Timestamp != nil {
		ts, err := att.Timestamp(ctx, envelope)
		if err != nil {
			return nil, fmt.Errorf("timestamping the legacy attestation's envelope: %w", err)
		}
		b, err := json.Marshal(map[string][]byte{"SignedRFC3161Timestamp": ts})
		if err != nil {
			return nil, err
		}
		annotations[AnnotationCosignTimestamp] = string(b)
	}
	tag := subject.Context().Tag(legacyTag(subject))
	var existing v1.Manifest
	if d, err := remote.Get(tag, ro...); err == nil {
		m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not an image manifest: %v", ErrInvalidArtifact, tag, err)
		}
		existing = *m
	} else if !errors.Is(classify("", err), ErrNotFound) {
		return nil, classify("reading "+tag.String(), err)
	}
	layer := static.NewLayer(envelope, MediaTypeDSSE)
	ld := descriptorOf(layer)
	ld.Annotations = annotations
	var layers []v1.Descriptor
	for _, l := range existing.Layers {
		if l.Digest != ld.Digest {
			layers = append(layers, l)
		}
	}
	layers = append(layers, ld)
	// cosign's legacy config: a JSON object naming the layers' diff IDs.
	cfg := v1.ConfigFile{Architecture: "", OS: "", RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest)
	}
	cfgRaw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	config := static.NewLayer(cfgRaw, types.OCIConfigJSON)
	if err := writeBlobs(subject, ro, layer, config); err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: descriptorOf(config), Layers: layers}
	m.Config.MediaType = types.OCIConfigJSON
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mdigest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if err := remote.Put(tag, rawManifest{raw: raw, mediaType: types.OCIManifestSchema1}, ro...); err != nil {
		return nil, classify("pushing "+tag.String(), err)
	}
	o.log.Info("legacy attestation pushed", "subject", subject.String(), "tag", tag.String())
	return &Pushed{Subject: subject, Manifest: subject.Context().Digest(mdigest.String()), Source: SourceLegacyTag, Tag: tag.TagStr()}, nil
}

func (a Attestation) check() error {
	if len(a.Bundle) == 0 {
		return errors.New("oci: empty bundle")
	}
	if len(a.Bundle) > MaxBundleSize {
		return fmt.Errorf("oci: bundle of %d bytes exceeds %d", len(a.Bundle), MaxBundleSize)
	}
	if a.PredicateType == "" {
		return errors.New("oci: attestation without a predicate type")
	}
	return nil
}

// legacyLayer makes cosign's legacy layer: the DSSE envelope as the blob,
// the certificate, the empty signature (cosign refuses a layer without the
// annotation; an attestation's signatures are in its envelope) and a Rekor
// v1 entry as cosign's annotations. The bundle's RFC 3161 timestamp is not
// one of them: it covers the signature, cosign's the envelope.
func legacyLayer(att Attestation) ([]byte, map[string]string, error) {
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(att.Bundle, &pb); err != nil {
		return nil, nil, fmt.Errorf("oci: decoding bundle: %w", err)
	}
	env := pb.GetDsseEnvelope()
	if env == nil || len(env.GetSignatures()) == 0 {
		return nil, nil, errors.New("oci: the bundle carries no DSSE envelope")
	}
	type sig struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	out := struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []sig  `json:"signatures"`
	}{PayloadType: env.GetPayloadType(), Payload: base64.StdEncoding.EncodeToString(env.GetPayload())}
	for _, s := range env.GetSignatures() {
		out.Signatures = append(out.Signatures, sig{KeyID: s.GetKeyid(), Sig: base64.StdEncoding.EncodeToString(s.GetSig())})
	}
	envelope, err := json.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	ann := map[string]string{
		"predicateType":           att.PredicateType,
		AnnotationLegacyBundle:    string(att.Bundle),
		AnnotationCosignSignature: "",
	}
	vm := pb.GetVerificationMaterial()
	if c := vm.GetCertificate().GetRawBytes(); len(c) > 0 {
		ann[AnnotationCosignCertificate] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c}))
		ann[AnnotationCosignChain] = ""
	}
	for _, e := range vm.GetTlogEntries() {
		if e.GetInclusionPromise() == nil || e.GetKindVersion().GetVersion() == "" {
			continue
		}
		b, _ := json.Marshal(map[string]any{
			"SignedEntryTimestamp": e.GetInclusionPromise().GetSignedEntryTimestamp(),
			"Payload": map[string]any{
				"body":           base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()),
				"integratedTime": e.GetIntegratedTime(),
				"logIndex":       e.GetLogIndex(),
				"logID":          fmt.Sprintf("%x", e.GetLogId().GetKeyId()),
			},
		})
		ann[AnnotationCosignBundle] = string(b)
		break
	}
	return envelope, ann, nil
}

// referrersSupport asks the registry whether it serves the referrers API,
// as Push must know where the attestation becomes discoverable.
func referrersSupport(ctx context.Context, subject name.Digest, o *options) (Source, error) {
	c, err := newClient(ctx, subject.Repository, o)
	if err != nil {
		return "", err
	}
	ok, _, err := c.referrersAPI(ctx, subject)
	if err != nil {
		return "", err
	}
	if ok {
		return SourceReferrersAPI, nil
	}
	return SourceReferrersTag, nil
}

func descriptorOf(l v1.Layer) v1.Descriptor {
	d, _ := l.Digest()
	sz, _ := l.Size()
	mt, _ := l.MediaType()
	return v1.Descriptor{MediaType: mt, Digest: d, Size: sz}
}

// reparse applies the insecure option to a digest reference.
func reparse(d name.Digest, o *options) (name.Digest, error) {
	r, err := name.NewDigest(d.String(), o.nameOptions()...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image reference %q: %w", d.String(), err)
	}
	return r, nil
}

func referrersTag(d name.Digest) string { return strings.Replace(d.DigestStr(), ":", "-", 1) }

func legacyTag(d name.Digest) string { return referrersTag(d) + LegacySuffix }

type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }

// prepare checks the attestation, and that the image exists, before
// anything is written; it returns the subject as the options read it, the
// remote options and the image's descriptor.
func prepare(ctx context.Context, subject name.Digest, att Attestation, o *options) (name.Digest, []remote.Option, *v1.Descriptor, error) {
	if err := att.check(); err != nil {
		return subject, nil, nil, err
	}
	subject, err := reparse(subject, o)
	if err != nil {
		return subject, nil, nil, err
	}
	ro := o.remoteOptions(ctx)
	desc, err := remote.Head(subject, ro...)
	if err != nil {
		return subject, nil, nil, classify("image "+subject.String(), err)
	}
	return subject, ro, desc, nil
}

// writeBlobs pushes layers to the subject's repository; a manifest naming
// them is written only after.
func writeBlobs(subject name.Digest, ro []remote.Option, layers ...v1.Layer) error {
	for _, l := range layers {
		if err := remote.WriteLayer(subject.Repository, l, ro...); err != nil {
			return classify("pushing attestation blob to "+subject.Repository.String(), err)
		}
	}
	return nil
}
