package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
)

// Predicate types of SBOM attestations, as actions/attest-sbom and cosign
// write them: an SPDX 2.x JSON document, a CycloneDX 1.x JSON BOM.
const (
	PredicateSPDX      = "https://spdx.dev/Document"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
)

// DefaultMaxAttestationBundleSize is the bundle size limit the command
// line applies to attestations that are not provenance (see
// ParseBundlesLimit): an image's SBOM weighs megabytes.
const DefaultMaxAttestationBundleSize = 64 << 20

// AttestationPolicy is what a policy expects of attestations that are not
// provenance.
type AttestationPolicy struct {
	// Expressions are CEL expressions over the variable "statement" (the
	// attestation's in-toto statement as JSON: statement.predicate is the
	// SBOM document). Each must evaluate to true. For example, no package
	// named log4j-core in an SPDX SBOM:
	//
	//	!statement.predicate.packages.exists(p, p.name == "log4j-core")
	Expressions []string `json:"expressions,omitempty"`

	// Require are predicate types (PredicateSPDX, PredicateCycloneDX or
	// another URI) of attestations an artifact must have beside its
	// provenance, each signed by the identity that signed the provenance:
	// the same builder. VerifyAttestationOf checks one; verify-image and
	// the admission controller look for each in the registry once the
	// provenance passed. The Expressions hold for each of them too.
	Require []string `json:"require,omitempty"`
}

// RequiredAttestations are the predicate types the policy requires beside
// provenance (Attestations.Require).
func (v *Verifier) RequiredAttestations() []string {
	return append([]string(nil), v.c.policy.Attestations.Require...)
}

func (c *compiledPolicy) compileAttestations(a AttestationPolicy) error {
	for i, pt := range a.Require {
		switch {
		case pt == PredicateSLSAv1 || pt == PredicateSLSAv02 || pt == PredicateVSA:
			return fmt.Errorf("attestations.require[%d]: %s is provenance or a summary, which the policy verifies anyway: "+
				"list attestations beside the provenance, such as %s", i, pt, PredicateSPDX)
		case !strings.Contains(pt, "://"):
			return fmt.Errorf("attestations.require[%d]: %q is no predicate type URI, such as %s or %s", i, pt, PredicateSPDX, PredicateCycloneDX)
		}
	}
	if len(a.Expressions) == 0 {
		return nil
	}
	env, err := celEnv()
	if err != nil {
		return err
	}
	for i, src := range a.Expressions {
		prg, err := compileExpression(env, src)
		if err != nil {
			return fmt.Errorf("attestations.expressions[%d]: %w", i, err)
		}
		c.attestExpressions = append(c.attestExpressions, prg)
		c.attestSources = append(c.attestSources, src)
	}
	return nil
}

// AttestationResult is what VerifyAttestation established.
type AttestationResult struct {
	// Payload is the statement exactly as signed.
	Payload []byte
	// PredicateType is the statement's predicate type.
	PredicateType string
	// TrustedBuilder names the policy's builder entry that trusted the
	// signer, and Level the level that entry grants it (capped as for
	// provenance: 1 for a self-hosted runner).
	TrustedBuilder string
	Level          int
	// Identity is the verified signing certificate's identity.
	Identity CertificateIdentity
	// Subjects are the names of the statement's subjects that matched the
	// artifact digests.
	Subjects []string
	// Timestamps are the verified signing-time observations.
	Timestamps []Timestamp
	// VerifiedAt is the verifier clock's now.
	VerifiedAt time.Time

	predicate any
}

// PredicateJSON returns the verified predicate (the SBOM document) as
// JSON, encoded from the one decoded reading of the payload.
func (r *AttestationResult) PredicateJSON() ([]byte, error) {
	return json.Marshal(r.predicate)
}

// VerifyAttestation verifies one bundle whose statement is of
// predicateType, which is not provenance: an SBOM (PredicateSPDX,
// PredicateCycloneDX) or another attestation. It holds it to the
// policy's rules for the signer as Verify does: the signature, log entries
// and timestamps with the policy's thresholds; the identity; the statement,
// read once and strictly, of exactly predicateType (an SPDX or CycloneDX
// predicate must be such a document); one of digests a subject; a signer
// that a builder entry of the policy trusts by its Signer pattern (an entry
// that names a builder id cannot be met: only provenance has one), for at
// least the policy's MinLevel; the source and ref the certificate records;
// and the policy's Attestations expressions.
//
// What only provenance records cannot be checked here and fails rather
// than being ignored: a policy expecting a builder id, build types,
// external parameters or workflow inputs.
func (v *Verifier) VerifyAttestation(b *bundle.Bundle, predicateType string, digests ...Digest) (*AttestationResult, error) {
	if predicateType == "" || predicateType == PredicateSLSAv1 || predicateType == PredicateSLSAv02 || predicateType == PredicateVSA {
		return nil, fail(CheckPredicateType, "an attestation predicate type other than provenance or a verification summary", orNone(predicateType), ErrPredicateType).
			with("verify provenance with Verify")
	}
	if err := v.c.policy.attestationApplies(); err != nil {
		return nil, err
	}
	r := &run{c: v.c, b: b, digests: digests, predicateType: predicateType}
	if err := r.verify(forAttestation); err != nil {
		return nil, err
	}
	v.c.log.Debug("attestation verified", "predicateType", predicateType, "signer", r.signer.uri(), "level", r.level)
	return v.attestationResult(r), nil
}

// VerifyAttestationOf verifies an attestation of predicateType that must
// come from the builder whose provenance prov the verifier passed for the
// same artifact: as VerifyAttestation, except that the signer is trusted
// because it is prov's (the same certificate identity and issuer) and the
// level is prov's. The policy's builder id, build types and parameters
// were checked on prov and are not asked of the attestation. Each bundle
// is tried in turn; the first that passes is returned, else every error.
func (v *Verifier) VerifyAttestationOf(prov *Result, bundles []*bundle.Bundle, predicateType string, digests ...Digest) (*AttestationResult, error) {
	if prov == nil {
		return nil, fail(CheckInput, "verified provenance of the artifact", "none", ErrMalformed)
	}
	if predicateType == "" || predicateType == PredicateSLSAv1 || predicateType == PredicateSLSAv02 || predicateType == PredicateVSA {
		return nil, fail(CheckPredicateType, "an attestation predicate type other than provenance or a verification summary", orNone(predicateType), ErrPredicateType)
	}
	if len(bundles) == 0 {
		return nil, fail(CheckInput, "at least one bundle", "none", ErrMalformed)
	}
	var errs []error
	for i, b := range bundles {
		r := &run{c: v.c, b: b, digests: digests, predicateType: predicateType, of: prov}
		if err := r.verify(forAttestation); err != nil {
			errs = append(errs, fmt.Errorf("bundle %d: %w", i, err))
			continue
		}
		return v.attestationResult(r), nil
	}
	return nil, errors.Join(errs...)
}

// CheckAttestation: an attestation the policy requires beside the
// provenance (Attestations.Require) is not among the bundles given.
const CheckAttestation Check = "attestation"

// ErrMissingAttestation: no bundle given is an attestation of a predicate
// type the policy requires.
var ErrMissingAttestation = errors.New("required attestation missing")

// VerifyRequiredAttestations verifies, once the provenance prov passed,
// each attestation the policy requires beside it (Attestations.Require)
// among bundles, with VerifyAttestationOf: for the same artifact, signed by
// prov's signer. It returns one result per required predicate type, in the
// policy's order, or the first that is missing or fails: a bundle of the
// type that failed fails with its own check, and none of the type fails
// CheckAttestation. Bundles of other predicate types (the provenance
// itself, a verification summary) are skipped, never taken for one.
func (v *Verifier) VerifyRequiredAttestations(prov *Result, bundles []*bundle.Bundle, digests ...Digest) ([]*AttestationResult, error) {
	required := v.RequiredAttestations()
	if len(required) > 0 && prov == nil {
		return nil, fail(CheckInput, "verified provenance of the artifact", "none", ErrMalformed)
	}
	var out []*AttestationResult
	for _, pt := range required {
		err := ErrMissingAttestation
		if len(bundles) > 0 {
			var res *AttestationResult
			if res, err = v.VerifyAttestationOf(prov, bundles, pt, digests...); err == nil {
				out = append(out, res)
				continue
			}
			err = fmt.Errorf("%w: %w", ErrMissingAttestation, err)
		}
		if ce := foundAndFailed(err); ce != nil {
			// Found, and failed: say why.
			found := *ce
			found.Want += " (of the " + pt + " attestation the policy requires, attestations.require)"
			return nil, &found
		}
		return nil, fail(CheckAttestation, pt+" attestation beside the provenance, signed by its builder (attestations.require)",
			"none among the bundles given", err).with("give its bundle with --attestation-path, or in the --provenance-path file")
	}
	return out, nil
}

// foundAndFailed is the first check error in err (a join of each bundle's)
// that is not about the predicate type: a bundle of the type that failed.
func foundAndFailed(err error) *CheckError {
	var ce *CheckError
	if errors.As(err, &ce) && ce.Check != CheckPredicateType {
		return ce
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if ce := foundAndFailed(e); ce != nil {
				return ce
			}
		}
	}
	return nil
}

// attestationResult is what a passed attestation run established.
func (v *Verifier) attestationResult(r *run) *AttestationResult {
	return &AttestationResult{
		Payload:        r.payload,
		PredicateType:  r.st.PredicateType,
		TrustedBuilder: r.trustedName,
		Level:          r.level,
		Identity:       r.identity(),
		Subjects:       r.subjects,
		Timestamps:     r.stamps,
		VerifiedAt:     v.c.now(),
		predicate:      r.st.doc["predicate"],
	}
}

// identity is the verified signer's identity as results name it.
func (r *run) identity() CertificateIdentity {
	if r.signer.kind == signerSVID {
		return CertificateIdentity{Issuer: "spiffe://" + r.signer.id.TrustDomain().Name(), SAN: r.signer.id.String()}
	}
	return r.signer.identity()
}

// VerifyAttestationAny is VerifyAttestation over each bundle in turn; it
// returns the first success, or every bundle's error joined.
func (v *Verifier) VerifyAttestationAny(bundles []*bundle.Bundle, predicateType string, digests ...Digest) (*AttestationResult, error) {
	if len(bundles) == 0 {
		return nil, fail(CheckInput, "at least one bundle", "none", ErrMalformed)
	}
	var errs []error
	for i, b := range bundles {
		res, err := v.VerifyAttestation(b, predicateType, digests...)
		if err == nil {
			return res, nil
		}
		errs = append(errs, fmt.Errorf("bundle %d: %w", i, err))
	}
	return nil, errors.Join(errs...)
}

// attestationApplies refuses the expectations only provenance can meet.
func (p *Policy) attestationApplies() error {
	const fix = "verify the provenance for it; an attestation that is not provenance records no build"
	switch {
	case p.BuilderID != "":
		return fail(CheckBuilder, "builder id "+p.BuilderID+" (which only provenance records)", "an attestation without one", ErrNotApplicable).
			with("name the workflow that signed with --signer-workflow instead, or " + fix)
	case len(p.BuildTypes) > 0:
		return fail(CheckBuildType, "build type in "+strings.Join(p.BuildTypes, ", ")+" (which only provenance records)", "an attestation without one", ErrNotApplicable).with(fix)
	case len(p.ExternalParameters) > 0:
		return fail(CheckExternalParameters, "external parameters (which only provenance records)", "an attestation without them", ErrNotApplicable).with(fix)
	case len(p.WorkflowInputs) > 0:
		return fail(CheckExternalParameters, "workflow inputs (which only provenance records)", "an attestation without them", ErrNotApplicable).with(fix)
	}
	return nil
}

// checkAttestationSigner: a builder entry of the policy trusts the signer
// by its Signer pattern, for a level no lower than the policy's minimum.
func (r *run) checkAttestationSigner() error {
	if r.of != nil {
		return r.checkSameSigner()
	}
	p := r.c.policy
	s := &r.signer
	b := BuilderID{Signer: s.uri()}
	best, name := 0, ""
	var chosen compiledBuilder
	var why []error
	for _, tb := range p.compiled.builders {
		switch {
		case tb.signer == nil:
			why = append(why, fmt.Errorf("%s: names a builder id, which only provenance has", tb.name))
			continue
		case s.kind.spiffe() && !tb.spiffe:
			why = append(why, fmt.Errorf("%s: names no SPIFFE signer", tb.name))
			continue
		}
		if err := tb.signer(b); err != nil {
			why = append(why, fmt.Errorf("%s: %w", tb.name, err))
			continue
		}
		if tb.maxLevel > best {
			best, name, chosen = tb.maxLevel, tb.name, tb
		}
	}
	if name == "" {
		return fail(CheckBuilder, "a signer the policy trusts", b.Signer, fmt.Errorf("%w: %w", ErrUntrustedBuilder, errors.Join(why...))).
			with(r.nameBuilderFix())
	}
	return r.grantLevel(name, best, chosen)
}

// checkSameSigner: the attestation is signed by the identity that signed
// the provenance r.of, and takes its level.
func (r *run) checkSameSigner() error {
	got, want := r.identity(), r.of.Identity
	if got.SAN != want.SAN || got.Issuer != want.Issuer {
		return fail(CheckBuilder, "the signer of the provenance, "+want.SAN+" (issuer "+want.Issuer+")", got.SAN+" (issuer "+got.Issuer+")", ErrUntrustedBuilder).
			with("the policy requires this attestation from the builder that made the artifact: sign it in the same build, beside the provenance (hallmark attest --sbom)")
	}
	r.trustedName, r.level = r.of.TrustedBuilder, r.of.Level
	return nil
}

// checkAttestationExpressions evaluates the policy's attestation
// expressions over the statement.
func (r *run) checkAttestationExpressions() error {
	c := r.c.policy.compiled
	if len(c.attestExpressions) == 0 {
		return nil
	}
	vars := map[string]any{"statement": r.st.celValue()}
	for i, prg := range c.attestExpressions {
		src := c.attestSources[i]
		out, _, err := prg.Eval(vars)
		if err != nil {
			return fail(CheckPolicyExpression, src, "error", fmt.Errorf("%w: %w", ErrExpressionFalse, err))
		}
		if b, ok := out.Value().(bool); !ok || !b {
			return fail(CheckPolicyExpression, src, fmt.Sprint(out.Value()), ErrExpressionFalse)
		}
	}
	return nil
}

// ParseSBOM reads an SBOM document (SPDX 2.x JSON or CycloneDX 1.x JSON)
// as VerifyAttestation reads an SBOM predicate, strictly, and returns the
// predicate type it would be attested as. Attest checks an SBOM with it
// before signing, so nothing is signed that verification would refuse.
// The caller bounds the size of data.
//
// It holds one package or component decoded at a time, not the whole
// document: what it accepts and the error it gives are those of decoding
// the document and reading it with readSBOM (FuzzParseSBOM holds it to
// that), in a fraction of the memory for an image's SBOM.
func ParseSBOM(data []byte) (string, error) {
	// The first failing element of each list, by the rule of the format
	// that lists under that key: which format the document is may be
	// written after its list.
	type failed struct {
		i   int
		err error
	}
	first := map[string]failed{}
	p := &strictParser{data: data,
		eachKey: func(k string) bool { return k == sbomList[PredicateSPDX] || k == sbomList[PredicateCycloneDX] },
		each: func(k string, i int, e any) {
			if _, done := first[k]; done {
				return
			}
			if err := readSBOMElement(sbomFormatOf[k], e, k, i); err != nil {
				first[k] = failed{i, err}
			}
		},
	}
	v, err := p.decode()
	if err != nil {
		return "", fmt.Errorf("SBOM is no JSON document that every reader reads alike (SPDX tag-value and CycloneDX XML are not read: "+
			"write SPDX or CycloneDX JSON, e.g. syft -o spdx-json): %w: %w", ErrMalformed, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("SBOM is not a JSON object: %w", ErrMalformed)
	}
	_, spdx := doc["spdxVersion"]
	_, cdx := doc["bomFormat"]
	var pt string
	switch {
	case spdx && cdx:
		return "", fmt.Errorf("SBOM has both spdxVersion (SPDX) and bomFormat (CycloneDX): %w", ErrMalformed)
	case spdx:
		pt = PredicateSPDX
	case cdx:
		pt = PredicateCycloneDX
	default:
		return "", fmt.Errorf("not an SPDX 2.x or CycloneDX 1.x JSON document: it has neither spdxVersion nor bomFormat "+
			"(SPDX tag-value and CycloneDX XML are not read: write JSON, e.g. syft -o spdx-json): %w", ErrMalformed)
	}
	r := &reader{}
	readSBOM(r, doc, pt, "")
	if r.err != nil {
		return "", r.err
	}
	if f, ok := first[sbomList[pt]]; ok {
		return "", f.err
	}
	return pt, nil
}

// sbomList is the key under which each SBOM format lists what it is made
// of, and sbomFormatOf its inverse.
var (
	sbomList     = map[string]string{PredicateSPDX: "packages", PredicateCycloneDX: "components"}
	sbomFormatOf = map[string]string{"packages": PredicateSPDX, "components": PredicateCycloneDX}
)

// readSBOMElement checks element i of an SBOM document's list (packages,
// components) at path as readSBOM does.
func readSBOMElement(pt string, e any, path string, i int) error {
	r := &reader{}
	checkSBOMElement(r, pt, e, func() string { return fmt.Sprintf("%s[%d]", path, i) })
	return r.err
}

// checkSBOMElement checks one package (SPDX) or component (CycloneDX) of
// an SBOM; at names it in errors, and is asked only when one is made.
func checkSBOMElement(r *reader, pt string, e any, at func() string) {
	var o map[string]any
	if m, ok := e.(map[string]any); ok {
		o = m
	} else {
		o = r.asObject(e, at())
	}
	for _, k := range sbomElementNames[pt] {
		if s, ok := o[k].(string); !ok || s == "" {
			p := at()
			r.require(r.str(o, p, k), p+"."+k)
			return
		}
	}
}

// sbomElementNames are the fields that name a package or component.
var sbomElementNames = map[string][]string{PredicateSPDX: {"SPDXID", "name"}, PredicateCycloneDX: {"type", "name"}}

// readSBOM checks the shape of an SBOM document of predicate type pt: the
// fields that make it one (an SPDX 2.x document's version, id, name and
// creation info; a CycloneDX 1.x BOM's format and spec version), and that
// the packages or components it lists are objects with the fields that name
// them. It reads nothing else: policy expressions read the rest.
func readSBOM(r *reader, p map[string]any, pt, path string) {
	switch pt {
	case PredicateSPDX:
		v := r.str(p, path, "spdxVersion")
		if r.err == nil && !strings.HasPrefix(v, "SPDX-2.") {
			r.err = fmt.Errorf("%s is %q, not SPDX-2.x: %w", join(path, "spdxVersion"), v, ErrMalformed)
		}
		if id := r.str(p, path, "SPDXID"); r.err == nil && id != "SPDXRef-DOCUMENT" {
			r.err = fmt.Errorf("%s is %q, not SPDXRef-DOCUMENT: %w", join(path, "SPDXID"), id, ErrMalformed)
		}
		r.require(r.str(p, path, "name"), join(path, "name"))
		ci := r.obj(p, path, "creationInfo")
		r.require(r.str(ci, join(path, "creationInfo"), "created"), join(path, "creationInfo.created"))
		readSBOMList(r, p, pt, path)
	case PredicateCycloneDX:
		if f := r.str(p, path, "bomFormat"); r.err == nil && f != "CycloneDX" {
			r.err = fmt.Errorf("%s is %q, not CycloneDX: %w", join(path, "bomFormat"), f, ErrMalformed)
		}
		if v := r.str(p, path, "specVersion"); r.err == nil && !strings.HasPrefix(v, "1.") {
			r.err = fmt.Errorf("%s is %q, not 1.x: %w", join(path, "specVersion"), v, ErrMalformed)
		}
		readSBOMList(r, p, pt, path)
	}
}

// readSBOMList checks each package or component an SBOM lists.
func readSBOMList(r *reader, p map[string]any, pt, path string) {
	at := join(path, sbomList[pt])
	for i, e := range r.arr(p, path, sbomList[pt]) {
		checkSBOMElement(r, pt, e, func() string { return fmt.Sprintf("%s[%d]", at, i) })
		if r.err != nil {
			return
		}
	}
}
