package admission

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hallmark-dev/hallmark/internal/imageverify"
	"github.com/hallmark-dev/hallmark/verifier"
)

// Trust is the trusted material every policy verifies against: the
// Sigstore trusted root and, for factory-signed provenance, SPIFFE trust
// bundles.
type Trust struct {
	Root   root.TrustedMaterial
	SPIFFE []*x509bundle.Bundle
}

// compiledPolicy is an ImagePolicy ready to judge images: its globs,
// selector, verifier and summary policies, built once per generation.
type compiledPolicy struct {
	name       string
	uid        types.UID
	generation int64
	mode       Mode
	images     []verifier.Pattern
	selector   labels.Selector
	verifier   *verifier.Verifier
	summaries  []imageverify.SummaryPolicy
	// err is why the policy could not be built: every image it governs
	// is denied (fail closed) until it is fixed.
	err error
}

// key names this generation of the policy in verdict keys.
func (p *compiledPolicy) key() string {
	return fmt.Sprintf("%s/%d", p.uid, p.generation)
}

// governs reports whether the policy applies to an image of repository
// repo in a namespace with labels ns.
func (p *compiledPolicy) governs(repo string, ns labels.Set) bool {
	if p.selector != nil && !p.selector.Matches(ns) {
		return false
	}
	for _, g := range p.images {
		if g.Match(repo) {
			return true
		}
	}
	return false
}

// compile builds an ImagePolicy. The error is also kept in the result's
// err; a policy whose globs or selector do not parse governs nothing it
// could name, so it is returned with images and selector as far as they
// parsed and err set.
func compile(ip *ImagePolicy, trust Trust) *compiledPolicy {
	p := &compiledPolicy{name: ip.Name, uid: ip.UID, generation: ip.Generation, mode: ip.Spec.Mode}
	if p.mode == "" {
		p.mode = ModeEnforce
	}
	p.err = p.build(&ip.Spec, trust)
	if p.err != nil {
		p.err = fmt.Errorf("ImagePolicy %s: %w", ip.Name, p.err)
	}
	return p
}

func (p *compiledPolicy) build(spec *ImagePolicySpec, trust Trust) error {
	var errs []error
	switch p.mode {
	case ModeEnforce, ModeWarn, ModeAudit:
	default:
		errs = append(errs, fmt.Errorf("mode %q: want enforce, warn or audit", p.mode))
	}
	if len(spec.Images) == 0 {
		errs = append(errs, errors.New("images: name at least one image glob"))
	}
	for i, g := range spec.Images {
		pat, err := parseImageGlob(g)
		if err != nil {
			errs = append(errs, fmt.Errorf("images[%d]: %w", i, err))
			continue
		}
		p.images = append(p.images, pat)
	}
	if spec.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(spec.NamespaceSelector)
		if err != nil {
			errs = append(errs, fmt.Errorf("namespaceSelector: %w", err))
		} else {
			p.selector = sel
		}
	}
	v, err := newVerifier(spec, trust)
	if err != nil {
		errs = append(errs, err)
	}
	p.verifier = v
	for i, s := range spec.VerificationSummaries {
		sp, err := summaryPolicy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("verificationSummaries[%d]: %w", i, err))
			continue
		}
		p.summaries = append(p.summaries, sp)
	}
	return errors.Join(errs...)
}

// parseImageGlob compiles an images entry: a glob over a repository name,
// which names no tag or digest.
func parseImageGlob(g string) (verifier.Pattern, error) {
	if g == "" || strings.ContainsAny(g, "@ \t\n") || strings.HasPrefix(g, "glob:") || strings.HasPrefix(g, "regexp:") {
		return verifier.Pattern{}, fmt.Errorf("%q: want a glob over repositories such as registry.example.com/team/*, without a tag or digest", g)
	}
	if i := strings.LastIndex(g, ":"); i > strings.LastIndex(g, "/") && !strings.Contains(g[i:], "*") && strings.Contains(g, "/") {
		return verifier.Pattern{}, fmt.Errorf("%q: globs name repositories, not tags: drop %q", g, g[i:])
	}
	return verifier.ParsePattern("glob:" + g)
}

// expectFlags turns an ImagePolicy's expectations into verify-image's
// flags.
func expectFlags(e Expectations) verifier.Flags {
	return verifier.Flags{
		Source: e.SourceURI, SourceBranch: e.SourceBranch, SourceTag: e.SourceTag, SourceVersionedTag: e.SourceVersionedTag,
		BuilderID: e.BuilderID, WorkflowInputs: e.WorkflowInputs,
		CertIdentity: e.CertIdentity, CertIdentityRegex: e.CertIdentityRegex, CertOIDCIssuer: e.CertOIDCIssuer,
		SignerWorkflow: e.SignerWorkflow, SignerRepo: e.SignerRepo, Owner: e.Owner,
		DenySelfHostedRunners: e.DenySelfHostedRunners, SPIFFEIDs: e.SPIFFEIDs, MinLevel: e.MinLevel,
	}
}

// newVerifier builds the policy as verify-image does: the policy file
// narrowed by the expectations, or the built-in policy with them applied
// (where naming a builder trusts it). A source is required, as on the
// command line.
func newVerifier(spec *ImagePolicySpec, trust Trust) (*verifier.Verifier, error) {
	if trust.Root == nil {
		return nil, errors.New("no trusted root")
	}
	f := expectFlags(spec.Expect)
	var p *verifier.Policy
	var err error
	if spec.Policy == "" {
		if f.Source == "" && f.Owner == "" {
			return nil, errors.New("expect.sourceURI is required: name the repository the images must come from (e.g. github.com/OWNER/REPO), or give a policy that names it, or at least expect.owner")
		}
		if p, err = verifier.DefaultPolicyWith(f); err != nil {
			return nil, fmt.Errorf("expect: %w", err)
		}
	} else {
		if p, err = verifier.LoadPolicy([]byte(spec.Policy)); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		if err := p.Narrow(f); err != nil {
			return nil, fmt.Errorf("expect: %w", err)
		}
		if p.Source == "" && f.Owner == "" {
			return nil, errors.New("expect.sourceURI is required: name the repository the images must come from in the policy or in expect.sourceURI, or at least expect.owner")
		}
	}
	var opts []verifier.Option
	if p.Source == "" {
		// expect.owner stands for the source: any repository of that
		// owner, as verify-image --owner.
		opts = append(opts, verifier.WithoutSourceUnsafe())
	}
	if p.SPIFFE != nil && len(trust.SPIFFE) > 0 {
		opts = append(opts, verifier.WithSPIFFEBundles(trust.SPIFFE...))
	}
	v, err := verifier.New(trust.Root, p, opts...)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func summaryPolicy(s SummaryPolicy) (imageverify.SummaryPolicy, error) {
	if s.Issuer == "" || s.Identity == "" {
		return imageverify.SummaryPolicy{}, errors.New("issuer and identity name the verifier that signs: both are required")
	}
	if _, err := verifier.ParsePattern(s.Identity); err != nil {
		return imageverify.SummaryPolicy{}, fmt.Errorf("identity: %w", err)
	}
	if s.MinLevel < 0 || s.MinLevel > 3 {
		return imageverify.SummaryPolicy{}, fmt.Errorf("minLevel %d: want 0 to 3", s.MinLevel)
	}
	sp := imageverify.SummaryPolicy{VSAPolicy: verifier.VSAPolicy{
		Issuer: s.Issuer, SAN: s.Identity, MinLevel: s.MinLevel, VerifierID: s.VerifierID, PolicyDigest: s.PolicyDigest,
	}}
	if s.MaxAge != nil {
		if s.MaxAge.Duration <= 0 {
			return imageverify.SummaryPolicy{}, fmt.Errorf("maxAge %s: want a positive duration", s.MaxAge.Duration)
		}
		sp.MaxAge = s.MaxAge.Duration
	}
	return sp, nil
}

// policyStore holds the compiled ImagePolicies; readers take an immutable
// snapshot.
type policyStore struct {
	trust Trust
	log   *slog.Logger
	mu    sync.Mutex
	byUID map[types.UID]*compiledPolicy
	snap  atomic.Pointer[[]*compiledPolicy]
	// changed counts changes, for tests and metrics.
	changed atomic.Int64
}

func newPolicyStore(trust Trust, log *slog.Logger) *policyStore {
	s := &policyStore{trust: trust, log: log, byUID: map[types.UID]*compiledPolicy{}}
	s.snap.Store(&[]*compiledPolicy{})
	return s
}

// upsert compiles ip unless this generation is compiled already.
func (s *policyStore) upsert(ip *ImagePolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := s.byUID[ip.UID]; ok && have.generation == ip.Generation {
		return
	}
	start := time.Now()
	p := compile(ip, s.trust)
	if p.err != nil {
		s.log.Error("ImagePolicy does not build: the images it governs are denied until it is fixed", "policy", ip.Name, "generation", ip.Generation, "error", p.err.Error())
	} else {
		s.log.Info("ImagePolicy loaded", "policy", ip.Name, "generation", ip.Generation, "mode", p.mode, "took", time.Since(start).String())
	}
	s.byUID[ip.UID] = p
	s.publish()
}

// remove drops a deleted policy.
func (s *policyStore) remove(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byUID[uid]; !ok {
		return
	}
	delete(s.byUID, uid)
	s.publish()
}

func (s *policyStore) publish() {
	all := make([]*compiledPolicy, 0, len(s.byUID))
	for _, p := range s.byUID {
		all = append(all, p)
	}
	slices.SortFunc(all, func(a, b *compiledPolicy) int { return strings.Compare(a.name, b.name) })
	s.snap.Store(&all)
	s.changed.Add(1)
}

// list is the current policies, sorted by name. Do not modify it.
func (s *policyStore) list() []*compiledPolicy { return *s.snap.Load() }
