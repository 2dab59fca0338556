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
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// checkPushFlags rejects contradictory push flags; attest calls it before
// signing anything.
func checkPushFlags(f attestFlags) error {
	if !f.pushToRegistry && (f.pushLegacyTag || f.attestPlatforms) {
		return errors.New("--push-legacy-tag and --attest-platforms need --push-to-registry")
	}
	if f.pushToRegistry && len(f.pushTargets()) == 0 {
		return errors.New("--push-to-registry needs --subject-image or --subject-images: only images can carry attestations in a registry")
	}
	return nil
}

// pushRecord is one bundle attached, or not, to one image.
type pushRecord = ghaction.Push

// pushConcurrency is how many images are checked or pushed to at once.
const pushConcurrency = 4

func (f attestFlags) ociOptions() []oci.Option {
	opts := []oci.Option{oci.WithInsecureRegistry(f.allowInsecureRegistry), oci.WithTimeout(f.timeout)}
	if f.registryToken.token != "" {
		opts = append(opts, oci.WithGitHubToken(f.registryToken.registry, f.registryToken.user, f.registryToken.token))
	}
	return opts
}

// githubRegistryToken is the GitHub token that logs in to the GitHub
// instance's container registry when the docker config has nothing for it.
type githubRegistryToken struct{ registry, user, token string }

// pushTargets are the images the bundles go to: --subject-image and
// --subject-images, and the action's subject-name@subject-digest.
func (f attestFlags) pushTargets() []string {
	var out []string
	for _, ref := range append(append([]string(nil), f.subjectImages...), f.pushImages...) {
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
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

// forEach runs do(0..n-1), at most limit at once, and waits for all.
func forEach(n, limit int, do func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			do(i)
		}()
	}
	wg.Wait()
}

// checkRegistries is attest's registry work before signing, under
// --push-to-registry: each image must exist and its registry must take
// pushes from these credentials; with --attest-platforms, each index's
// platforms are listed now. The images are checked side by side, and every
// one that fails is named. Nothing is written to the registry.
func checkRegistries(ctx context.Context, f attestFlags) (map[string][]oci.Platform, error) {
	if !f.pushToRegistry {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.pushDeadline)
	defer cancel()
	images := f.pushTargets()
	type checked struct {
		img       name.Digest
		platforms []oci.Platform
		err       error
	}
	results := make([]checked, len(images))
	forEach(len(images), pushConcurrency, func(i int) {
		r := &results[i]
		if r.img, r.err = f.image(images[i]); r.err != nil {
			return
		}
		if _, err := oci.CheckPush(ctx, r.img, f.ociOptions()...); err != nil {
			r.err = fmt.Errorf("--push-to-registry: %w", err)
			return
		}
		if f.attestPlatforms {
			if r.platforms, r.err = oci.Platforms(ctx, r.img, f.ociOptions()...); r.err != nil {
				r.err = fmt.Errorf("--attest-platforms: %w", r.err)
			}
		}
	})
	platforms := map[string][]oci.Platform{}
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, registryError(r.err, f))
			continue
		}
		platforms[results[i].img.String()] = r.platforms
	}
	switch {
	case len(errs) == 1 && len(images) == 1:
		return nil, fmt.Errorf("%w (nothing was signed)", errs[0])
	case len(errs) > 0:
		return nil, fmt.Errorf("%w\nnothing was signed", &imagesError{errs: errs, of: len(images), what: "cannot take their attestation"})
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

// imagesError is the failures of several images, each naming its image.
type imagesError struct {
	errs []error
	of   int
	what string
}

func (e *imagesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d images %s:", len(e.errs), e.of, e.what)
	for _, err := range e.errs {
		b.WriteString("\n  - " + strings.ReplaceAll(err.Error(), "\n", "\n    "))
	}
	return b.String()
}

func (e *imagesError) Unwrap() []error { return e.errs }

// bundleFile is a written bundle and what its statement is about.
type bundleFile struct {
	path, predicateType string
	data                []byte
	digests             []string
}

// pushAttestations is attest's last step under --push-to-registry, and all
// of `hallmark push`: each bundle is attached to every image it is about,
// as an OCI 1.1 referrer (the referrers tag schema on registries without
// the API) and, with --push-legacy-tag, under cosign's sha256-HEX.att tag
// too. The images are pushed to side by side, at most pushConcurrency at
// once, within one --push-deadline; an image that fails does not stop the
// others, and the records say what went where, failures included. With
// --attest-platforms, each platform image of an index (as listed in
// platforms before signing) then gets its own provenance, signed and pushed
// the same way.
func pushAttestations(ctx context.Context, f attestFlags, bundlePaths []string, platforms map[string][]oci.Platform, stamp stampFunc, stderr io.Writer, getenv func(string) string) ([]pushRecord, error) {
	if !f.pushToRegistry {
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, f.pushDeadline)
	defer cancel()
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
	images := f.pushTargets()
	results := make([]imagePush, len(images))
	out := &syncWriter{w: stderr}
	forEach(len(images), pushConcurrency, func(i int) {
		results[i] = pushImage(pctx, f, images[i], files, stamp, out)
	})
	var records []pushRecord
	var failed, lacking []string
	var errs []error
	for i, r := range results {
		records = append(records, r.records...)
		if r.err != nil {
			failed = append(failed, images[i])
			errs = append(errs, r.err)
			for _, b := range r.bundles {
				if !slices.Contains(lacking, b) {
					lacking = append(lacking, b)
				}
			}
		}
	}
	if len(errs) == 1 && len(images) == 1 {
		return records, &pushError{err: errs[0], images: failed, bundles: lacking}
	}
	if len(errs) > 0 {
		return records, &pushError{err: &imagesError{errs: errs, of: len(images), what: "lack their attestation"}, images: failed, bundles: lacking}
	}
	if f.attestPlatforms {
		for _, r := range results {
			if err := attestPlatforms(ctx, f, r.img, platforms[r.img.String()], stderr, getenv); err != nil {
				// The platforms' own runs say what they kept; the
				// indexes' pushes are done.
				return records, err
			}
		}
	}
	return records, nil
}

// imagePush is what pushing to one image did.
type imagePush struct {
	img     name.Digest
	records []pushRecord
	// bundles are the bundles about the image; err, if set, is why it
	// lacks one of them.
	bundles []string
	err     error
}

// pushImage attaches to the image ref every bundle about it.
func pushImage(ctx context.Context, f attestFlags, ref string, files []bundleFile, stamp stampFunc, out io.Writer) imagePush {
	var r imagePush
	var err error
	if r.img, err = f.image(ref); err != nil {
		r.err = err
		r.records = append(r.records, pushRecord{Image: ref, Error: err.Error()})
		return r
	}
	img := r.img
	var about []bundleFile
	for _, b := range files {
		if slices.Contains(b.digests, img.DigestStr()) {
			about = append(about, b)
			r.bundles = append(r.bundles, b.path)
		}
	}
	if len(about) == 0 {
		r.err = fmt.Errorf("no bundle is about %s", img)
		r.records = append(r.records, pushRecord{Image: img.String(), Error: r.err.Error()})
		return r
	}
	opts := f.ociOptions()
	for _, b := range about {
		att := oci.Attestation{Bundle: b.data, PredicateType: b.predicateType}
		p, err := oci.Push(ctx, img, att, opts...)
		if err != nil {
			r.err = registryError(fmt.Errorf("pushing %s to %s: %w", b.path, img, err), f)
			r.records = append(r.records, pushRecord{Image: img.String(), Bundle: b.path, Error: r.err.Error()})
			return r
		}
		where := string(p.Source)
		if p.Tag != "" {
			where += " " + p.Tag
		}
		fmt.Fprintf(out, "pushed %s to %s as %s (%s)\n", b.path, img, p.Manifest.DigestStr(), where)
		rec := pushRecord{Image: img.String(), Bundle: b.path, Manifest: p.Manifest.DigestStr(), Via: string(p.Source), Tag: p.Tag}
		if f.pushLegacyTag {
			att.Timestamp = stamp
			lp, err := oci.PushLegacy(ctx, img, att, opts...)
			if err != nil {
				r.err = registryError(fmt.Errorf("pushing %s to %s under the legacy tag: %w", b.path, img, err), f)
				rec.Error = r.err.Error()
				r.records = append(r.records, rec)
				return r
			}
			fmt.Fprintf(out, "pushed %s to %s under the legacy tag %s\n", b.path, img, lp.Tag)
			rec.LegacyTag = lp.Tag
		}
		r.records = append(r.records, rec)
	}
	return r
}

// syncWriter serialises writes of lines from pushes side by side.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
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

// pushError is a push that failed for some images: they still lack their
// attestations, which are in bundles (all the written bundles if empty).
type pushError struct {
	err     error
	images  []string
	bundles []string
}

func (e *pushError) Error() string { return e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

// pushCommand is the `hallmark push` command line that pushes the written
// bundles to the images the failed push pe left without them.
func pushCommand(f attestFlags, bundles []string, pe *pushError) string {
	images := pe.images
	if len(pe.bundles) > 0 {
		bundles = pe.bundles
	}
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
		pf.subjectImages, pf.subjectImagesEach, pf.pushImages = []string{p.Digest.String()}, nil, nil
		pf.perSubject, pf.perImage, pf.attestPlatforms = false, false, false
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
