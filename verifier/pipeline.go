package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// checker is what one verifier holds for every run: sigstore-go's verifier
// with the thresholds, the SPIFFE bundles, the clock, and the expectations
// of the verdict it gives (a provenance policy or a summary policy).
type checker struct {
	// sigstore verifies against linked, without the SCT check, which
	// checkSignature makes after it (see sctVerifier).
	sigstore *verify.Verifier
	// sigstoreChains verifies bundles that carry intermediates of their
	// own, against the trusted material as given (sigstore just links to
	// the root's pre-verified intermediates, see linkChains), SCTs
	// included.
	sigstoreChains *verify.Verifier
	// linked and linkedOpts make sigstore, and the verifier of one run
	// that records its certificate chains for the SCT check.
	linked     root.TrustedMaterial
	linkedOpts []verify.VerifierOption
	sct        *sctVerifier
	// trusted is the trusted material as given (for npm's publish
	// attestations, see NewNpmVerifier).
	trusted    root.TrustedMaterial
	thresholds resolvedThresholds
	scts       int
	// noLogs is set when the trusted material lists no transparency log.
	noLogs bool
	spiffe *x509bundle.Set
	now    func() time.Time
	log    *slog.Logger

	policy *Policy     // provenance
	vsa    *vsaExpects // verification summaries
	// key, for a summary its verifier signed with its own key, stands in
	// for sigstore-go and the certificate.
	key *keyVerifier
}

// verdict is what a run decides: provenance or a verification summary.
type verdict int

const (
	forProvenance verdict = 1 << iota
	forVSA
	// forAttestation: another predicate than provenance (an SBOM), held
	// to the provenance policy's identity, signer and source rules.
	forAttestation
	forBoth = forProvenance | forVSA | forAttestation
)

// run is one verification in progress: what each check has established so
// far, for the checks after it.
type run struct {
	c       *checker
	b       *bundle.Bundle
	digests []Digest
	// entity is b as sigstore-go reads it, each part decoded once.
	entity *onceBundle

	payload  []byte
	stamps   []Timestamp
	signer   signer
	st       *statement
	subjects []string
	// known are the external parameters the certificate cross-check
	// accounted for.
	known       map[string]bool
	builder     BuilderID
	trustedName string
	level       int
	// entry is the builder entry that granted the level.
	entry compiledBuilder
	// factory is a SPIFFE signer's factory record, nil without one.
	factory *factoryRecord
	// predicateType, for VerifyAttestation, is the one predicate type
	// accepted.
	predicateType string
	// of, for VerifyAttestationOf, is the verified provenance whose
	// signer must have signed the attestation.
	of *Result
}

// step is one named check of the pipeline.
type step struct {
	check Check
	serve verdict
	run   func(*run) error
}

// pipeline is every check, in the one order every verification runs them:
// the bundle's shape, the signature with its log entries and timestamps,
// the signer's identity, the statement, the subjects, then what the
// provenance claims (checked against the certificate, the trusted builders,
// the expected source and parameters) or what the summary says. A check
// may fail as a more precise Check than its own name (the signature step
// fails as tlog, timestamp or signature).
var pipeline = []step{
	{CheckInput, forBoth, (*run).checkInput},
	{CheckSignature, forBoth, (*run).checkSignature},
	{CheckIdentity, forBoth, (*run).checkIdentity},
	{CheckStatement, forBoth, (*run).checkStatement},
	{CheckSubject, forBoth, (*run).checkSubject},
	{CheckPayloadMatchesCertificate, forProvenance, (*run).checkCertificateClaims},
	{CheckBuilder, forProvenance, (*run).checkBuilder},
	{CheckBuilder, forAttestation, (*run).checkAttestationSigner},
	{CheckVSA, forVSA, (*run).checkSummary},
	{CheckSource, forProvenance | forAttestation, (*run).checkSource},
	{CheckRef, forProvenance | forAttestation, (*run).checkRef},
	{CheckBuildType, forProvenance, (*run).checkBuildType},
	{CheckExternalParameters, forProvenance, (*run).checkExternalParameters},
	{CheckPolicyExpression, forProvenance, (*run).checkExpressions},
	{CheckPolicyExpression, forAttestation, (*run).checkAttestationExpressions},
}

// verify runs the pipeline's steps for the verdict, stopping at the first
// failure.
func (r *run) verify(v verdict) error {
	for _, s := range pipeline {
		if s.serve&v == 0 {
			continue
		}
		if err := s.run(r); err != nil {
			r.c.log.Debug("check failed", "check", s.check, "error", err)
			return err
		}
		r.c.log.Debug("check passed", "check", s.check)
	}
	return nil
}

// checkInput: one DSSE envelope with one signature over an in-toto
// payload, and artifact digests of sound algorithms.
func (r *run) checkInput() error {
	if r.b == nil || r.b.Bundle == nil {
		return fail(CheckInput, "a bundle", "nil", ErrMalformed)
	}
	r.entity = &onceBundle{Bundle: r.b}
	var env *dsse.Envelope
	if sc, err := r.entity.SignatureContent(); err == nil && sc != nil {
		if ec := sc.EnvelopeContent(); ec != nil {
			env = ec.RawEnvelope()
		}
	}
	if env == nil {
		return fail(CheckInput, "a DSSE envelope", "a message signature or none", ErrMalformed)
	}
	if n := len(env.Signatures); n != 1 {
		return fail(CheckInput, "1 signature", fmt.Sprint(n), ErrSignatureCount)
	}
	if env.PayloadType != PayloadTypeInToto {
		return fail(CheckInput, "payloadType "+PayloadTypeInToto, env.PayloadType, ErrMalformed)
	}
	// The payload as the bundle holds it, not decoded back from the
	// base64 the envelope was just given (the same bytes); a copy, since
	// Result.Payload hands it to the caller.
	payload := bytes.Clone(r.b.GetDsseEnvelope().GetPayload())
	if payload == nil {
		payload = []byte{}
	}
	if len(r.digests) == 0 {
		return fail(CheckInput, "at least one artifact digest", "none", ErrMalformed)
	}
	for _, d := range r.digests {
		if _, ok := soundDigests[d.Algorithm]; !ok && r.c.vsa == nil {
			// A summary names its resource as its verifier does (a GCE
			// image id, say); provenance names an artifact by a
			// collision-resistant digest.
			return fail(CheckInput, "an artifact digest of "+strings.Join(SoundDigestAlgorithms(), ", "), d.Algorithm, ErrMalformed)
		}
	}
	r.payload = payload
	return nil
}

// checkSignature: sigstore-go's verification with the thresholds (log
// inclusion of this very entry, observer timestamps, the certificate chain
// at signing time, SCTs, the signature over the envelope), verified times
// not after the clock's now, then which kind of signer the certificate is.
func (r *run) checkSignature() error {
	if r.c.key != nil {
		return r.checkKeySignature()
	}
	var (
		summary certFields
		stamps  []Timestamp
	)
	if legacyEntries(r.b) {
		var err error
		if summary, stamps, err = r.checkLegacySignature(); err != nil {
			return err
		}
	} else {
		sv := r.c.sigstore
		var rec *chainRecorder
		switch {
		case len(r.b.GetVerificationMaterial().GetX509CertificateChain().GetCertificates()) > 1:
			sv = r.c.sigstoreChains
		case r.c.scts > 0:
			// sigstore-go's Verify with SCTs required is its Verify
			// without, then its SCT check over the chains it built
			// (sctVerifier.verify, the same check): one conjunction
			// of the same checks, the SCTs' last.
			rec = newChainRecorder(r.c.linked)
			var err error
			if sv, err = verify.NewVerifier(rec, r.c.linkedOpts...); err != nil {
				return fail(CheckSignature, "a verifier", "none", err)
			}
		}
		res, err := sv.Verify(r.entity, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe()))
		if err == nil && rec != nil {
			if res.Signature == nil || res.Signature.Certificate == nil {
				err = errors.New("SCTs required but bundle is signed with a public key, which cannot contain SCTs")
			} else if serr := r.c.sct.verify(rec.chains, r.c.scts); serr != nil {
				err = fmt.Errorf("failed to verify signed certificate timestamp: %w", serr)
			}
		}
		if err != nil {
			return r.c.classify(r.b, r.payload, err)
		}
		if res.Signature == nil || res.Signature.Certificate == nil {
			return fail(CheckSignature, "a certificate", "a bare public key", ErrCertificateIdentity)
		}
		summary = *res.Signature.Certificate
		for _, ts := range res.VerifiedTimestamps {
			stamps = append(stamps, Timestamp{Kind: ts.Type, URI: ts.URI, Time: ts.Timestamp})
		}
	}
	now := r.c.now()
	for _, ts := range stamps {
		if ts.Time.After(now) {
			return fail(CheckTimestamp, "not after "+now.UTC().Format(time.RFC3339), ts.Time.UTC().Format(time.RFC3339), ErrFutureTimestamp)
		}
		r.stamps = append(r.stamps, ts)
	}
	if len(r.stamps) == 0 {
		return fail(CheckTimestamp, "a verified signing time", "none", ErrMalformed)
	}
	var leaf *x509.Certificate
	if r.c.spiffe != nil {
		leaf = leafCertificate(r.b)
	}
	if leaf != nil && !hasFulcioIssuer(leaf) {
		// sigstore-go found the certificate valid at a signing time
		// through a SPIFFE authority; name its SPIFFE ID, checked again
		// against the bundle of its own trust domain at every verified
		// time.
		for _, ts := range r.stamps {
			id, _, err := x509svid.Verify([]*x509.Certificate{leaf}, r.c.spiffe, x509svid.WithTime(ts.Time))
			if err != nil {
				return fail(CheckSignature, "an X.509-SVID valid at "+ts.Time.UTC().Format(time.RFC3339), "not", err)
			}
			r.signer = signer{kind: signerSVID, id: id}
		}
		r.signer.cert = certFields{SubjectAlternativeName: r.signer.id.String()}
		r.signer.cert.BuildSignerURI = r.signer.id.String()
		return nil
	}
	cert := summary
	pre := cert.Issuer == GitHubIssuer && cert.GithubWorkflowRepository != "" &&
		cert.BuildSignerURI == "" && cert.BuildConfigURI == "" && cert.RunInvocationURI == ""
	if err := normalizeCert(&cert); err != nil {
		return err
	}
	kind, id := kindOfFulcio(&cert)
	r.signer = signer{kind: kind, cert: cert, id: id, preExtensions: pre && kind == signerGitHub}
	return nil
}

// classify names the check sigstore-go failed: it re-runs the log and
// timestamp steps alone, so the successful path pays for them once, and
// tells a statement sigstore-go could not read from a bad signature.
func (c *checker) classify(b *bundle.Bundle, payload []byte, err error) error {
	if ce := c.foreignRoot(b); ce != nil {
		return ce
	}
	logTimes, terr := c.sigstore.VerifyTransparencyLogInclusion(b)
	if terr != nil {
		ce := fail(CheckTlog, fmt.Sprintf("%d verified log entries for this signature", c.thresholds.tlog), "none", terr)
		if c.noLogs {
			// GitHub's own Sigstore, for private repositories, logs
			// nothing and timestamps instead.
			ce.Fix = "the trusted root lists no transparency log; if its signed timestamps are to stand in for a log entry, say so in a policy: thresholds: {transparencyLog: 0, signedTimestamps: 1}"
		} else if vm := b.GetVerificationMaterial(); len(vm.GetTlogEntries()) == 0 && len(vm.GetTimestampVerificationData().GetRfc3161Timestamps()) > 0 {
			// Signed with a timestamp only (attest --private).
			ce.Fix = "the bundle has no transparency log entry, only signed timestamps (it was made with --private); if its timestamps are to stand in for a log entry, say so in a policy: thresholds: {transparencyLog: 0, signedTimestamps: 1}"
		}
		return ce
	}
	if _, terr := c.sigstore.VerifyObserverTimestamps(b, logTimes); terr != nil {
		return fail(CheckTimestamp, fmt.Sprintf("%d observer timestamps", c.thresholds.observer), "fewer", terr)
	}
	// What sigstore-go reads of an in-toto statement before it returns.
	var lite struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if jerr := json.Unmarshal(payload, &lite); jerr != nil {
		return fail(CheckStatement, "an in-toto statement", "undecodable", fmt.Errorf("%w: %w", ErrMalformed, jerr))
	}
	issuer := "a CA of the trusted root"
	if c.spiffe != nil {
		issuer += " or of a SPIFFE trust bundle"
	}
	return fail(CheckSignature, fmt.Sprintf("a signing certificate issued by %s, with %d SCTs, whose key signed the envelope", issuer, c.scts), "one that is not", err)
}

// foreignRoot tells a bundle made under another Sigstore than the trusted
// root's (a private one's bundle checked against the public-good root, or
// the reverse) from a bundle that fails on its merits: its certificate
// chains to no CA of the trusted root, or its log entries are of logs the
// root does not list. Read only when verification failed; it never turns
// a failure into a pass.
func (c *checker) foreignRoot(b *bundle.Bundle) *CheckError {
	const fix = "is this the trusted root of the Sigstore that signed it? the public-good root comes from `hallmark trusted-root`; a private Sigstore's from its operator (--trusted-root)"
	leaf := leafCertificate(b)
	if leaf != nil && !(c.spiffe != nil && !hasFulcioIssuer(leaf)) {
		var cas []string
		unknown := true
		for _, ca := range c.trusted.FulcioCertificateAuthorities() {
			fca, ok := ca.(*root.FulcioCertificateAuthority)
			if !ok {
				unknown = false // a kind of authority this check cannot read
				break
			}
			cas = append(cas, fca.URI)
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(fca.Root)
			for _, i := range fca.Intermediates {
				inter.AddCert(i)
			}
			_, err := leaf.Verify(x509.VerifyOptions{CurrentTime: leaf.NotBefore, Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}})
			var uae x509.UnknownAuthorityError
			if !errors.As(err, &uae) {
				unknown = false
				break
			}
		}
		if unknown {
			return fail(CheckSignature, "a certificate issued by a CA of the trusted root ("+strings.Join(cas, ", ")+")", "one issued by "+leaf.Issuer.String(), ErrUnknownAuthority).with(fix)
		}
	}
	logs := c.trusted.RekorLogs()
	for _, e := range b.GetVerificationMaterial().GetTlogEntries() {
		id := hex.EncodeToString(e.GetLogId().GetKeyId())
		if _, ok := logs[id]; !ok && len(logs) > 0 {
			return fail(CheckTlog, "log entries of a log the trusted root lists", "an entry of log "+id, ErrUnknownAuthority).with(fix)
		}
	}
	return nil
}

// leafCertificate is the bundle's signing certificate, or nil.
func leafCertificate(b *bundle.Bundle) *x509.Certificate {
	if b == nil || b.Bundle == nil {
		return nil
	}
	vc, err := b.VerificationContent()
	if err != nil || vc == nil {
		return nil
	}
	return vc.Certificate()
}

// checkIdentity: the signer is one the expectations accept.
func (r *run) checkIdentity() error {
	if r.c.vsa != nil {
		return r.c.vsa.checkIdentity(&r.signer)
	}
	return r.c.policy.checkIdentity(&r.signer)
}

// checkStatement: the payload is one well-formed statement of an accepted
// predicate type.
func (r *run) checkStatement() error {
	maxSubjects := DefaultMaxSubjects
	predTypes := []string{PredicateVSA}
	if r.c.policy != nil {
		maxSubjects, predTypes = r.c.policy.compiled.maxSubjects, r.c.policy.compiled.predTypes
	}
	if r.predicateType != "" {
		predTypes = []string{r.predicateType}
	}
	st, err := parseStatement(r.payload, maxSubjects, predTypes)
	switch {
	case errors.Is(err, ErrTooManySubjects):
		return fail(CheckSubject, fmt.Sprintf("at most %d subjects", maxSubjects), "more", err)
	case errors.Is(err, ErrPredicateType):
		return fail(CheckPredicateType, "one of "+strings.Join(predTypes, ", "), st.PredicateType, ErrPredicateType)
	case err != nil:
		return fail(CheckStatement, "an in-toto statement every JSON reader reads alike", "one that is not", err)
	}
	r.st = st
	return nil
}

// checkSubject: one of the artifact's digests is a subject, and no sound
// digest of that subject contradicts the artifact's.
func (r *run) checkSubject() error {
	names, err := checkSubject(r.st, r.digests)
	if err != nil {
		return err
	}
	r.subjects = names
	return nil
}

// checkCertificateClaims: every provenance claim the certificate also
// records agrees with it.
func (r *run) checkCertificateClaims() error {
	known, err := crossCheck(r.st, &r.signer)
	if err != nil {
		return err
	}
	r.known = known
	if r.signer.kind.spiffe() {
		return r.checkFactoryClaims()
	}
	return nil
}

// checkSource: the source is the expected one: the certificate's for a
// Fulcio certificate, the one the factory verified for a SPIFFE signer
// (and one its builder entry's tenants allow).
func (r *run) checkSource() error {
	if r.signer.kind.spiffe() {
		return r.checkFactorySource()
	}
	return r.c.policy.checkSource(&r.signer.cert)
}

// checkRef: the source ref is the expected branch, tag or versioned tag.
func (r *run) checkRef() error {
	p := r.c.policy
	if r.signer.kind.spiffe() {
		if p.SourceBranch != "" || p.SourceTag != "" || p.SourceVersionedTag != "" {
			return fail(CheckRef, "a source ref", "factory provenance, which records the commit built, not a ref", ErrRefKind).
				with("drop --source-branch/--source-tag/--source-versioned-tag for factory provenance")
		}
		return nil
	}
	return p.checkRef(r.st, &r.signer.cert, r.level)
}

func (r *run) checkBuildType() error { return r.c.policy.checkBuildType(r.st) }

func (r *run) checkExternalParameters() error {
	return r.c.policy.checkExternalParameters(r.st, &r.signer, r.known)
}

func (r *run) checkExpressions() error { return r.c.policy.checkExpressions(r.st) }
