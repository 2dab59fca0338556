package attest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/digest"
	"github.com/hallmark-dev/hallmark/internal/formats"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// pushConcurrency is how many images are checked or pushed to at once.
const pushConcurrency = 4

// registry is how the registries are reached: plain HTTP or not, the
// timeout of each try, the deadline of the registry work, the GitHub token,
// and whether cosign's legacy tag is pushed too.
type registry struct {
	insecure  bool
	timeout   time.Duration
	deadline  time.Duration
	token     RegistryToken
	legacyTag bool
}

func (r Request) registry() registry {
	return registry{insecure: r.AllowInsecureRegistry, timeout: r.Timeout, deadline: r.PushDeadline, token: r.RegistryToken, legacyTag: r.PushLegacyTag}
}

func (g registry) options() []oci.Option {
	opts := []oci.Option{oci.WithInsecureRegistry(g.insecure), oci.WithTimeout(g.timeout)}
	if g.token.Token != "" {
		opts = append(opts, oci.WithGitHubToken(g.token.Registry, g.token.User, g.token.Token))
	}
	return opts
}

func (g registry) image(ref string) (name.Digest, error) {
	var nopts []name.Option
	if g.insecure {
		nopts = append(nopts, name.Insecure)
	}
	img, err := name.NewDigest(ref, nopts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("--subject-image %s: %w", ref, err)
	}
	return img, nil
}

// error adds to a registry failure what the request can change.
func (g registry) error(err error) error {
	if errors.Is(err, oci.ErrTimeout) {
		return fmt.Errorf("%w\nallow more time with --push-deadline (now %s) or --timeout (now %s)", err, g.deadline, g.timeout)
	}
	return err
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

// checked is an image looked up before signing, with its platforms when
// it is an index and they were asked for.
type checked struct {
	img       name.Digest
	platforms []oci.Platform
}

// checkRegistries is the registry work before signing, under
// PushToRegistry: each image must exist and its registry must take pushes
// from these credentials; with AttestPlatforms, each index's platforms are
// listed now. The images are checked side by side, and every one that
// fails is named. Nothing is written to the registry.
func checkRegistries(ctx context.Context, g registry, images []string, platforms bool) ([]checked, error) {
	ctx, cancel := context.WithTimeout(ctx, g.deadline)
	defer cancel()
	results := make([]checked, len(images))
	errs := make([]error, len(images))
	forEach(len(images), pushConcurrency, func(i int) {
		r := &results[i]
		var err error
		if r.img, err = g.image(images[i]); err != nil {
			errs[i] = err
			return
		}
		if _, err := oci.CheckPush(ctx, r.img, g.options()...); err != nil {
			errs[i] = fmt.Errorf("--push-to-registry: %w", err)
			return
		}
		if platforms {
			if r.platforms, err = oci.Platforms(ctx, r.img, g.options()...); err != nil {
				errs[i] = fmt.Errorf("--attest-platforms: %w", err)
			}
		}
	})
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, g.error(err))
		}
	}
	switch {
	case len(failed) == 1 && len(images) == 1:
		return nil, fmt.Errorf("%w (nothing was signed)", failed[0])
	case len(failed) > 0:
		return nil, fmt.Errorf("%w\nnothing was signed", &imagesError{errs: failed, of: len(images), what: "cannot take their attestation"})
	}
	return results, nil
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

// bundleFile is a signed bundle and what its statement is about.
type bundleFile struct {
	path, predicateType string
	data                []byte
	// digests are the subjects' sha256 digests, sha256:HEX.
	digests []string
}

// fileOf is a bundle attest just signed, as pushes see it: its bytes as
// they are in memory, and its subjects as they went into its statement.
func fileOf(b signed) bundleFile {
	f := bundleFile{path: b.sum.Path, predicateType: b.sum.PredicateType, data: b.data}
	for _, s := range b.sum.Subjects {
		if h := s.Digest[subject.SHA256]; h != "" {
			f.digests = append(f.digests, digest.Digest{Algorithm: digest.SHA256, Hex: h}.String())
		}
	}
	if f.predicateType == "" {
		f.predicateType = formats.PredicateSLSAProvenanceV1
	}
	return f
}

// pushAll attaches each bundle to every image it is about, as an OCI 1.1
// referrer (the referrers tag schema on registries without the API) and,
// with legacyTag, under cosign's sha256-HEX.att tag too. The images are
// pushed to side by side, at most pushConcurrency at once, within one push
// deadline; an image that fails does not stop the others, and the records
// say what went where, failures included.
func pushAll(ctx context.Context, g registry, images []string, files []bundleFile, stamp stampFunc, log io.Writer) ([]result.Push, error) {
	ctx, cancel := context.WithTimeout(ctx, g.deadline)
	defer cancel()
	results := make([]imagePush, len(images))
	out := &syncWriter{w: log}
	forEach(len(images), pushConcurrency, func(i int) {
		results[i] = pushImage(ctx, g, images[i], files, stamp, out)
	})
	var records []result.Push
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
	return records, nil
}

// imagePush is what pushing to one image did.
type imagePush struct {
	records []result.Push
	// bundles are the bundles about the image; err, if set, is why it
	// lacks one of them.
	bundles []string
	err     error
}

// pushImage attaches to the image ref every bundle about it.
func pushImage(ctx context.Context, g registry, ref string, files []bundleFile, stamp stampFunc, out io.Writer) imagePush {
	var r imagePush
	img, err := g.image(ref)
	if err != nil {
		r.err = err
		r.records = append(r.records, result.Push{Image: ref, Error: err.Error()})
		return r
	}
	var about []bundleFile
	for _, b := range files {
		if slices.Contains(b.digests, img.DigestStr()) {
			about = append(about, b)
			r.bundles = append(r.bundles, b.path)
		}
	}
	if len(about) == 0 {
		r.err = fmt.Errorf("no bundle is about %s", img)
		r.records = append(r.records, result.Push{Image: img.String(), Error: r.err.Error()})
		return r
	}
	opts := g.options()
	for _, b := range about {
		att := oci.Attestation{Bundle: b.data, PredicateType: b.predicateType}
		p, err := oci.Push(ctx, img, att, opts...)
		if err != nil {
			r.err = g.error(fmt.Errorf("pushing %s to %s: %w", b.path, img, err))
			r.records = append(r.records, result.Push{Image: img.String(), Bundle: b.path, Error: r.err.Error()})
			return r
		}
		where := string(p.Source)
		if p.Tag != "" {
			where += " " + p.Tag
		}
		fmt.Fprintf(out, "pushed %s to %s as %s (%s)\n", b.path, img, p.Manifest.DigestStr(), where)
		rec := result.Push{Image: img.String(), Bundle: b.path, Manifest: p.Manifest.DigestStr(), Via: string(p.Source), Tag: p.Tag}
		if g.legacyTag {
			att.Timestamp = stamp
			lp, err := oci.PushLegacy(ctx, img, att, opts...)
			if err != nil {
				r.err = g.error(fmt.Errorf("pushing %s to %s under the legacy tag: %w", b.path, img, err))
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

// legacyStamp is how the legacy tag's layer is timestamped: with a
// timestamp authority of the signing config, checked against the trusted
// root. nil when no legacy tag is pushed.
func legacyStamp(g registry, sc *root.SigningConfig, tr *root.TrustedRoot) stampFunc {
	if !g.legacyTag || sc == nil {
		return nil
	}
	o := signer.Options{SigningConfig: sc, Deadline: g.deadline, Timeout: g.timeout}
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
func pushCommand(r Request, bundles []string, pe *pushError) string {
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
	if r.PushLegacyTag {
		args = append(args, "--push-legacy-tag")
		if r.SigningConfig != "" && r.TrustedRoot != "" {
			args = append(args, "--signing-config", shellWord(r.SigningConfig), "--trusted-root", shellWord(r.TrustedRoot))
		}
	}
	if r.AllowInsecureRegistry {
		args = append(args, "--allow-insecure-registry")
	}
	if r.PushDeadline != DefaultPushDeadline {
		args = append(args, "--push-deadline", r.PushDeadline.String())
	}
	return strings.Join(args, " ")
}

// shellWord is s as one POSIX shell word: as it is when that is safe,
// quoted otherwise.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// imagesOf are the images among targets that the bundles are about.
func imagesOf(g registry, targets []string, bundles []result.Bundle) []string {
	var out []string
	for _, ref := range targets {
		img, err := g.image(ref)
		if err != nil {
			continue
		}
		for _, b := range bundles {
			if slices.ContainsFunc(b.Subjects, func(s result.Subject) bool { return "sha256:"+s.Digest["sha256"] == img.DigestStr() }) {
				out = append(out, ref)
				break
			}
		}
	}
	return out
}
