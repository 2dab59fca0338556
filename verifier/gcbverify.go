package verifier

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// GCBVerifier verifies Cloud Build provenance against the attestor keys and
// one policy. It holds no mutable state: one GCBVerifier serves any number
// of goroutines.
type GCBVerifier struct {
	keys   *GCBKeys
	policy *Policy
	now    func() time.Time
	log    *slog.Logger
}

// NewGCB returns a verifier of Cloud Build provenance (see GCBVerifier.Verify)
// for the attestor keys and the policy. The options are New's: WithClock,
// WithLogger, WithMaxSubjects, WithoutSourceUnsafe; SPIFFE bundles do not
// apply. As New, it refuses a policy that expects no source unless
// WithoutSourceUnsafe is given.
func NewGCB(keys *GCBKeys, policy *Policy, opts ...Option) (*GCBVerifier, error) {
	if keys == nil || len(keys.byID) == 0 {
		return nil, errors.New("new cloud build verifier: no attestor keys")
	}
	if policy == nil {
		return nil, errors.New("new cloud build verifier: no policy")
	}
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("new cloud build verifier: %w", err)
		}
	}
	if o.spiffeRequested {
		return nil, errors.New("new cloud build verifier: SPIFFE bundles do not apply: Cloud Build signs with its attestor keys")
	}
	p := *policy
	if err := p.compile(); err != nil {
		return nil, fmt.Errorf("new cloud build verifier: policy: %w", err)
	}
	if p.compiled.source == "" && !o.withoutSource {
		return nil, fmt.Errorf("new cloud build verifier: %w: set Policy.Source (--source-uri), or pass WithoutSourceUnsafe", ErrNoSourceExpectation)
	}
	if o.maxSubjects > 0 {
		p.compiled.maxSubjects = o.maxSubjects
	}
	return &GCBVerifier{keys: keys, policy: &p, now: o.now, log: o.log}, nil
}

// Verify verifies Cloud Build provenance for the image with the given
// digest (sha256, as Cloud Build records images). Each provenance entry is
// verified on its own, through the checks below in their order, and the
// first entry that passes every check is the result; if none does, the
// error joins every entry's (errors.As finds the first *CheckError).
//
//  1. CheckInput: the entry is of kind BUILD with an in-toto payload.
//  2. CheckSignature: a signature verifies with the key its keyid names,
//     among the keys given: a regional builtByGCB key over the payload
//     itself, a global key over DSSE's PAE; other signatures are skipped.
//     The key fixes the predicate type: SLSA v1.0 for google-hosted-worker,
//     v0.1 for the others.
//  3. CheckIdentity: no expectation of a certificate or SPIFFE signer was
//     given (identity flags, --cert-oidc-issuer, --spiffe-id,
//     --deny-self-hosted-runners, workflow inputs): those fail with
//     ErrNotApplicable.
//  4. CheckStatement, CheckPredicateType: the payload decoded once by the
//     strict statement decoder, of the key's predicate type (and one the
//     policy's PredicateTypes list, when it lists any); every subject has a
//     sha256; a v0.1 payload's second copy of its predicate
//     (slsaProvenance) equals it; and the human-readable statement beside
//     the envelope equals the signed one (ErrTextProvenanceMismatch).
//  5. CheckSubject: a subject is the image's digest, and the unsigned
//     resourceUri, image_summary.digest and fully_qualified_digest name it
//     too.
//  6. CheckBuilder, CheckBuildType: the builder is a Google-hosted worker
//     whose provenance this verifier reads (GoogleHostedWorker@v0.2, @v0.3
//     with SLSA v0.1, GoogleHostedWorker with v1.0), with the build type
//     that version writes; Policy.BuilderID as slsa-verifier matches it for
//     Cloud Build (the name, and the version if given); a policy entry
//     trusts it (ID against the builder id, Signer against
//     "gcpkms://" + the key's resource name), at least at MinLevel.
//  7. CheckSource: the source Cloud Build recorded is Policy.Source:
//     "github.com/O/R" (or another host) or a Cloud Storage "gs://" object,
//     in the forms slsa-verifier accepts for the builder's version.
//  8. CheckRef: the tag the build was triggered by (the TAG_NAME
//     substitution) against SourceTag or SourceVersionedTag; SourceBranch
//     fails with ErrNotApplicable, as slsa-verifier does not support it.
//  9. CheckBuildType, CheckExternalParameters: Policy.BuildTypes and
//     ExternalParameters (v1.0 externalParameters, v0.1 recipe.arguments),
//     StrictExternalParameters.
//  10. CheckPolicyExpression: the policy's CEL expressions over the signed
//     statement.
//
// The Result names no certificate: Identity.SAN is the signing key
// ("gcpkms://projects/verified-builder/..."), and Identity.Extensions'
// source fields (SourceRepositoryURI, SourceRepositoryRef,
// SourceRepositoryDigest) are the signed provenance's source. Cloud Build
// records no verifiable signing time: Timestamps is empty.
func (v *GCBVerifier) Verify(p *GCBProvenance, image Digest) (*Result, error) {
	if p == nil || len(p.entries) == 0 {
		return nil, fail(CheckInput, "Cloud Build provenance", "none", ErrMalformed)
	}
	if image.Algorithm != "sha256" || len(image.Hex) != 64 {
		return nil, fail(CheckInput, "an image digest sha256:HEX", image.String(), ErrMalformed)
	}
	var errs []error
	for i := range p.entries {
		r := &gcbRun{v: v, p: p, e: &p.entries[i], image: image}
		if err := r.verify(); err != nil {
			errs = append(errs, fmt.Errorf("provenance %d: %w", i, err))
			continue
		}
		return r.result()
	}
	return nil, errors.Join(errs...)
}

// gcbRun is one provenance entry's verification in progress.
type gcbRun struct {
	v     *GCBVerifier
	p     *GCBProvenance
	e     *gcbEntry
	image Digest

	keyID    string
	key      gcbKey
	st       *statement
	v01      *gcbPredicateV01
	subjects []string
	builder  BuilderID
	trusted  string
	level    int
	src      gcbSource
}

// gcbPipeline is the Cloud Build verdict's checks, in the order of the
// package's pipeline (see Verify).
var gcbPipeline = []struct {
	check Check
	run   func(*gcbRun) error
}{
	{CheckInput, (*gcbRun).checkInput},
	{CheckSignature, (*gcbRun).checkSignature},
	{CheckIdentity, (*gcbRun).checkIdentity},
	{CheckStatement, (*gcbRun).checkStatement},
	{CheckSubject, (*gcbRun).checkSubject},
	{CheckBuilder, (*gcbRun).checkBuilder},
	{CheckSource, (*gcbRun).checkSource},
	{CheckRef, (*gcbRun).checkRef},
	{CheckBuildType, (*gcbRun).checkBuildTypes},
	{CheckExternalParameters, (*gcbRun).checkExternalParameters},
	{CheckPolicyExpression, (*gcbRun).checkExpressions},
}

func (r *gcbRun) verify() error {
	for _, s := range gcbPipeline {
		if err := s.run(r); err != nil {
			r.v.log.Debug("check failed", "check", s.check, "error", err)
			return err
		}
		r.v.log.Debug("check passed", "check", s.check)
	}
	return nil
}

func (r *gcbRun) result() (*Result, error) {
	st, err := r.st.proto()
	if err != nil {
		return nil, fail(CheckStatement, "a statement", "one the in-toto types cannot hold", err)
	}
	signer := GCBSignerScheme + r.keyID
	r.v.log.Debug("cloud build provenance verified", "builder", r.builder.ID, "key", r.keyID, "level", r.level)
	return &Result{
		Statement:      st,
		Payload:        r.e.payload,
		PredicateType:  r.st.PredicateType,
		BuildType:      r.builder.BuildType,
		BuilderID:      r.builder.ID,
		TrustedBuilder: r.trusted,
		Level:          r.level,
		Identity: CertificateIdentity{SAN: signer, Extensions: certificate.Extensions{
			BuildSignerURI:         signer,
			SourceRepositoryURI:    r.src.repo,
			SourceRepositoryRef:    r.src.ref,
			SourceRepositoryDigest: r.src.commit,
		}},
		Subjects:   r.subjects,
		VerifiedAt: r.v.now(),
	}, nil
}

// checkInput: slsa-verifier's VerifyMetadata kind check and the envelope's
// payload type and encoding (provenance.go verifySignatures).
func (r *gcbRun) checkInput() error {
	e := r.e
	if e.kind != "BUILD" {
		return fail(CheckInput, "a provenance entry of kind BUILD", orNone(e.kind), ErrMalformed)
	}
	if e.payloadType != PayloadTypeInToto {
		return fail(CheckInput, "payloadType "+PayloadTypeInToto, orNone(e.payloadType), ErrMalformed)
	}
	if e.payloadErr != nil {
		return fail(CheckInput, "a base64 payload", "none", fmt.Errorf("%w: %w", ErrMalformed, e.payloadErr))
	}
	return nil
}

// checkSignature follows slsa-verifier's verifySignatures: the first
// signature that verifies with the key its keyid names wins; a signature
// of an unknown key, or one that does not decode or verify, is skipped.
// The regional builtByGCB keys sign the payload, the global keys DSSE's
// PAE of the payload type and payload; all sign its SHA-256 with ECDSA.
func (r *gcbRun) checkSignature() error {
	var why []string
	for i, s := range r.e.sigs {
		key, ok := r.v.keys.byID[s.keyID]
		switch {
		case !ok:
			why = append(why, fmt.Sprintf("signature %d: key %q is not among the keys given", i, s.keyID))
			continue
		case s.err != nil:
			why = append(why, fmt.Sprintf("signature %d: %v", i, s.err))
			continue
		}
		msg := r.e.payload
		if key.pae {
			msg = pae(r.e.payloadType, r.e.payload)
		}
		sum := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(key.pub, sum[:], s.sig) {
			why = append(why, fmt.Sprintf("signature %d: does not verify with %s", i, key.file))
			continue
		}
		r.keyID, r.key = s.keyID, key
		return nil
	}
	if len(r.e.sigs) == 0 {
		why = append(why, "no signatures")
	}
	return fail(CheckSignature, fmt.Sprintf("a signature by one of the %d Cloud Build attestor keys given", len(r.v.keys.byID)), strings.Join(why, "; "), ErrNoTrustedSignature)
}

// pae is DSSE's pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// checkIdentity: expectations of a certificate or of a SPIFFE signer
// cannot be checked against a Cloud KMS key; they fail, never pass
// unchecked.
func (r *gcbRun) checkIdentity() error {
	p := r.v.policy
	what := ""
	switch {
	case len(p.compiled.identity) > 0:
		what = "identity." + p.compiled.identity[0].field
	case p.narrowed.flags[flagCertOIDCIssuer]:
		what = flagCertOIDCIssuer
	case p.narrowed.flags[flagSPIFFEID]:
		what = flagSPIFFEID
	case p.DenySelfHostedRunners:
		what = "--deny-self-hosted-runners"
	case len(p.WorkflowInputs) > 0:
		what = "workflow inputs (--build-workflow-input)"
	default:
		return nil
	}
	return fail(CheckIdentity, what+" (which a Cloud Build attestor key cannot show)", "Cloud Build provenance signed by "+GCBSignerScheme+r.keyID, ErrNotApplicable).
		with("drop " + what + ": Cloud Build provenance is checked by its builder, source and tag")
}

// checkStatement decodes the signed payload and checks it against the
// human-readable copy (slsa-verifier's v01.New / v10.New and
// VerifyTextProvenance).
func (r *gcbRun) checkStatement() error {
	p := r.v.policy
	want := r.key.predicateType
	st, v01, err := parseGCBStatement(r.e.payload, p.compiled.maxSubjects, want)
	switch {
	case errors.Is(err, ErrTooManySubjects):
		return fail(CheckSubject, fmt.Sprintf("at most %d subjects", p.compiled.maxSubjects), "more", err)
	case errors.Is(err, ErrPredicateType):
		return fail(CheckPredicateType, want+", which "+r.key.file+" signs", st.PredicateType, ErrPredicateType)
	case err != nil:
		return fail(CheckStatement, "an in-toto statement every JSON reader reads alike", "one that is not", err)
	}
	if len(p.PredicateTypes) > 0 && !slices.Contains(p.PredicateTypes, st.PredicateType) {
		return fail(CheckPredicateType, "one of "+strings.Join(p.PredicateTypes, ", "), st.PredicateType, ErrPredicateType)
	}
	if err := gcbTextMatches(r.e, st.doc, want); err != nil {
		return err
	}
	r.st, r.v01 = st, v01
	return nil
}

// gcbTextMatches compares the human-readable statement Cloud Build stores
// beside the envelope with the signed one. slsa-verifier compares the
// fields its Go types hold; Hallmark compares the whole decoded values, so
// the copy a person reads says nothing the signature does not. A v0.1
// copy names its predicate "slsaProvenance".
func gcbTextMatches(e *gcbEntry, signed map[string]any, predicateType string) error {
	text, field := e.textV1, "build.inTotoSlsaProvenanceV1"
	want := signed
	if predicateType == PredicateSLSAv01 {
		field = "build.intotoStatement"
		text = nil
		if e.text != nil {
			text = make(map[string]any, len(e.text))
			for k, v := range e.text {
				text[k] = v
			}
			if sp, ok := text["slsaProvenance"]; ok {
				if _, both := text["predicate"]; both {
					return fail(CheckStatement, field+" with one predicate", "both predicate and slsaProvenance", ErrTextProvenanceMismatch)
				}
				delete(text, "slsaProvenance")
				text["predicate"] = sp
			}
		}
		want = make(map[string]any, len(signed))
		for k, v := range signed {
			if k != "slsaProvenance" {
				want[k] = v
			}
		}
	}
	if text == nil {
		return fail(CheckStatement, field+" equal to the signed statement", "none", ErrTextProvenanceMismatch)
	}
	if !reflect.DeepEqual(text, want) {
		return fail(CheckStatement, field+" equal to the signed statement", "one that differs at "+firstDifference(text, want, ""), ErrTextProvenanceMismatch)
	}
	return nil
}

// firstDifference names the first path at which two decoded JSON values
// differ, for error messages.
func firstDifference(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return orNone(path)
		}
		keys := sortedKeys(x)
		for _, k := range sortedKeys(y) {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !reflect.DeepEqual(x[k], y[k]) {
				return firstDifference(x[k], y[k], join(path, k))
			}
		}
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return orNone(path)
		}
		for i := range x {
			if !reflect.DeepEqual(x[i], y[i]) {
				return firstDifference(x[i], y[i], fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	return orNone(path)
}

// checkSubject: the signed subjects name the image (slsa-verifier's
// VerifySubjectDigest), and so does the unsigned metadata around them
// (VerifyMetadata's resourceUri, VerifySummary's digests).
func (r *gcbRun) checkSubject() error {
	names, err := checkSubject(r.st, []Digest{r.image})
	if err != nil {
		return err
	}
	d := r.image.String()
	switch {
	case !strings.HasSuffix(r.e.resourceURI, "@"+d):
		return fail(CheckSubject, "resourceUri ending @"+d, orNone(r.e.resourceURI), ErrSubjectMismatch)
	case r.p.digest != d:
		return fail(CheckSubject, "image_summary.digest "+d, orNone(r.p.digest), ErrSubjectMismatch)
	case !strings.HasSuffix(r.p.qualified, d):
		return fail(CheckSubject, "image_summary.fully_qualified_digest ending "+d, orNone(r.p.qualified), ErrSubjectMismatch)
	}
	r.subjects = names
	return nil
}
