package factory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// AttestationStore is a Store that also keeps attestations other than
// provenance (SBOMs) about one image subject of a run.
type AttestationStore interface {
	StoreAttestation(ctx context.Context, run Run, image, predicateType string, bundle []byte) (string, error)
}

// StoreAttestation pushes the bundle to the image's registry as a referrer
// of the image with its predicate type, beside the provenance.
func (s OCIStore) StoreAttestation(ctx context.Context, _ Run, image, predicateType string, bundle []byte) (string, error) {
	d, err := name.NewDigest(image)
	if err != nil {
		return "", fmt.Errorf("image subject %s: %w", image, err)
	}
	p, err := oci.Push(ctx, d, oci.Attestation{Bundle: bundle, PredicateType: predicateType}, s.Options...)
	if err != nil {
		return "", fmt.Errorf("attaching the %s attestation to %s: %w", predicateType, image, err)
	}
	return "oci:" + p.Manifest.String(), nil
}

// StoreAttestation writes the bundle beside the run's provenance bundle:
// Dir/NAMESPACE/KIND-NAME-UID.IMAGE-HEX12.FORMAT.sigstore.json.
func (f FileStore) StoreAttestation(_ context.Context, run Run, image, predicateType string, bundle []byte) (string, error) {
	dir := filepath.Join(f.Dir, run.Namespace)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("storing bundle: %w", err)
	}
	kind := "attestation"
	if ft, ok := sbom.FormatOf(predicateType); ok {
		kind = string(ft)
	}
	_, hex, _ := strings.Cut(image[strings.LastIndexByte(image, '@')+1:], ":")
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.%s.%s.sigstore.json", run.Kind, run.Name, run.UID, hex[:min(12, len(hex))], kind))
	if err := atomicfile.Write(path, bundle, 0o644); err != nil {
		return "", fmt.Errorf("storing bundle: %w", err)
	}
	return "file:" + path, nil
}

// sbomDoc is one SBOM made of one image subject.
type sbomDoc struct {
	image   string
	subject subject.Subject
	doc     *sbom.Document
}

// makeSBOMs makes each SBOM the tenant asks for of each image subject,
// reading the image from its registry. Nothing is signed yet: an SBOM that
// cannot be made fails the attempt before the provenance spends a log
// entry.
func (r *reconciler) makeSBOMs(ctx context.Context, formats []string, images []string) ([]sbomDoc, error) {
	if len(formats) == 0 || len(images) == 0 {
		return nil, nil
	}
	gen := sbom.Generator{Path: r.cfg.SBOMGenerator, InsecureRegistry: r.cfg.SBOMInsecureRegistry}
	if gen.Path == "" {
		p, err := sbom.FindGenerator()
		if err != nil {
			return nil, permanent{fmt.Errorf("the tenancy policy asks for SBOMs: %w", err)}
		}
		gen.Path = p
	}
	var out []sbomDoc
	for _, image := range images {
		sub, err := subject.FromImageRef(image)
		if err != nil {
			return nil, permanent{fmt.Errorf("image subject %s: %w", image, err)}
		}
		for _, f := range formats {
			ft, err := sbom.ParseFormat(f)
			if err != nil {
				return nil, permanent{err}
			}
			doc, err := gen.Generate(ctx, sbom.Target{Image: image}, ft)
			if err != nil {
				return nil, fmt.Errorf("making the %s SBOM of %s: %w", ft, image, err)
			}
			out = append(out, sbomDoc{image: image, subject: sub, doc: doc})
		}
	}
	return out, nil
}

// signSBOMs signs each SBOM as its own statement about its image, with the
// identity that signed the provenance, and stores it where each store
// that keeps attestations keeps them. It returns where they went.
func (r *reconciler) signSBOMs(ctx context.Context, obj client.Object, id string, docs []sbomDoc) ([]string, error) {
	run := Run{Kind: kindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID())}
	var where []string
	for _, d := range docs {
		payload, err := sbom.Statement([]subject.Subject{d.subject}, d.doc)
		if err != nil {
			return nil, permanent{err}
		}
		res, err := r.cfg.Signer.Sign(ctx, id, payload)
		if err != nil {
			return nil, fmt.Errorf("signing the %s SBOM of %s: %w", d.doc.Format, d.image, err)
		}
		if res.Identity != id {
			return nil, fmt.Errorf("the signer signed the SBOM as %s, want %s: bundle discarded", res.Identity, id)
		}
		data, err := res.Bundle.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding bundle: %w", err)
		}
		for _, s := range r.cfg.Stores {
			as, ok := s.(AttestationStore)
			if !ok {
				continue
			}
			w, err := as.StoreAttestation(ctx, run, d.image, d.doc.Format.PredicateType(), data)
			if err != nil {
				return nil, err
			}
			if w != "" {
				where = append(where, string(d.doc.Format)+" "+w)
			}
		}
	}
	return where, nil
}
