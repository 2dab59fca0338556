package factory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/tekton"
)

// Run names the run an attestation is for.
type Run struct {
	Kind, Namespace, Name, UID string
}

// Store keeps a signed bundle somewhere beyond the run's annotations. It
// returns a short description of where, for the run's annotation.
type Store interface {
	Store(ctx context.Context, run Run, bundle []byte, att *tekton.Attestation) (string, error)
}

// FileStore writes each bundle to Dir/NAMESPACE/KIND-NAME-UID.sigstore.json,
// for artifacts that have no registry to travel with.
type FileStore struct{ Dir string }

// Store writes the bundle file.
func (f FileStore) Store(_ context.Context, run Run, bundle []byte, _ *tekton.Attestation) (string, error) {
	dir := filepath.Join(f.Dir, run.Namespace)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("storing bundle: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.sigstore.json", run.Kind, run.Name, run.UID))
	if err := atomicfile.Write(path, bundle, 0o644); err != nil {
		return "", fmt.Errorf("storing bundle: %w", err)
	}
	return "file:" + path, nil
}

// OCIStore attaches the bundle to every image subject as an OCI 1.1
// referrer (or the referrers tag on registries without the API).
type OCIStore struct {
	Options []oci.Option
	// Legacy also writes each attestation under cosign's tag
	// sha256-HEX.att, where Tekton Chains' OCI storage puts them, for
	// verifiers that read only that (cosign verify-attestation without
	// the new bundle format, policy controllers of that era).
	Legacy bool
}

// Store pushes the bundle to each image's registry.
func (s OCIStore) Store(ctx context.Context, _ Run, bundle []byte, att *tekton.Attestation) (string, error) {
	if len(att.Images) == 0 {
		return "", nil
	}
	where := ""
	for _, ref := range att.Images {
		d, err := name.NewDigest(ref)
		if err != nil {
			return "", fmt.Errorf("image subject %s: %w", ref, err)
		}
		att := oci.Attestation{Bundle: bundle, PredicateType: provenance.PredicateSLSAProvenanceV1}
		p, err := oci.Push(ctx, d, att, s.Options...)
		if err != nil {
			return "", fmt.Errorf("attaching to %s: %w", ref, err)
		}
		if s.Legacy {
			if _, err := oci.PushLegacy(ctx, d, att, s.Options...); err != nil {
				return "", fmt.Errorf("attaching to %s under cosign's .att tag: %w", ref, err)
			}
		}
		if where == "" {
			where = "oci:" + p.Manifest.String()
			if s.Legacy {
				where += " and .att"
			}
		}
	}
	if len(att.Images) > 1 {
		where += fmt.Sprintf(" (+%d images)", len(att.Images)-1)
	}
	return where, nil
}
