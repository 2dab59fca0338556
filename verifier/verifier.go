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
)

// Verifier verifies SLSA provenance bundles against one trusted root and one
// policy. It holds no mutable state: one Verifier serves any number of
// goroutines.
type Verifier struct {
	trusted  root.TrustedMaterial
	policy   *Policy
	sigstore *verify.Verifier
	now      func() time.Time
	log      *slog.Logger
	scts     int
}

// Option configures New.
type Option func(*options) error

type options struct {
	now         func() time.Time
	log         *slog.Logger
	maxSubjects int
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

// New returns a verifier for the trusted material (usually a trusted root,
// see LoadTrustedRoot) and the policy. The policy is validated and compiled
// here if LoadPolicy has not done it. The SCT threshold defaults to 1 when
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
	if o.maxSubjects > 0 {
		p.compiled.maxSubjects = o.maxSubjects
	}
	th := p.compiled.thresholds
	scts := th.scts
	if !p.compiled.explicitSCTs && len(trusted.CTLogs()) > 0 {
		scts = 1
	}
	vopts := []verify.VerifierOption{verify.WithObserverTimestamps(th.observer)}
	if th.tlog > 0 {
		vopts = append(vopts, verify.WithTransparencyLog(th.tlog))
	}
	if th.signed > 0 {
		vopts = append(vopts, verify.WithSignedTimestamps(th.signed))
	}
	if scts > 0 {
		vopts = append(vopts, verify.WithSignedCertificateTimestamps(scts))
	}
	sv, err := verify.NewVerifier(trusted, vopts...)
	if err != nil {
		return nil, fmt.Errorf("new verifier: %w", err)
	}
	return &Verifier{trusted: trusted, policy: &p, sigstore: sv, now: o.now, log: o.log, scts: scts}, nil
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
// runs the checks in the order of the Check constants and returns the first
// failure as a *CheckError.
func (v *Verifier) Verify(b *bundle.Bundle, digests ...Digest) (*Result, error) {
	payload, res, stamps, err := v.signedPayload(b)
	if err != nil {
		return nil, err
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, fail(CheckIdentity, "a Fulcio certificate", "a public key", ErrCertificateIdentity)
	}
	cert := *res.Signature.Certificate
	if err := normalizeCert(&cert); err != nil {
		return nil, err
	}
	p := v.policy
	if err := p.checkIdentity(&cert); err != nil {
		return nil, err
	}

	st, names, known, err := p.statementChecks(payload, digests, &cert)
	if err != nil {
		return nil, err
	}
	bid := BuilderID{ID: st.builderID(), Signer: cert.BuildSignerURI, BuildType: st.buildType()}
	trustedName, level, err := p.checkBuilder(bid, &cert)
	if err != nil {
		return nil, err
	}
	if err := p.checkSource(&cert); err != nil {
		return nil, err
	}
	if err := p.checkRef(st, &cert); err != nil {
		return nil, err
	}
	if err := p.parameterChecks(st, payload, &cert, known); err != nil {
		return nil, err
	}
	v.log.Debug("provenance verified", "builder", bid.ID, "level", level)
	return &Result{
		Statement:      res.Statement,
		Payload:        payload,
		PredicateType:  st.PredicateType,
		BuildType:      st.buildType(),
		BuilderID:      bid.ID,
		TrustedBuilder: trustedName,
		Level:          level,
		Identity:       CertificateIdentity{Issuer: cert.Extensions.Issuer, SAN: cert.SubjectAlternativeName, Extensions: cert.Extensions},
		Subjects:       names,
		Timestamps:     stamps,
		VerifiedAt:     v.now(),
	}, nil
}

// VerifyAny verifies each bundle in turn (as ParseBundles returns them from
// an .intoto.jsonl file) and returns the first success. If none verifies,
// the error joins every bundle's error; errors.As finds the first
// *CheckError.
func (v *Verifier) VerifyAny(bundles []*bundle.Bundle, digests ...Digest) (*Result, error) {
	return verifyAny(v.Verify, bundles, digests)
}

// verifyAny returns the first bundle verify accepts, or every bundle's error.
func verifyAny(verify func(*bundle.Bundle, ...Digest) (*Result, error), bundles []*bundle.Bundle, digests []Digest) (*Result, error) {
	if len(bundles) == 0 {
		return nil, fail(CheckInput, "at least one bundle", "none", ErrMalformed)
	}
	var errs []error
	for i, b := range bundles {
		res, err := verify(b, digests...)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("bundle %d: %w", i, err))
	}
	return nil, errors.Join(errs...)
}

// classify names the check sigstore-go failed: it re-runs the log and
// timestamp steps alone, so the successful path pays for them once.
func (v *Verifier) classify(b *bundle.Bundle, err error) error {
	logTimes, terr := v.sigstore.VerifyTransparencyLogInclusion(b)
	if terr != nil {
		return fail(CheckTlog, fmt.Sprintf("%d verified log entries for this signature", v.policy.compiled.thresholds.tlog), "none", terr)
	}
	if _, terr := v.sigstore.VerifyObserverTimestamps(b, logTimes); terr != nil {
		return fail(CheckTimestamp, fmt.Sprintf("%d observer timestamps", v.policy.compiled.thresholds.observer), "fewer", terr)
	}
	return fail(CheckSignature, fmt.Sprintf("certificate chaining to the trusted root with %d SCTs, signing the envelope", v.scts), "failure", err)
}

// checkBuilder finds the trusted builder entry and grants the level.
func (p *Policy) checkBuilder(b BuilderID, c *certFields) (string, int, error) {
	if p.compiled.expectLoose != nil {
		if err := p.compiled.expectLoose(b); err != nil {
			return "", 0, fail(CheckBuilder, p.BuilderID, b.ID, fmt.Errorf("%w: %w", ErrBuilderMismatch, err))
		}
	}
	name, maxLevel := "", 0
	var why []error
	for _, tb := range p.compiled.builders {
		err := tb.match(b)
		if err == nil {
			name, maxLevel = tb.name, tb.maxLevel
			break
		}
		why = append(why, fmt.Errorf("%s: %w", tb.name, err))
	}
	if name == "" && p.compiled.expectLoose != nil {
		name, maxLevel = p.BuilderID, 3
	}
	if name == "" {
		return "", 0, fail(CheckBuilder, "a trusted builder", b.ID+" signed by "+b.Signer, fmt.Errorf("%w: %w", ErrUntrustedBuilder, errors.Join(why...)))
	}
	level := min(maxLevel, evidenceLevel(c))
	if level < p.MinLevel {
		return "", 0, fail(CheckBuilder, fmt.Sprintf("level %d", p.MinLevel), fmt.Sprintf("level %d", level), ErrLevelTooLow)
	}
	return name, level, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// signedPayload runs the checks every signer kind shares: one DSSE envelope
// with one signature over an in-toto payload, verified by sigstore-go with
// the policy's thresholds, at signing times that are not after the clock's
// now. It returns the payload, sigstore-go's result and the verified times.
func (v *Verifier) signedPayload(b *bundle.Bundle) ([]byte, *verify.VerificationResult, []Timestamp, error) {
	if b == nil || b.Bundle == nil {
		return nil, nil, nil, fail(CheckInput, "a bundle", "nil", ErrMalformed)
	}
	env, err := b.Envelope()
	if err != nil || env == nil || env.Envelope == nil {
		return nil, nil, nil, fail(CheckInput, "a DSSE envelope", "message signature or none", ErrMalformed)
	}
	if n := len(env.Signatures); n != 1 {
		return nil, nil, nil, fail(CheckInput, "1 signature", fmt.Sprint(n), ErrSignatureCount)
	}
	if env.PayloadType != PayloadTypeInToto {
		return nil, nil, nil, fail(CheckInput, "payloadType "+PayloadTypeInToto, env.PayloadType, ErrMalformed)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, nil, nil, fail(CheckInput, "a base64 payload", "undecodable", ErrMalformed)
	}
	res, err := v.sigstore.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, nil, nil, v.classify(b, err)
	}
	v.log.Debug("signature verified", "timestamps", len(res.VerifiedTimestamps))
	now := v.now()
	var stamps []Timestamp
	for _, ts := range res.VerifiedTimestamps {
		if ts.Timestamp.After(now) {
			return nil, nil, nil, fail(CheckTimestamp, "not after "+now.UTC().Format(time.RFC3339), ts.Timestamp.UTC().Format(time.RFC3339), ErrFutureTimestamp)
		}
		stamps = append(stamps, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp})
	}
	return payload, res, stamps, nil
}

// statementChecks reads the statement and runs the checks that do not
// depend on the kind of signer: the subject limit and digests, the predicate
// type, and every payload claim the certificate also records.
func (p *Policy) statementChecks(payload []byte, digests []Digest, cert *certFields) (*statement, []string, map[string]bool, error) {
	st, err := parseStatement(payload, p.compiled.maxSubjects)
	if err != nil {
		if errors.Is(err, ErrTooManySubjects) {
			return nil, nil, nil, fail(CheckSubject, fmt.Sprintf("at most %d subjects", p.compiled.maxSubjects), "more", err)
		}
		return nil, nil, nil, fail(CheckInput, "an in-toto statement", "undecodable", err)
	}
	names, err := checkSubject(st, digests)
	if err != nil {
		return nil, nil, nil, err
	}
	if !contains(p.compiled.predTypes, st.PredicateType) || (st.v1 == nil && st.v02 == nil) {
		return nil, nil, nil, fail(CheckPredicateType, "one of "+fmt.Sprint(p.compiled.predTypes), st.PredicateType, ErrPredicateType)
	}
	known, err := crossCheck(st, cert)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, names, known, nil
}

// parameterChecks runs the checks after the source: build type, external
// parameters (known are those the certificate vouched for) and the policy's
// expressions.
func (p *Policy) parameterChecks(st *statement, payload []byte, cert *certFields, known map[string]bool) error {
	if err := p.checkBuildType(st); err != nil {
		return err
	}
	if err := p.checkExternalParameters(st, cert, known); err != nil {
		return err
	}
	return p.checkExpressions(payload)
}
