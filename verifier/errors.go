package verifier

import (
	"errors"
	"fmt"
)

// Check names one verification step. Checks run in the order of the
// constants below, which follows SLSA's "verifying artifacts" order: the
// signature first, then the subject, the predicate type, the builder, and
// last the expectations about the source and the build.
type Check string

// The checks a verification runs, in order.
const (
	// CheckInput: the bundle has the shape this library verifies (one DSSE
	// envelope with exactly one signature, an in-toto payload, size limits).
	CheckInput Check = "input"
	// CheckTlog: transparency log inclusion (proof or promise) of the entry,
	// and that the entry is about this very signature and payload.
	CheckTlog Check = "tlog"
	// CheckTimestamp: enough verified observer timestamps (log integrated
	// time, RFC 3161 signed timestamps), none of them in the future.
	CheckTimestamp Check = "timestamp"
	// CheckSignature: the certificate chains to a trusted CA at signing time,
	// carries the SCTs the policy requires, and its key signed the envelope.
	CheckSignature Check = "signature"
	// CheckIdentity: the signer is one the policy accepts: for a Fulcio
	// certificate its OIDC issuer, SAN and extensions, for an X.509-SVID its
	// SPIFFE ID; and every identity expectation applies to that kind of
	// signer.
	CheckIdentity Check = "identity"
	// CheckStatement: the payload is one well-formed in-toto statement that
	// every JSON reader reads the same way.
	CheckStatement Check = "statement"
	// CheckPredicateType: the statement is SLSA provenance of a known version
	// (or, for VerifyVSA, a verification summary).
	CheckPredicateType Check = "predicateType"
	// CheckSubject: one of the artifact digests is a subject of the statement.
	CheckSubject Check = "subject"
	// CheckPayloadMatchesCertificate: every claim of the provenance that the
	// certificate also records (builder, source, workflow, run) agrees with it.
	CheckPayloadMatchesCertificate Check = "payloadMatchesCertificate"
	// CheckBuilder: the builder is trusted by the policy, for a level high
	// enough, and matches the expected builder id if one is given.
	CheckBuilder Check = "builder"
	// CheckSource: the source repository is the expected one.
	CheckSource Check = "source"
	// CheckRef: the source ref is the expected branch, tag or versioned tag.
	CheckRef Check = "ref"
	// CheckBuildType: the build type is one the policy accepts.
	CheckBuildType Check = "buildType"
	// CheckExternalParameters: external parameters and workflow inputs have
	// the expected values; under a strict policy, none is unknown.
	CheckExternalParameters Check = "externalParameters"
	// CheckPolicyExpression: every CEL expression of the policy is true.
	CheckPolicyExpression Check = "policyExpression"
)

// CheckError is the error every failed verification returns: the check that
// failed, what the policy wanted and what the evidence showed, and, where a
// person can act on it, what to change. Err is one of the sentinel errors of
// this package or, for cryptographic failures, the underlying error.
type CheckError struct {
	Check Check
	Want  string
	Got   string
	Err   error
	// Fix says what the verifying user can change or pin, when the evidence
	// could pass under another expectation (empty when only other evidence
	// would do).
	Fix string
}

// Error reads "check: want W, got G: cause; fix".
func (e *CheckError) Error() string {
	msg := string(e.Check)
	if e.Want != "" || e.Got != "" {
		msg += fmt.Sprintf(": want %s, got %s", orNone(e.Want), orNone(e.Got))
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// with returns e with its Fix set.
func (e *CheckError) with(fix string) *CheckError {
	e.Fix = fix
	return e
}

// Unwrap returns the cause, so errors.Is finds the sentinels below.
func (e *CheckError) Unwrap() error { return e.Err }

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func fail(c Check, want, got string, err error) *CheckError {
	return &CheckError{Check: c, Want: want, Got: got, Err: err}
}

// Sentinel errors, wrapped by CheckError.Err or by parse errors.
var (
	// ErrTooLarge: an input exceeds a size or count limit.
	ErrTooLarge = errors.New("input too large")
	// ErrMalformed: an input does not parse or lacks a required field.
	ErrMalformed = errors.New("malformed input")
	// ErrSignatureCount: the envelope does not carry exactly one signature.
	ErrSignatureCount = errors.New("envelope must carry exactly one signature")
	// ErrTooManySubjects: the statement has more subjects than allowed.
	ErrTooManySubjects = errors.New("too many subjects")
	// ErrFutureTimestamp: a verified timestamp lies after the clock's now.
	ErrFutureTimestamp = errors.New("timestamp in the future")
	// ErrIssuer: the certificate's OIDC issuer is not accepted.
	ErrIssuer = errors.New("untrusted certificate issuer")
	// ErrCertificateIdentity: the SAN or an extension does not match.
	ErrCertificateIdentity = errors.New("certificate identity mismatch")
	// ErrSelfHostedRunner: the build ran on a self-hosted runner and the
	// policy denies those.
	ErrSelfHostedRunner = errors.New("self-hosted runner denied")
	// ErrSubjectMismatch: no artifact digest is a subject of the statement.
	ErrSubjectMismatch = errors.New("artifact digest not among subjects")
	// ErrPredicateType: the predicate type is not accepted.
	ErrPredicateType = errors.New("unaccepted predicate type")
	// ErrPayloadCertificateMismatch: a provenance claim contradicts the
	// certificate, or cannot be checked against it.
	ErrPayloadCertificateMismatch = errors.New("provenance contradicts certificate")
	// ErrUntrustedBuilder: no trusted builder of the policy matches.
	ErrUntrustedBuilder = errors.New("untrusted builder")
	// ErrBuilderMismatch: the builder differs from the expected builder id.
	ErrBuilderMismatch = errors.New("builder id mismatch")
	// ErrLevelTooLow: the level granted is below the policy's minimum.
	ErrLevelTooLow = errors.New("build level too low")
	// ErrSourceMismatch: the source repository is not the expected one.
	ErrSourceMismatch = errors.New("source mismatch")
	// ErrRefKind: the source ref is not of the kind required (a tag when a
	// tag is expected, a branch when a branch is expected).
	ErrRefKind = errors.New("source ref of the wrong kind")
	// ErrBranchMismatch: the source branch is not the expected one.
	ErrBranchMismatch = errors.New("branch mismatch")
	// ErrTagMismatch: the source tag is not the expected one.
	ErrTagMismatch = errors.New("tag mismatch")
	// ErrVersionedTagMismatch: the source tag does not match the expected
	// semantic version prefix.
	ErrVersionedTagMismatch = errors.New("versioned tag mismatch")
	// ErrBuildType: the build type is not accepted.
	ErrBuildType = errors.New("unaccepted build type")
	// ErrExternalParameter: an external parameter has an unexpected value.
	ErrExternalParameter = errors.New("external parameter mismatch")
	// ErrUnknownExternalParameter: a strict policy met an external parameter
	// it has no expectation for.
	ErrUnknownExternalParameter = errors.New("unknown external parameter")
	// ErrWorkflowInput: a build workflow input has an unexpected value or is
	// missing.
	ErrWorkflowInput = errors.New("workflow input mismatch")
	// ErrExpressionFalse: a policy expression evaluated to false or failed.
	ErrExpressionFalse = errors.New("policy expression not satisfied")
	// ErrNotApplicable: an expectation of the policy or of a flag cannot be
	// checked against this kind of signer (a GitHub workflow expectation
	// for an X.509-SVID, a SPIFFE ID for a GitHub certificate). It fails
	// rather than being ignored.
	ErrNotApplicable = errors.New("expectation does not apply to this signer")
	// ErrUnknownAuthority: the bundle was made under another Sigstore than
	// the trusted root's: its certificate or log is not one the root lists.
	ErrUnknownAuthority = errors.New("not an authority of the trusted root")
	// ErrBareEnvelope: the input is a DSSE envelope without a Sigstore
	// bundle around it (slsa-github-generator before v2.1.0 wrote these):
	// no log entry or timestamp comes with it, so offline verification has
	// no signing time.
	ErrBareEnvelope = errors.New("a bare DSSE envelope, not a Sigstore bundle")
	// ErrWeakDigest: the statement names the artifact only by digests that
	// are not collision-resistant (sha1, md5).
	ErrWeakDigest = errors.New("only weak digests")
)
