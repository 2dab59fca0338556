package verifier

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
)

// Verifier verifies SLSA provenance bundles against one trusted root and one
// policy. It holds no mutable state: one Verifier serves any number of
// goroutines.
type Verifier struct {
	c *checker
}

// Option configures New.
type Option func(*options) error

type options struct {
	now             func() time.Time
	log             *slog.Logger
	maxSubjects     int
	spiffeBundles   []*x509bundle.Bundle
	withoutSource   bool
	spiffeRequested bool
}

// WithClock sets the clock the verifier reads "now" from: a verified
// timestamp after now is rejected, and Result.VerifiedAt is now. Default:
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		o.now = now
		return nil
	}
}

// WithLogger sets where the verifier reports each check at debug level.
// Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMaxSubjects overrides the policy's subject limit (default 1024): a
// statement with more subjects is rejected before its subjects are read.
func WithMaxSubjects(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithMaxSubjects: %d is below 1", n)
		}
		o.maxSubjects = n
		return nil
	}
}

// WithSPIFFEBundles adds SPIFFE trust bundles (one per trust domain, see
// LoadSPIFFEBundle): X.509-SVIDs chaining to them, valid at a verified
// signing time, are accepted as signing certificates, for the SPIFFE IDs
// the policy's spiffe section accepts. Logs and timestamp authorities still
// come from the trusted material.
func WithSPIFFEBundles(bundles ...*x509bundle.Bundle) Option {
	return func(o *options) error {
		for _, b := range bundles {
			if b == nil {
				return errors.New("WithSPIFFEBundles: nil bundle")
			}
		}
		o.spiffeBundles = append(o.spiffeBundles, bundles...)
		o.spiffeRequested = true
		return nil
	}
}

// WithoutSourceUnsafe lets a policy without a source expectation verify:
// without it, New refuses such a policy, since provenance that proves an
// artifact was built from some repository proves little. Use it only where
// the source is checked by other means (the caller compares
// Result.Identity's source itself, or a policy expression does).
func WithoutSourceUnsafe() Option {
	return func(o *options) error {
		o.withoutSource = true
		return nil
	}
}

// ErrNoSourceExpectation: New was given a policy that expects no source,
// without WithoutSourceUnsafe.
var ErrNoSourceExpectation = errors.New("the policy expects no source repository")

// New returns a verifier for the trusted material (usually a trusted root,
// see LoadTrustedRoot) and the policy. The policy is validated and compiled
// here if LoadPolicy has not done it; a policy without Source is refused
// unless WithoutSourceUnsafe is given. The SCT threshold defaults to 1 when
// the trusted material lists CT logs and 0 when it lists none (a private
// Sigstore without CT); the policy's thresholds.scts overrides it.
func New(trusted root.TrustedMaterial, policy *Policy, opts ...Option) (*Verifier, error) {
	if trusted == nil {
		return nil, errors.New("new verifier: no trusted material")
	}
	if policy == nil {
		return nil, errors.New("new verifier: no policy")
	}
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
	}
	p := *policy
	if err := p.compile(); err != nil {
		return nil, fmt.Errorf("new verifier: policy: %w", err)
	}
	if p.compiled.source == "" && !o.withoutSource {
		return nil, fmt.Errorf("new verifier: %w: set Policy.Source (--source-uri), or pass WithoutSourceUnsafe", ErrNoSourceExpectation)
	}
	if o.spiffeRequested && p.SPIFFE == nil {
		return nil, errors.New("new verifier: SPIFFE bundles given, but the policy has no spiffe section naming who may sign")
	}
	if o.maxSubjects > 0 {
		p.compiled.maxSubjects = o.maxSubjects
	}
	c, err := newChecker(trusted, p.compiled.thresholds, p.compiled.explicitSCTs, o)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	c.policy = &p
	return &Verifier{c: c}, nil
}

// LoadTrustedRoot parses a Sigstore trusted root (trusted_root.json).
func LoadTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("loading trusted root: %w", err)
	}
	return tr, nil
}

// Result is what a successful verification established.
type Result struct {
	// Statement is the verified in-toto statement.
	Statement *intoto.Statement
	// Payload is the statement exactly as signed (slsa-verifier's
	// --print-provenance prints this).
	Payload []byte
	// PredicateType is the statement's predicate type.
	PredicateType string
	// BuildType is the provenance's build type.
	BuildType string
	// BuilderID is the provenance's builder id, checked against the
	// certificate.
	BuilderID string
	// TrustedBuilder names the policy entry that trusted the builder.
	TrustedBuilder string
	// Level is the SLSA build level granted, 0 to 3.
	Level int
	// Identity is the verified signing certificate's identity.
	Identity CertificateIdentity
	// Subjects are the names of the statement's subjects that matched the
	// artifact digests.
	Subjects []string
	// Timestamps are the verified signing-time observations.
	Timestamps []Timestamp
	// Unverified names the provenance fields nothing vouched for: a
	// trusted builder wrote them, but the certificate predates the
	// extensions they would be checked against (GitHub certificates
	// Fulcio issued before 2023). Empty for current certificates.
	Unverified []string
	// VerifiedAt is the verifier clock's now.
	VerifiedAt time.Time
}

// Timestamp is one verified observation of signing time.
type Timestamp struct {
	// Kind is "Tlog" (a log's integrated time) or "TimestampAuthority".
	Kind string
	// URI names the log or authority.
	URI  string
	Time time.Time
}

// Verify verifies one bundle for the artifact with any of the digests. It
// runs the checks of the pipeline in their order (see the package
// documentation) and returns the first failure as a *CheckError.
func (v *Verifier) Verify(b *bundle.Bundle, digests ...Digest) (*Result, error) {
	r := &run{c: v.c, b: b, digests: digests}
	if err := r.verify(forProvenance); err != nil {
		return nil, err
	}
	st, err := r.st.proto()
	if err != nil {
		return nil, fail(CheckStatement, "a statement", "one the in-toto types cannot hold", err)
	}
	id := r.signer.identity()
	if r.signer.kind == signerSVID {
		id = CertificateIdentity{Issuer: "spiffe://" + r.signer.id.TrustDomain().Name(), SAN: r.signer.id.String()}
	}
	v.c.log.Debug("provenance verified", "builder", r.builder.ID, "signer", r.signer.uri(), "level", r.level)
	return &Result{
		Statement:      st,
		Payload:        r.payload,
		PredicateType:  r.st.PredicateType,
		BuildType:      r.st.buildType(),
		BuilderID:      r.builder.ID,
		TrustedBuilder: r.trustedName,
		Level:          r.level,
		Identity:       id,
		Subjects:       r.subjects,
		Timestamps:     r.stamps,
		Unverified:     r.signer.unverified,
		VerifiedAt:     v.c.now(),
	}, nil
}

// VerifyAny verifies each bundle in turn (as ParseBundles returns them from
// an .intoto.jsonl file) and returns the first success. If none verifies,
// the error joins every bundle's error; errors.As finds the first
// *CheckError.
func (v *Verifier) VerifyAny(bundles []*bundle.Bundle, digests ...Digest) (*Result, error) {
	if len(bundles) == 0 {
		return nil, fail(CheckInput, "at least one bundle", "none", ErrMalformed)
	}
	var errs []error
	for i, b := range bundles {
		res, err := v.Verify(b, digests...)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("bundle %d: %w", i, err))
	}
	return nil, errors.Join(errs...)
}

// newChecker builds what both kinds of verdict share: sigstore-go's
// verifier over the trusted material (and SPIFFE bundles), with the
// thresholds.
func newChecker(trusted root.TrustedMaterial, th resolvedThresholds, explicitSCTs bool, o options) (*checker, error) {
	scts := th.scts
	if !explicitSCTs && len(trusted.CTLogs()) > 0 {
		scts = 1
	}
	vopts := []verify.VerifierOption{verify.WithObserverTimestamps(th.observer), verify.WithoutStatementPredicate()}
	if th.tlog > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(th.tlog))
	}
	if th.signed > 0 {
		vopts = append(vopts, verify.WithSignedTimestamps(th.signed))
	}
	// The linked verifier leaves SCTs to checkSignature (see sctVerifier);
	// sigstoreChains checks them itself.
	linkedOpts := vopts
	if scts > 0 {
		vopts = append(vopts[:len(vopts):len(vopts)], verify.WithSignedCertificateTimestamps(scts))
	}
	tm := trusted
	var set *x509bundle.Set
	if len(o.spiffeBundles) > 0 {
		tm = SPIFFETrustedMaterial(trusted, o.spiffeBundles...)
		set = x509bundle.NewSet(o.spiffeBundles...)
	}
	chains, err := verify.NewVerifier(tm, vopts...)
	if err != nil {
		return nil, err
	}
	linked := linkChains(tm)
	sv, err := verify.NewVerifier(linked, linkedOpts...)
	if err != nil {
		return nil, err
	}
	return &checker{
		sigstore: sv, sigstoreChains: chains, linked: linked, linkedOpts: linkedOpts, sct: newSCTVerifier(tm),
		trusted: trusted, thresholds: th, scts: scts, noLogs: len(trusted.RekorLogs()) == 0, spiffe: set, now: o.now, log: o.log,
	}, nil
}
