package attest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// Run signs provenance for the subjects req names, writes the bundles and,
// with PushToRegistry, attaches them to their images; it returns what it
// signed, wrote and pushed.
//
// Whatever can fail without spending a log entry is tried first: the
// inputs, the SBOMs, the identity token, room for every bundle file, and
// with PushToRegistry the images and the registry's write access (and,
// with AttestPlatforms, each index's platforms, whose statements join the
// run). Signing has its own deadline; the bundles are written only when
// all are signed (into the room reserved for them), and then pushed from
// memory. A failure after some bundles were signed is a *KeptError: the
// signed bundles are written (or rescued), and its Result says what was
// done.
func Run(ctx context.Context, req Request, env Env) (*result.Attest, error) {
	env = env.withDefaults()
	if req.BundlePath == "" {
		return nil, errors.New("--bundle-path is empty")
	}
	if req.FactsFile != "" && req.FactsFromToken {
		return nil, errors.New("--facts and --facts-from-token contradict each other: give one")
	}
	req, perImage, err := req.expandImages()
	if err != nil {
		return nil, err
	}
	if err := req.checkPush(); err != nil {
		return nil, err
	}
	sbomFormats, err := checkSBOM(req.SBOM)
	if err != nil {
		return nil, err
	}
	req = req.withTimeDefaults()
	if err := req.checkTimes(); err != nil {
		return nil, err
	}
	started := time.Now().UTC().Truncate(time.Second)
	groups, err := subjectGroups(ctx, req, perImage, env.Stdin)
	if err != nil {
		return nil, err
	}
	sboms, err := makeSBOMs(ctx, req, sbomFormats, slices.Concat(groups...), nil, env.Log)
	if err != nil {
		return nil, err
	}
	sc, tr, err := LoadTrust(req.SigningConfig, req.TrustedRoot, env.Getenv)
	if err != nil {
		return nil, err
	}
	token, source, err := signer.IdentityToken(ctx, req.IdentityToken, env.Getenv, &http.Client{Timeout: req.Timeout})
	if err != nil {
		return nil, err
	}
	claims, err := signer.CheckToken(token, signer.DefaultAudience, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w (the token came from %s)", err, source)
	}
	if err := checkVisibility(claims, sc, req); err != nil {
		return nil, err
	}
	build, err := buildFacts(ctx, req, env.Getenv, claims)
	if err != nil {
		return nil, err
	}
	if build.StartedOn.IsZero() {
		build.StartedOn = started
	}

	paths := bundlePaths(req.BundlePath, groups, req.PerSubject, perImage)
	build.FinishedOn = time.Now().UTC().Truncate(time.Second)
	// One session (one certificate) for each provenance statement; the
	// SBOM statements follow, each signed in the session of the
	// provenance of its subjects.
	items := make([]item, len(groups))
	sessions := make([]int, len(groups))
	for i, g := range groups {
		payload, err := provenanceStatement(g, build)
		if err != nil {
			return nil, err
		}
		items[i], sessions[i] = item{subjects: g, path: paths[i], payload: payload, session: i}, i
	}
	extra, err := sbomItems(sboms, groups, paths, sessions, req.BundlePath)
	if err != nil {
		return nil, err
	}
	items = append(items, extra...)
	if perImage && len(items) > 1 {
		for i := range items {
			items[i].label = groupLabel(items[i].subjects)
		}
	}

	outs, err := reserve(items)
	if err != nil {
		return nil, err
	}
	defer func() { discard(outs) }()
	g := req.registry()
	var targets []string
	if req.PushToRegistry {
		targets = req.pushTargets()
		checks, err := checkRegistries(ctx, g, targets, req.AttestPlatforms)
		if err != nil {
			return nil, err
		}
		if req.AttestPlatforms {
			more, refs, err := platformItems(ctx, req, checks, build, sbomFormats, len(groups), env)
			if err != nil {
				return nil, err
			}
			moreOuts, err := reserve(more)
			if err != nil {
				return nil, err
			}
			items, outs = append(items, more...), append(outs, moreOuts...)
			for _, ref := range refs {
				if !slices.Contains(targets, ref) {
					targets = append(targets, ref)
				}
			}
		}
	}

	signers := make([]*signer.Session, sessionCount(items))
	// The sessions check their bundles with one verifier.
	checked := signer.SharedChecks(tr)
	for i := range signers {
		if signers[i], err = signer.NewSession(signer.Options{
			SigningConfig: sc, TrustedRoot: checked, IdentityToken: token, Private: req.Private,
			Deadline: req.Deadline, Timeout: req.Timeout, Retries: req.Retries,
		}); err != nil {
			return nil, signingError(err, req)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, req.Deadline)
	defer cancel()
	done, err := signAll(sctx, items, signers, req, env.Log)
	bundles := make([]result.Bundle, len(done))
	for i, b := range done {
		bundles[i] = b.sum
	}
	if err != nil {
		if len(done) == 0 {
			return nil, err
		}
		// The bundles signed spent their entries: keep them, and say
		// how to push them without signing again.
		kept, kerr := commitBundles(done, outs)
		ke := &KeptError{Err: err, Kept: kept, KeepErr: kerr, Result: &result.Attest{BuilderID: build.BuilderID, Bundles: bundles}}
		if req.PushToRegistry && len(kept) > 0 {
			ke.Next = pushCommand(req, kept, &pushError{images: imagesOf(g, targets, bundles)})
		}
		return nil, ke
	}
	written, err := commitBundles(done, outs)
	if err != nil {
		return nil, err
	}
	summary := &result.Attest{BuilderID: build.BuilderID, Bundles: bundles}
	if !req.PushToRegistry {
		return summary, nil
	}
	files := make([]bundleFile, len(done))
	for i, b := range done {
		files[i] = fileOf(b)
	}
	summary.Pushes, err = pushAll(ctx, g, targets, files, legacyStamp(g, sc, tr), env.Log)
	if err != nil {
		ke := &KeptError{Err: err, Kept: written, Result: summary}
		var pe *pushError
		if errors.As(err, &pe) {
			ke.Next = pushCommand(req, written, pe)
		}
		return nil, ke
	}
	return summary, nil
}

// buildFacts are the build's facts (buildContext), checked against the
// token's claims, with the token's job workflow as the builder.
func buildFacts(ctx context.Context, req Request, getenv func(string) string, claims map[string]any) (*provenance.Build, error) {
	bctx, err := buildContext(req, getenv, claims)
	if err != nil {
		return nil, err
	}
	if err := checkFacts(bctx, claims, req); err != nil {
		return nil, err
	}
	if jwr, _ := claims["job_workflow_ref"].(string); jwr != "" {
		if bctx, err = bctx.With(githubctx.Options{JobWorkflowRef: jwr}); err != nil {
			return nil, err
		}
	}
	return bctx.Build(ctx)
}

// provenanceStatement is the provenance of subjects from build, encoded.
func provenanceStatement(subjects []subject.Subject, build *provenance.Build) ([]byte, error) {
	st, err := provenance.Statement(subjects, build)
	if err != nil {
		return nil, err
	}
	return provenance.MarshalStatement(st)
}

// sessionCount is how many sessions the items are signed in.
func sessionCount(items []item) int {
	n := 0
	for _, it := range items {
		n = max(n, it.session+1)
	}
	return n
}

// platformItems are the statements of each platform image of the indexes
// checks lists, with the same build facts: one provenance bundle per
// platform, BASE.<os>-<arch>[-<variant>].sigstore.json, in a session of its
// own (from session on), and the SBOMs req asks for of it beside it, as if
// each platform were attested on its own. refs are the platform images, to
// push the bundles to.
func platformItems(ctx context.Context, req Request, checks []checked, build *provenance.Build, formats []sbom.Format, session int, env Env) ([]item, []string, error) {
	var items []item
	var refs []string
	base := bundleBase(req.BundlePath)
	for _, c := range checks {
		if len(c.platforms) == 0 {
			fmt.Fprintf(env.Log, "%s is a single-platform image: no platforms to attest\n", c.img)
			continue
		}
		for _, p := range c.platforms {
			fmt.Fprintf(env.Log, "attesting platform %s: %s\n", p, p.Digest.DigestStr())
			more, err := platformItem(ctx, req, p.Digest.String(), base+"."+strings.ReplaceAll(p.String(), "/", "-")+".sigstore.json", build, formats, session, env)
			if err != nil {
				return nil, nil, fmt.Errorf("attesting platform %s of %s: %w", p, c.img, err)
			}
			for i := range more {
				more[i].label = fmt.Sprintf("platform %s of %s", p, c.img)
			}
			items, refs = append(items, more...), append(refs, p.Digest.String())
			session++
		}
	}
	return items, refs, nil
}

// platformItem is the provenance of the platform image ref, written to
// path and signed in session, and its SBOMs.
func platformItem(ctx context.Context, req Request, ref, path string, build *provenance.Build, formats []sbom.Format, session int, env Env) ([]item, error) {
	s, err := subject.FromImageRef(ref)
	if err != nil {
		return nil, err
	}
	one := []subject.Subject{s}
	payload, err := provenanceStatement(one, build)
	if err != nil {
		return nil, err
	}
	items := []item{{subjects: one, path: path, payload: payload, session: session}}
	images := map[string]string{}
	for alg, h := range s.Digest {
		images[s.Name+"@"+alg+":"+h] = ref
	}
	set, err := makeSBOMs(ctx, req, formats, one, images, env.Log)
	if err != nil {
		return nil, err
	}
	extra, err := sbomItems(set, [][]subject.Subject{one}, []string{path}, []int{session}, path)
	if err != nil {
		return nil, err
	}
	return append(items, extra...), nil
}
