package verifier

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Flags are the expectations a person gives on the command line, as
// slsa-verifier's verify-artifact and gh attestation verify take them.
// DefaultPolicyWith and Policy.Narrow turn them into a policy; that is the
// one place where flags meet trust.
type Flags struct {
	// Source is --source-uri: "github.com/OWNER/REPO".
	Source string
	// SourceBranch, SourceTag and SourceVersionedTag are --source-branch,
	// --source-tag and --source-versioned-tag.
	SourceBranch, SourceTag, SourceVersionedTag string
	// BuilderID is --builder-id: "ID@REF", or "ID" for ID at a release tag
	// refs/tags/vX.Y.Z.
	BuilderID string
	// WorkflowInputs are --build-workflow-input k=v.
	WorkflowInputs map[string]string
	// CertIdentity and CertIdentityRegex are --cert-identity and
	// --cert-identity-regex, a regular expression searched for in the SAN
	// as gh and cosign do (anchor it with ^ and $); at most one.
	CertIdentity, CertIdentityRegex string
	// CertOIDCIssuer is --cert-oidc-issuer.
	CertOIDCIssuer string
	// SignerWorkflow is --signer-workflow: "[github.com/]OWNER/REPO/PATH",
	// optionally "@REF".
	SignerWorkflow string
	// SignerRepo is gh's --signer-repo: "OWNER/REPO", whose workflows must
	// have signed. It narrows; it names no builder.
	SignerRepo string
	// Owner is gh's --owner: the source repository's owner.
	Owner string
	// DenySelfHostedRunners is --deny-self-hosted-runners.
	DenySelfHostedRunners bool
	// SPIFFEIDs are --spiffe-id: "spiffe://TD/PATH" exactly, or
	// "spiffe://TD/PATH/*" by path prefix.
	SPIFFEIDs []string
	// MinLevel is --min-level: the lowest SLSA build level accepted.
	MinLevel int
}

// Names of the flags whose expectation must apply to the signer.
const (
	flagCertOIDCIssuer = "--cert-oidc-issuer"
	flagSPIFFEID       = "--spiffe-id"
)

// narrowing is what Flags added to a policy.
type narrowing struct {
	// identities must each match, beside Policy.Identity.
	identities []Identity
	// spiffeIDs are lists of SPIFFE ID patterns; the signer must match one
	// of each list, beside Policy.SPIFFE.
	spiffeIDs [][]string
	// flags are the flags given whose expectation must apply to the signer
	// (an expectation the signer cannot show fails).
	flags map[string]bool
	// builtin is set on DefaultPolicyWith's policies: errors then say which
	// flag to give, rather than what to write in a policy.
	builtin bool
}

func (n *narrowing) set(flag string) {
	if n.flags == nil {
		n.flags = map[string]bool{}
	}
	n.flags[flag] = true
}

// DefaultPolicyWith returns DefaultPolicy with the flags applied. On the
// built-in policy, the flags that name a builder trust it, since the
// verifying user named it:
//
//   - BuilderID "ID@REF" trusts the builder ID at REF, and "ID" trusts it at
//     release tags refs/tags/vX.Y.Z only, up to level 3, for every build type
//     whose builder id the certificate binds (not the npm CLI's or GitHub's
//     first build type, whose builder id is the runner);
//   - SignerWorkflow "OWNER/REPO/PATH" requires that workflow to have
//     signed, at any ref (as gh does), and trusts it for level 3 at release
//     tags, or at REF when written "OWNER/REPO/PATH@REF";
//   - an exact SPIFFE ID in SPIFFEIDs trusts that signer up to level 3;
//   - CertOIDCIssuer replaces the issuer the built-in policy trusts.
//
// Every other flag narrows. Contradictory flags are errors.
func DefaultPolicyWith(f Flags) (*Policy, error) {
	p := DefaultPolicy()
	p.narrowed.builtin = true
	if err := f.validate(); err != nil {
		return nil, err
	}
	var named []TrustedBuilder
	if f.BuilderID != "" {
		b, err := builderFromID(f.BuilderID)
		if err != nil {
			return nil, err
		}
		named = append(named, b)
	}
	if f.SignerWorkflow != "" {
		b, err := builderFromSignerWorkflow(f.SignerWorkflow)
		if err != nil {
			return nil, err
		}
		named = append(named, b)
	}
	for _, id := range f.SPIFFEIDs {
		if parsed, err := spiffeid.FromString(id); err == nil && parsed.Path() != "" {
			named = append(named, TrustedBuilder{Name: "--spiffe-id " + id, Signer: id, MaxLevel: 3})
		}
	}
	p.Builders = append(named, p.Builders...)
	if f.CertOIDCIssuer != "" {
		p.Issuers = []string{f.CertOIDCIssuer}
		p.narrowed.set(flagCertOIDCIssuer)
	}
	if len(f.SPIFFEIDs) > 0 {
		p.SPIFFE = &SPIFFEPolicy{IDs: f.SPIFFEIDs}
		p.narrowed.set(flagSPIFFEID)
	}
	if err := p.narrow(f); err != nil {
		return nil, err
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	return p, nil
}

// Narrow applies flags to a policy the verifying user wrote: every flag
// narrows what the policy accepts and none adds trust. A flag that
// contradicts the policy (another source, an issuer the policy does not
// list, another builder id) is an error; identity flags are added to the
// policy's expectations, all of which must hold.
func (p *Policy) Narrow(f Flags) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.CertOIDCIssuer != "" {
		if !slices.Contains(p.Issuers, f.CertOIDCIssuer) {
			return fmt.Errorf("--cert-oidc-issuer %s: the policy does not trust this issuer (it lists %s); add it to the policy's issuers", f.CertOIDCIssuer, strings.Join(p.Issuers, ", "))
		}
		p.Issuers = []string{f.CertOIDCIssuer}
		p.narrowed.set(flagCertOIDCIssuer)
	}
	if len(f.SPIFFEIDs) > 0 {
		p.narrowed.spiffeIDs = append(p.narrowed.spiffeIDs, f.SPIFFEIDs)
		if p.SPIFFE == nil {
			p.SPIFFE = &SPIFFEPolicy{IDs: f.SPIFFEIDs}
		}
		p.narrowed.set(flagSPIFFEID)
	}
	if err := p.narrow(f); err != nil {
		return err
	}
	return p.compile()
}

// narrow applies the flags both policies treat alike.
func (p *Policy) narrow(f Flags) error {
	if f.SignerWorkflow != "" {
		// The workflow must have signed, at any ref as gh has it, or at
		// the ref given.
		wf, ref, err := splitSignerWorkflow(f.SignerWorkflow)
		if err != nil {
			return err
		}
		id := Identity{SignerWorkflow: wf}
		if ref != "" {
			id.BuildSignerURI = "regexp:" + regexp.QuoteMeta("https://"+wf+"@") + refPattern(ref)
		}
		p.narrowed.identities = append(p.narrowed.identities, id)
	}
	same := func(flag, have, want string) (string, error) {
		if want == "" || have == want {
			return have, nil
		}
		if have == "" {
			return want, nil
		}
		return "", fmt.Errorf("%s %s: the policy expects %s; give the policy's value or drop the flag", flag, want, have)
	}
	var err error
	if f.Source != "" && p.Source != "" {
		a, errA := normalizeSource(f.Source)
		b, errB := normalizeSource(p.Source)
		if errA != nil {
			return errA
		}
		if errB == nil && a != b {
			return fmt.Errorf("--source-uri %s: the policy expects %s; give the policy's value or drop the flag", f.Source, p.Source)
		}
	} else if f.Source != "" {
		p.Source = f.Source
	}
	if p.SourceBranch, err = same("--source-branch", p.SourceBranch, f.SourceBranch); err != nil {
		return err
	}
	if p.SourceTag, err = same("--source-tag", p.SourceTag, f.SourceTag); err != nil {
		return err
	}
	if p.SourceVersionedTag, err = same("--source-versioned-tag", p.SourceVersionedTag, f.SourceVersionedTag); err != nil {
		return err
	}
	if p.BuilderID, err = same("--builder-id", p.BuilderID, f.BuilderID); err != nil {
		return err
	}
	if f.SignerRepo != "" {
		repo := strings.TrimPrefix(strings.TrimPrefix(f.SignerRepo, "https://"), "github.com/")
		if strings.Count(repo, "/") != 1 || strings.ContainsAny(repo, "*@") {
			return fmt.Errorf("--signer-repo %q: want OWNER/REPO", f.SignerRepo)
		}
		p.narrowed.identities = append(p.narrowed.identities, Identity{BuildSignerURI: "regexp:" + regexp.QuoteMeta("https://github.com/"+repo+"/") + ".*"})
	}
	if f.Owner != "" {
		if strings.ContainsAny(f.Owner, "/*@") {
			return fmt.Errorf("--owner %q: want the owner's name", f.Owner)
		}
		p.narrowed.identities = append(p.narrowed.identities, Identity{SourceRepositoryOwner: "https://github.com/" + f.Owner})
	}
	if f.CertIdentity != "" {
		if exact := p.Identity.SAN; exact != "" && !strings.HasPrefix(exact, "regexp:") && !strings.HasPrefix(exact, "glob:") && exact != f.CertIdentity {
			return fmt.Errorf("--cert-identity %s: the policy expects identity.san %s; give the policy's value or drop the flag", f.CertIdentity, exact)
		}
		p.narrowed.identities = append(p.narrowed.identities, Identity{SAN: f.CertIdentity})
	}
	if f.CertIdentityRegex != "" {
		// Searched, as gh and cosign do: anchor it with ^ and $.
		p.narrowed.identities = append(p.narrowed.identities, Identity{SAN: "regexp:(?s:.*)(?:" + f.CertIdentityRegex + ")(?s:.*)"})
	}
	if f.DenySelfHostedRunners {
		p.DenySelfHostedRunners = true
	}
	p.MinLevel = max(p.MinLevel, f.MinLevel)
	for _, k := range slices.Sorted(maps.Keys(f.WorkflowInputs)) {
		v := f.WorkflowInputs[k]
		if have, ok := p.WorkflowInputs[k]; ok && have != v {
			return fmt.Errorf("--build-workflow-input %s=%s: the policy expects %s=%s", k, v, k, have)
		}
		if p.WorkflowInputs == nil {
			p.WorkflowInputs = map[string]string{}
		}
		p.WorkflowInputs[k] = v
	}
	return nil
}

func (f Flags) validate() error {
	if f.SourceTag != "" && f.SourceVersionedTag != "" {
		return errors.New("--source-tag and --source-versioned-tag exclude each other: give one")
	}
	if f.CertIdentity != "" && f.CertIdentityRegex != "" {
		return errors.New("--cert-identity and --cert-identity-regex exclude each other: give one")
	}
	if f.MinLevel < 0 || f.MinLevel > 3 {
		return fmt.Errorf("--min-level %d: want 0 to 3", f.MinLevel)
	}
	for k := range f.WorkflowInputs {
		if k == "" {
			return errors.New("--build-workflow-input: an input needs a name: key=value")
		}
	}
	return nil
}

// refPattern is the regexp of the refs a named builder is trusted at: the
// ref given ("v1.2.3" standing also for "refs/tags/v1.2.3"), or release
// tags when none is.
func refPattern(ref string) string {
	if ref == "" {
		return releaseTag
	}
	if strings.HasPrefix(ref, "refs/") {
		return regexp.QuoteMeta(ref)
	}
	return "(?:" + regexp.QuoteMeta(ref) + "|refs/tags/" + regexp.QuoteMeta(ref) + ")"
}

// buildTypesWithBoundBuilder are the build types whose builder id the
// certificate binds to the signing workflow (or, for BYOB, that the
// delegator certificate vouches for), so that naming the builder id names
// the workflow that built. The npm CLI's and GitHub's first build type name
// the runner instead.
var buildTypesWithBoundBuilder = []string{
	BuildTypeGitHubWorkflow, BuildTypeGeneratorGen, BuildTypeGeneratorGo, BuildTypeGeneratorCont, BuildTypeContainerBased,
	// The delegator's certificate vouches for the TRW builder.id names.
	BuildTypeDelegator,
}

// builderFromID is the builder --builder-id names.
func builderFromID(s string) (TrustedBuilder, error) {
	if _, err := compileBuilderID(s); err != nil {
		return TrustedBuilder{}, err
	}
	name, ref, _ := strings.Cut(s, "@")
	return TrustedBuilder{
		Name:       "--builder-id " + s,
		ID:         "regexp:" + regexp.QuoteMeta(name+"@") + refPattern(ref),
		BuildTypes: buildTypesWithBoundBuilder,
		MaxLevel:   3,
	}, nil
}

// splitSignerWorkflow reads gh's --signer-workflow "[host/]OWNER/REPO/PATH"
// with an optional "@REF": it returns "github.com/OWNER/REPO/PATH" (the
// form Identity.SignerWorkflow matches) and the ref.
func splitSignerWorkflow(s string) (wf, ref string, err error) {
	wf, ref, _ = strings.Cut(s, "@")
	wf = strings.TrimPrefix(wf, "https://")
	if !strings.HasPrefix(wf, "github.com/") {
		wf = "github.com/" + wf
	}
	if parts := strings.Split(wf, "/"); len(parts) < 5 || strings.Contains(s, "*") {
		return "", "", fmt.Errorf("--signer-workflow %q: want OWNER/REPO/.github/workflows/FILE[@REF]", s)
	}
	return wf, ref, nil
}

// builderFromSignerWorkflow is the builder --signer-workflow names on the
// built-in policy.
func builderFromSignerWorkflow(s string) (TrustedBuilder, error) {
	wf, ref, err := splitSignerWorkflow(s)
	if err != nil {
		return TrustedBuilder{}, err
	}
	return TrustedBuilder{
		Name:     "--signer-workflow " + s,
		Signer:   "regexp:" + regexp.QuoteMeta("https://"+wf+"@") + refPattern(ref),
		MaxLevel: 3,
	}, nil
}
