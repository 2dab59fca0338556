// Package result holds the two results Hallmark reports: what attest signed,
// wrote and pushed (Attest), and what verification found for each artifact
// (Verify). `hallmark attest --format json` and `hallmark verify-artifact |
// verify-image | verify-npm-package | verify-vsa --format json` print them, the GitHub
// actions read them back for their outputs and summaries, and the VSA
// builder (`verify-artifact --vsa-out`) summarizes the verdicts. Their JSON
// Schemas are docs/attest-result.schema.json and
// docs/verify-result.schema.json; tests validate real outputs against them.
package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/verifier"
)

// Attest is the summary `hallmark attest --format json` prints.
type Attest struct {
	BuilderID string   `json:"builderID"`
	Bundles   []Bundle `json:"bundles"`
	// Pushes are the bundles attached to images in their registries, one
	// for each bundle and image it is about.
	Pushes []Push `json:"pushes,omitempty"`
}

// Bundle is one written bundle.
type Bundle struct {
	Path        string    `json:"path"`
	Subjects    []Subject `json:"subjects"`
	Identity    string    `json:"certificateIdentity"`
	Issuer      string    `json:"certificateIssuer"`
	LogIndex    *int64    `json:"logIndex,omitempty"`
	LogURL      string    `json:"logURL,omitempty"`
	Timestamped bool      `json:"timestamped"`
	// PredicateType is the statement's predicate type when it is not
	// provenance: an SBOM's (attest --sbom).
	PredicateType string `json:"predicateType,omitempty"`
	// Data is the bundle as written to Path, for a front end that hands it
	// on (the action stores it in GitHub's attestation store); not printed.
	Data []byte `json:"-"`
}

// Subject is one attested artifact.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Push is one bundle attached, or not, to one image in its registry.
type Push struct {
	Image  string `json:"image"`
	Bundle string `json:"bundle"`
	// Manifest is the attestation manifest's digest, Via how it is
	// discoverable (the referrers API or the referrers tag), Tag the tag
	// updated, if any.
	Manifest  string `json:"manifest,omitempty"`
	Via       string `json:"via,omitempty"`
	Tag       string `json:"tag,omitempty"`
	LegacyTag string `json:"legacyTag,omitempty"`
	// Error says why the bundle is not attached to the image; empty when
	// it is.
	Error string `json:"error,omitempty"`
}

// Verify is what the verify commands print with --format json: whether
// every artifact passed, and each artifact's verdict. Provenance, with
// --print-provenance, lists the verified statements of the artifacts that
// passed (null when none did). Predicates, with --print-provenance and
// --predicate-type, lists instead the verified predicates (the SBOMs) of
// the attestations that passed.
type Verify struct {
	Passed     bool               `json:"passed"`
	Provenance *[]json.RawMessage `json:"provenance,omitempty"`
	Predicates []json.RawMessage  `json:"predicates,omitempty"`
	Verdicts   []Verdict          `json:"verdicts"`
}

// Verdict is one artifact's outcome.
type Verdict struct {
	Artifact       string               `json:"artifact"`
	Digest         string               `json:"digest"`
	Passed         bool                 `json:"passed"`
	Level          int                  `json:"slsaBuildLevel,omitempty"`
	BuilderID      string               `json:"builderID,omitempty"`
	TrustedBuilder string               `json:"trustedBuilder,omitempty"`
	Identity       string               `json:"certificateIdentity,omitempty"`
	Issuer         string               `json:"certificateIssuer,omitempty"`
	Source         string               `json:"sourceRepository,omitempty"`
	Ref            string               `json:"sourceRef,omitempty"`
	Commit         string               `json:"sourceCommit,omitempty"`
	PredicateType  string               `json:"predicateType,omitempty"`
	Timestamps     []verifier.Timestamp `json:"timestamps,omitempty"`
	// Unverified are provenance fields nothing vouched for (see
	// verifier.Result.Unverified).
	Unverified []string `json:"unverifiedClaims,omitempty"`
	// A verification summary's verdict (verify-vsa): the levels it vouches
	// for, the verifier that signed it and when it verified.
	Levels       []string   `json:"levels,omitempty"`
	Verifier     string     `json:"verifier,omitempty"`
	TimeVerified *time.Time `json:"timeVerified,omitempty"`
	Failure      *Failure   `json:"failure,omitempty"`
	// Attestations are the attestations the policy requires beside the
	// provenance (attestations.require), verified: their predicate types.
	Attestations []string `json:"requiredAttestations,omitempty"`
	// Result is the verifier's result for a passed artifact; not printed.
	Result *verifier.Result `json:"-"`
	// Attestation is set instead of Result for an attestation that is not
	// provenance (--predicate-type); not printed.
	Attestation *verifier.AttestationResult `json:"-"`
}

// NewVerdict is the verdict on artifact, of digest d, from the verifier's
// result or error.
func NewVerdict(artifact string, d verifier.Digest, res *verifier.Result, err error) Verdict {
	v := Verdict{Artifact: artifact, Digest: d.String()}
	if err != nil {
		v.Failure = FailureOf(err)
		return v
	}
	ext := res.Identity.Extensions
	v.Passed, v.Level, v.BuilderID, v.TrustedBuilder = true, res.Level, res.BuilderID, res.TrustedBuilder
	v.Identity, v.Issuer, v.PredicateType, v.Timestamps = res.Identity.SAN, res.Identity.Issuer, res.PredicateType, res.Timestamps
	v.Source, v.Ref, v.Commit = ext.SourceRepositoryURI, ext.SourceRepositoryRef, ext.SourceRepositoryDigest
	v.Unverified = res.Unverified
	v.Result = res
	return v
}

// Failure is why an artifact failed: the check, what was wanted and what
// was found, and what to change where the verifying user can.
type Failure struct {
	Check   string `json:"check"`
	Want    string `json:"want,omitempty"`
	Got     string `json:"got,omitempty"`
	Message string `json:"message"`
	// Fix says what to change or pin, when the verifying user can.
	Fix string `json:"fix,omitempty"`
}

// Line is the text report of a failure, as the CLI prints it after
// "FAILED: ": the check, what was wanted and what was found, the
// artifact, and what to change.
func (f *Failure) Line(artifact string) string {
	var s string
	if f.Want == "" && f.Got == "" {
		s = fmt.Sprintf("%s: %s (%s)", f.Check, f.Message, artifact)
	} else {
		s = fmt.Sprintf("%s: want %s, got %s (%s)", f.Check, f.Want, f.Got, artifact)
	}
	if f.Fix != "" {
		s += "; " + f.Fix
	}
	return s
}

// FailureOf reads a verification error as a Failure: a *verifier.CheckError
// gives its check, want, got and fix; any other error is an input failure.
func FailureOf(err error) *Failure {
	f := &Failure{Check: string(verifier.CheckInput), Message: err.Error()}
	var ce *verifier.CheckError
	if errors.As(err, &ce) {
		f.Check, f.Want, f.Got, f.Fix = string(ce.Check), ce.Want, ce.Got, ce.Fix
	}
	return f
}
