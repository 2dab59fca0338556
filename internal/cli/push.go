package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// checkPushFlags rejects contradictory push flags; attest calls it before
// signing anything.
func checkPushFlags(f attestFlags) error {
	if !f.pushToRegistry && (f.pushLegacyTag || f.attestPlatforms) {
		return errors.New("--push-legacy-tag and --attest-platforms need --push-to-registry")
	}
	if f.pushToRegistry && len(f.subjectImages) == 0 {
		return errors.New("--push-to-registry needs --subject-image: only images can carry attestations in a registry")
	}
	return nil
}

// pushRecord is one bundle attached to one image, for attest's summary.
type pushRecord struct {
	Image     string `json:"image"`
	Bundle    string `json:"bundle"`
	Manifest  string `json:"manifest"`
	Via       string `json:"via"`
	Tag       string `json:"tag,omitempty"`
	LegacyTag string `json:"legacyTag,omitempty"`
}

func (f attestFlags) ociOptions() []oci.Option {
	return []oci.Option{oci.WithInsecureRegistry(f.allowInsecureRegistry), oci.WithTimeout(f.timeout)}
}

func (f attestFlags) image(ref string) (name.Digest, error) {
	var nopts []name.Option
	if f.allowInsecureRegistry {
		nopts = append(nopts, name.Insecure)
	}
	img, err := name.NewDigest(ref, nopts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("--subject-image %s: %w", ref, err)
	}
	return img, nil
}

// checkRegistries is attest's registry work before signing, under
// --push-to-registry: each image must exist and its registry must take
// pushes from these credentials; with --attest-platforms, each index's
// platforms are listed now. Nothing is written to the registry.
func checkRegistries(ctx context.Context, f attestFlags) (map[string][]oci.Platform, error) {
	if !f.pushToRegistry {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.pushDeadline)
	defer cancel()
	platforms := map[string][]oci.Platform{}
	for _, ref := range f.subjectImages {
		img, err := f.image(ref)
		if err != nil {
			return nil, err
		}
		if _, err := oci.CheckPush(ctx, img, f.ociOptions()...); err != nil {
			return nil, registryError(fmt.Errorf("--push-to-registry: %w (nothing was signed)", err), f)
		}
		if f.attestPlatforms {
			ps, err := oci.Platforms(ctx, img, f.ociOptions()...)
			if err != nil {
				return nil, registryError(fmt.Errorf("--attest-platforms: %w (nothing was signed)", err), f)
			}
			platforms[img.String()] = ps
		}
	}
	return platforms, nil
}

// registryError adds to a registry failure what the flags can change.
func registryError(err error, f attestFlags) error {
	if errors.Is(err, oci.ErrTimeout) {
		return fmt.Errorf("%w\nallow more time with --push-deadline (now %s) or --timeout (now %s)", err, f.pushDeadline, f.timeout)
	}
	return err
}

// pushAttestations is attest's last step under --push-to-registry, and all
// of `hallmark push`: each bundle is attached to every --subject-image it
// is about, as an OCI 1.1 referrer (the referrers tag schema on registries
// without the API) and, with --push-legacy-tag, under cosign's
// sha256-HEX.att tag too. The pushes share one --push-deadline. With
// --attest-platforms, each platform image of an index (as listed in
// platforms before signing) gets its own provenance, signed and pushed the
// same way.
func pushAttestations(ctx context.Context, f attestFlags, bundlePaths []string, platforms map[string][]oci.Platform, stamp stampFunc, stderr io.Writer, getenv func(string) string) ([]pushRecord, error) {
	if !f.pushToRegistry {
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, f.pushDeadline)
	defer cancel()
	var records []pushRecord
	opts := f.ociOptions()
	type bundleFile struct {
		path, predicateType string
		data                []byte
		digests             []string
	}
	var files []bundleFile
	for _, p := range bundlePaths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the bundle to push: %w", err)
		}
		pt, digests, err := statementSubjects(data)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", p, err)
		}
		files = append(files, bundleFile{path: p, predicateType: pt, data: data, digests: digests})
	}
	for i, ref := range f.subjectImages {
		img, err := f.image(ref)
		if err != nil {
			return nil, err
		}
		unfinished := func(err error) error { return &pushError{err: err, images: f.subjectImages[i:]} }
		pushed := 0
		for _, b := range files {
			if !slices.Contains(b.digests, img.DigestStr()) {
				continue
			}
			att := oci.Attestation{Bundle: b.data, PredicateType: b.predicateType}
			p, err := oci.Push(pctx, img, att, opts...)
			if err != nil {
				return records, unfinished(registryError(fmt.Errorf("pushing %s to %s: %w", b.path, img, err), f))
			}
			where := string(p.Source)
			if p.Tag != "" {
				where += " " + p.Tag
			}
			fmt.Fprintf(stderr, "pushed %s to %s as %s (%s)\n", b.path, img, p.Manifest.DigestStr(), where)
			rec := pushRecord{Image: img.String(), Bundle: b.path, Manifest: p.Manifest.DigestStr(), Via: string(p.Source), Tag: p.Tag}
			if f.pushLegacyTag {
				att.Timestamp = stamp
				lp, err := oci.PushLegacy(pctx, img, att, opts...)
				if err != nil {
					return records, unfinished(registryError(fmt.Errorf("pushing %s to %s under the legacy tag: %w", b.path, img, err), f))
				}
				fmt.Fprintf(stderr, "pushed %s to %s under the legacy tag %s\n", b.path, img, lp.Tag)
				rec.LegacyTag = lp.Tag
			}
			records = append(records, rec)
			pushed++
		}
		if pushed == 0 {
			return records, unfinished(fmt.Errorf("no bundle is about %s", img))
		}
		if f.attestPlatforms {
			if err := attestPlatforms(ctx, f, img, platforms[img.String()], stderr, getenv); err != nil {
				// The platforms' own runs say what they kept; the index's
				// pushes are done.
				return records, err
			}
		}
	}
	return records, nil
}

// stampFunc timestamps the bytes of a legacy attestation layer.
type stampFunc func(ctx context.Context, data []byte) ([]byte, error)

// legacyStamp is how --push-legacy-tag timestamps cosign's legacy layer:
// with a timestamp authority of the signing config, checked against the
// trusted root. nil when no legacy tag is pushed.
func legacyStamp(f attestFlags, sc *root.SigningConfig, tr *root.TrustedRoot) stampFunc {
	if !f.pushLegacyTag || sc == nil {
		return nil
	}
	o := signer.Options{SigningConfig: sc, Deadline: f.pushDeadline, Timeout: f.timeout}
	if tr != nil {
		o.TrustedRoot = tr
	}
	return func(ctx context.Context, data []byte) ([]byte, error) {
		return signer.Timestamp(ctx, data, o)
	}
}

// pushError is a push that stopped at an image: that image and the ones
// after it still lack their attestations.
type pushError struct {
	err    error
	images []string
}

func (e *pushError) Error() string { return e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

// pushCommand is the `hallmark push` command line that pushes the written
// bundles to the images the failed push pe left without them.
func pushCommand(f attestFlags, bundles []string, pe *pushError) string {
	images := pe.images
	args := []string{"hallmark", "push"}
	for _, img := range images {
		args = append(args, "--subject-image", shellWord(img))
	}
	for _, b := range bundles {
		args = append(args, "--bundle-path", shellWord(b))
	}
	if f.pushLegacyTag {
		args = append(args, "--push-legacy-tag")
		if f.signingConfig != "" && f.trustedRoot != "" {
			args = append(args, "--signing-config", shellWord(f.signingConfig), "--trusted-root", shellWord(f.trustedRoot))
		}
	}
	if f.allowInsecureRegistry {
		args = append(args, "--allow-insecure-registry")
	}
	if f.pushDeadline != defaultPushDeadline {
		args = append(args, "--push-deadline", f.pushDeadline.String())
	}
	return strings.Join(args, " ")
}

// shellWord is s as one POSIX shell word: as it is when that is safe,
// quoted otherwise.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return shellQuote(s)
}

// attestPlatforms signs and pushes provenance for each platform image of
// the index img, with the same build facts, one bundle per platform:
// BASE.<os>-<arch>[-<variant>].sigstore.json.
func attestPlatforms(ctx context.Context, f attestFlags, img name.Digest, platforms []oci.Platform, stderr io.Writer, getenv func(string) string) error {
	if len(platforms) == 0 {
		fmt.Fprintf(stderr, "%s is a single-platform image: no platforms to attest\n", img)
		return nil
	}
	base := strings.TrimSuffix(strings.TrimSuffix(f.bundlePath, ".json"), ".sigstore")
	for _, p := range platforms {
		pf := f
		pf.subjectPaths, pf.subjectChecksums, pf.subjectNames, pf.subjectDigests = nil, nil, nil, nil
		pf.subjectImages = []string{p.Digest.String()}
		pf.perSubject, pf.attestPlatforms = false, false
		pf.bundlePath = base + "." + strings.ReplaceAll(p.String(), "/", "-") + ".sigstore.json"
		pf.format = "text"
		fmt.Fprintf(stderr, "attesting platform %s: %s\n", p, p.Digest.DigestStr())
		if err := runAttest(ctx, pf, nil, stderr, stderr, getenv); err != nil {
			return fmt.Errorf("attesting platform %s of %s: %w", p, img, err)
		}
	}
	return nil
}

// statementSubjects reads the predicate type and the subjects' sha256
// digests ("sha256:HEX") of the statement in a bundle attest just made.
func statementSubjects(data []byte) (string, []string, error) {
	var b protobundle.Bundle
	if err := protojson.Unmarshal(data, &b); err != nil {
		return "", nil, fmt.Errorf("decoding bundle: %w", err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(b.GetDsseEnvelope().GetPayload(), &st); err != nil {
		return "", nil, fmt.Errorf("decoding statement: %w", err)
	}
	var digests []string
	for _, s := range st.Subject {
		if h := s.Digest["sha256"]; h != "" {
			digests = append(digests, "sha256:"+h)
		}
	}
	return st.PredicateType, digests, nil
}
