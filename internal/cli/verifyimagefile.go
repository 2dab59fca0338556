package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/verifier"
)

// imageFileFlags are verify-image's flags for provenance given in a file,
// as slsa-verifier's verify-image --provenance-path takes it.
type imageFileFlags struct {
	provenancePath string
	gcbKeys        string
}

func (g *imageFileFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&g.provenancePath, "provenance-path", "", "the image's provenance in a file, verified offline without reading the registry: Sigstore bundles (a bundle or .intoto.jsonl), or with --gcb-keys Google Cloud Build's (gcloud artifacts docker images describe IMAGE --show-provenance --format json)")
	fl.StringVar(&g.gcbKeys, "gcb-keys", "", "folder of Google Cloud Build's attestor public keys, named as slsa-verifier ships them (REGION.key, global-pae-provenanceSigner_1.key, global-pae-google-hosted-worker_1.key): --provenance-path is Cloud Build provenance")
}

func (g *imageFileFlags) given() bool { return g.provenancePath != "" || g.gcbKeys != "" }

// maxKeyFile bounds one attestor key file read from --gcb-keys.
const maxKeyFile = 64 << 10

// runVerifyImageFile is verify-image --provenance-path: the provenance
// comes from the file and is verified offline against the digest the
// image reference names. Nothing is read from the registry.
func runVerifyImageFile(f verifyFlags, g imageFileFlags, ref string, stdout io.Writer) error {
	if g.provenancePath == "" {
		return errors.New("--gcb-keys verifies Cloud Build provenance from a file: give the file with --provenance-path (gcloud artifacts docker images describe IMAGE --show-provenance --format json)")
	}
	if err := checkFormat(f.format); err != nil {
		return err
	}
	verify, limit, err := f.imageFileVerifier(g)
	if err != nil {
		return err
	}
	img, err := name.NewDigest(ref)
	if err != nil {
		if _, terr := name.ParseReference(ref); terr != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		return report(stdout, f.format, f.printProvenance, []verdict{{Artifact: ref, Failure: &failure{
			Check: "input", Want: "an image named by digest (IMAGE@sha256:HEX)", Got: "a tag, which --provenance-path does not resolve",
			Message: "a tag can move between verification and use", Fix: "name the image by the digest its provenance is for: IMAGE@sha256:HEX",
		}}})
	}
	d, err := verifier.ParseDigest(img.DigestStr())
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	data, err := readLimited(g.provenancePath, limit)
	if err != nil {
		return fmt.Errorf("--provenance-path: %w", err)
	}
	res, err := verify(data, d)
	return report(stdout, f.format, f.printProvenance, []verdict{newVerdict(ref, d, res, err)})
}

// imageFileVerifier loads trust and policy for the file's kind of
// provenance: Cloud Build's with --gcb-keys, Sigstore bundles otherwise.
// It returns the verification and the largest file it reads.
func (f *verifyFlags) imageFileVerifier(g imageFileFlags) (func([]byte, verifier.Digest) (*verifier.Result, error), int64, error) {
	if g.gcbKeys == "" {
		v, _, _, err := f.newVerifier()
		if err != nil {
			return nil, 0, err
		}
		return func(data []byte, d verifier.Digest) (*verifier.Result, error) {
			bundles, err := verifier.ParseBundles(data)
			if err != nil {
				return nil, err
			}
			res, err := v.VerifyAny(bundles, d)
			if err == nil && len(v.RequiredAttestations()) > 0 {
				// The file may hold the required attestations' bundles
				// beside the provenance's (an .intoto.jsonl file).
				_, err = v.VerifyRequiredAttestations(res, bundles, d)
			}
			if err != nil {
				return nil, err
			}
			return res, nil
		}, verifier.MaxBundlesSize, nil
	}
	switch {
	case f.trustedRoot != "":
		return nil, 0, errors.New("--trusted-root does not apply to Cloud Build provenance, which --gcb-keys verifies: drop one")
	case len(f.spiffeBundles) > 0 || f.spiffeTrustDomain != "":
		return nil, 0, errors.New("--spiffe-trust-bundle does not apply to Cloud Build provenance, which --gcb-keys verifies: drop one")
	}
	keys, err := loadGCBKeys(g.gcbKeys)
	if err != nil {
		return nil, 0, err
	}
	p, _, err := f.loadPolicy()
	if err != nil {
		return nil, 0, err
	}
	if len(p.Attestations.Require) > 0 {
		return nil, 0, errors.New("the policy requires attestations beside the provenance (attestations.require), which Cloud Build does not sign: use another policy for --gcb-keys")
	}
	var opts []verifier.Option
	if p.Source == "" {
		// --owner stands for the source, as for Sigstore provenance.
		opts = append(opts, verifier.WithoutSourceUnsafe())
	}
	v, err := verifier.NewGCB(keys, p, opts...)
	if err != nil {
		return nil, 0, fmt.Errorf("policy: %w", err)
	}
	return func(data []byte, d verifier.Digest) (*verifier.Result, error) {
		prov, err := verifier.ParseGCBProvenance(data)
		if err != nil {
			return nil, err
		}
		return v.Verify(prov, d)
	}, verifier.MaxGCBProvenanceSize, nil
}

// loadGCBKeys reads the .key and .pem files of a folder of Cloud Build
// attestor keys.
func loadGCBKeys(dir string) (*verifier.GCBKeys, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--gcb-keys: want a folder of Cloud Build attestor keys: %w", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".key") || strings.HasSuffix(e.Name(), ".pem")) {
			continue
		}
		data, err := readLimited(dir+string(os.PathSeparator)+e.Name(), maxKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--gcb-keys: %w", err)
		}
		files[e.Name()] = data
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("--gcb-keys %s: no .key or .pem files: want Cloud Build's attestor keys as slsa-verifier ships them (verifiers/internal/gcb/keys/materials)", dir)
	}
	keys, err := verifier.LoadGCBKeys(files)
	if err != nil {
		return nil, fmt.Errorf("--gcb-keys %s: %w", dir, err)
	}
	return keys, nil
}

// readLimited reads a file of at most limit bytes; one byte more is
// read, so a parser with that limit refuses the file as too large.
func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, limit+1))
}
