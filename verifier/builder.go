package verifier

import (
	"errors"
	"fmt"
	"strings"
)

// The trust rule. A level above what the evidence itself proves is granted
// only by a builder the verifying user named: a Builders entry of their
// policy (the built-in policy's entries are named by Hallmark and trusted
// as slsa-verifier trusts its builders), or, on the built-in policy, a
// builder named with --builder-id, --signer-workflow or an exact
// --spiffe-id (DefaultPolicyWith). The level is the highest MaxLevel of the
// entries that match, capped by the evidence:
//
//	signer                          without a named builder      with one
//	GitHub, GitHub-hosted runner    2 (built-in actions/attest)  entry's level
//	GitHub, self-hosted runner      1                            1
//	another Fulcio identity         untrusted                    entry's level
//	X.509-SVID, SPIFFE keyless      untrusted                    entry's level
//
// An entry trusts a SPIFFE signer only through a Signer pattern that fixes
// the trust domain and the path: the builder id is what the signer wrote.
// Nothing here reads map order: every matching entry is considered.

// checkBuilder finds the trusted builder entries and grants the level.
func (r *run) checkBuilder() error {
	p := r.c.policy
	s := &r.signer
	b := BuilderID{ID: r.st.builderID(), Signer: s.uri(), BuildType: r.st.buildType()}
	r.builder = b
	if p.compiled.expectLoose != nil {
		if err := p.compiled.expectLoose(b); err != nil {
			want := p.BuilderID
			fix := ""
			if !strings.Contains(want, "@") {
				want += " at a release tag refs/tags/vX.Y.Z"
				if name, ref, ok := strings.Cut(b.ID, "@"); ok && name == p.BuilderID {
					fix = "if you trust the builder at that ref, pin it: --builder-id " + p.BuilderID + "@" + ref
				}
			}
			return fail(CheckBuilder, want, b.ID, fmt.Errorf("%w: %w", ErrBuilderMismatch, err)).with(fix)
		}
	}
	best, name := 0, ""
	var chosen compiledBuilder
	var why []error
	for _, tb := range p.compiled.builders {
		if s.kind.spiffe() && !tb.spiffe {
			why = append(why, fmt.Errorf("%s: names no SPIFFE signer", tb.name))
			continue
		}
		if err := tb.match(b); err != nil {
			why = append(why, fmt.Errorf("%s: %w", tb.name, err))
			continue
		}
		if tb.maxLevel > best {
			best, name, chosen = tb.maxLevel, tb.name, tb
		}
	}
	if name == "" {
		return fail(CheckBuilder, "a trusted builder", b.ID+" signed by "+b.Signer, fmt.Errorf("%w: %w", ErrUntrustedBuilder, errors.Join(why...))).
			with(r.nameBuilderFix())
	}
	return r.grantLevel(name, best, chosen)
}

// grantLevel gives the run the level of the builder entry chosen (name,
// trusting up to best): capped at 1 for a self-hosted GitHub runner and by
// the factory's record for a SPIFFE signer, and refused below the policy's
// minimum with what would raise it.
func (r *run) grantLevel(name string, best int, chosen compiledBuilder) error {
	s, p := &r.signer, r.c.policy
	level, capped := best, ""
	if s.kind == signerGitHub && s.cert.RunnerEnvironment == "self-hosted" {
		level = min(level, 1)
	}
	if s.kind.spiffe() {
		level, capped = r.factoryLevel(level)
	}
	if level < p.MinLevel {
		fix := r.raiseLevelFix(level)
		if capped != "" {
			fix = capped
		}
		return fail(CheckBuilder, fmt.Sprintf("level %d", p.MinLevel), fmt.Sprintf("level %d (%s)", level, name), ErrLevelTooLow).with(fix)
	}
	r.trustedName, r.level, r.entry = name, level, chosen
	return nil
}

// nameBuilderFix says how the verifying user names this signer as a
// builder, if they trust it.
func (r *run) nameBuilderFix() string {
	s := &r.signer
	builtin := r.c.policy.narrowed.builtin
	switch {
	case s.kind.spiffe() && builtin:
		return "if you trust this signer as a builder, name its full SPIFFE ID: --spiffe-id " + s.id.String()
	case s.kind.spiffe():
		return "if you trust this signer as a builder, add a builders entry with signer: " + s.id.String()
	case s.kind == signerGitHub && builtin:
		return "if you trust the workflow that signed, name it with its ref: --signer-workflow " + strings.TrimPrefix(s.cert.BuildSignerURI, "https://github.com/")
	}
	return "if you trust this builder, add a builders entry for it to the policy"
}

// raiseLevelFix says what would raise the level, where something would.
func (r *run) raiseLevelFix(level int) string {
	s := &r.signer
	switch {
	case s.kind == signerGitHub && s.cert.RunnerEnvironment == "self-hosted":
		return "a self-hosted runner proves level 1 only"
	case s.kind == signerGitHub && level == 2 && r.c.policy.narrowed.builtin:
		return "level 3 needs the reusable workflow that signed named, if you trust it: --signer-workflow " + strings.TrimPrefix(s.cert.BuildSignerURI, "https://github.com/")
	}
	return "the trusted builder entry grants no more"
}
