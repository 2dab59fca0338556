package verifier

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"

	"golang.org/x/mod/semver"
)

// Pattern matches a string. Policies write patterns in one of three forms:
//
//   - "glob:EXPR": a glob, anchored at both ends. "*" matches any run of
//     characters except "/", "**" any run including "/", "?" one character
//     except "/", and "{a,b,c}" one of the comma-separated alternatives
//     (not nested). Every other character matches itself.
//   - "regexp:EXPR": a Go regular expression (RE2), anchored at both ends
//     whether or not it says so.
//   - anything else: the exact string.
type Pattern struct {
	src string
	re  *lazyRegexp // nil for an exact pattern
}

// ParsePattern compiles a pattern written as described on Pattern. The
// expression is checked here; the matcher is built when the pattern is
// first matched, so a policy of many patterns costs a process only those it
// uses.
func ParsePattern(s string) (Pattern, error) {
	var expr string
	switch {
	case strings.HasPrefix(s, "glob:"):
		e, err := globToRegexp(strings.TrimPrefix(s, "glob:"))
		if err != nil {
			return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
		}
		expr = e
	case strings.HasPrefix(s, "regexp:"):
		expr = `^(?:` + strings.TrimPrefix(s, "regexp:") + `)$`
	default:
		return Pattern{src: s}, nil
	}
	// regexp.Compile parses as syntax.Parse does with Perl flags; what
	// parses compiles.
	if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
	}
	return Pattern{src: s, re: &lazyRegexp{expr: expr}}, nil
}

// lazyRegexp is a regular expression compiled on first use.
type lazyRegexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// matchString reports whether s matches; an expression that does not
// compile (ParsePattern has parsed it, so none should) matches nothing.
func (l *lazyRegexp) matchString(s string) bool {
	l.once.Do(func() {
		l.re, _ = regexp.Compile(l.expr)
	})
	return l.re != nil && l.re.MatchString(s)
}

// MustParsePattern is ParsePattern for constants; it panics on error.
func MustParsePattern(s string) Pattern {
	p, err := ParsePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether s matches.
func (p Pattern) Match(s string) bool {
	if p.re == nil {
		return s == p.src
	}
	return p.re.matchString(s)
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.src }

// literalPrefix is a prefix every string the pattern matches starts with.
func (p Pattern) literalPrefix() string {
	switch {
	case strings.HasPrefix(p.src, "glob:"):
		g := strings.TrimPrefix(p.src, "glob:")
		if i := strings.IndexAny(g, "*?{}"); i >= 0 {
			return g[:i]
		}
		return g
	case strings.HasPrefix(p.src, "regexp:"):
		re, err := syntax.Parse(`^(?:`+strings.TrimPrefix(p.src, "regexp:")+`)$`, syntax.Perl)
		if err != nil {
			return ""
		}
		var b strings.Builder
		literalRun(re.Simplify(), &b)
		return b.String()
	}
	return p.src
}

// literalRun writes the literal text re starts with and reports whether
// all of re was literal.
func literalRun(re *syntax.Regexp, b *strings.Builder) bool {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return false
		}
		b.WriteString(string(re.Rune))
		return true
	case syntax.OpCapture:
		return literalRun(re.Sub[0], b)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !literalRun(sub, b) {
				return false
			}
		}
		return true
	case syntax.OpBeginText, syntax.OpEmptyMatch:
		return true
	}
	return false
}

// globToRegexp returns the regular expression a glob stands for.
func globToRegexp(g string) (string, error) {
	var b strings.Builder
	b.WriteString("^")
	inAlt := false
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '{' && !inAlt:
			inAlt = true
			b.WriteString("(?:")
		case c == '}' && inAlt:
			inAlt = false
			b.WriteString(")")
		case c == ',' && inAlt:
			b.WriteString("|")
		case c == '{' || c == '}':
			return "", fmt.Errorf("unbalanced or nested braces")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if inAlt {
		return "", fmt.Errorf("unclosed brace")
	}
	b.WriteString("$")
	return b.String(), nil
}

// BuilderID is what a build's provenance and certificate say about who
// built it. All fields come from verified evidence.
type BuilderID struct {
	// ID is the provenance's runDetails.builder.id (v1) or builder.id (v0.2).
	ID string
	// Signer is the certificate's build signer URI, the workflow that held
	// the signing identity (for GitHub, https://github.com/ + job_workflow_ref).
	Signer string
	// BuildType is the provenance's build type.
	BuildType string
}

// BuilderMatcher accepts or rejects a builder with an error saying why.
type BuilderMatcher func(BuilderID) error

// MatchBuilderID returns a matcher that accepts a builder whose ID matches p.
func MatchBuilderID(p Pattern) BuilderMatcher {
	return func(b BuilderID) error {
		if !p.Match(b.ID) {
			return fmt.Errorf("builder.id %q does not match %s", b.ID, p)
		}
		return nil
	}
}

// MatchSigner returns a matcher that accepts a builder whose certificate's
// build signer URI matches p.
func MatchSigner(p Pattern) BuilderMatcher {
	return func(b BuilderID) error {
		if !p.Match(b.Signer) {
			return fmt.Errorf("signer %q does not match %s", b.Signer, p)
		}
		return nil
	}
}

// MatchBuildType returns a matcher that accepts a builder whose provenance
// has one of the given build types.
func MatchBuildType(types ...string) BuilderMatcher {
	return func(b BuilderID) error {
		for _, t := range types {
			if b.BuildType == t {
				return nil
			}
		}
		return fmt.Errorf("buildType %q not in %v", b.BuildType, types)
	}
}

// MatchAll returns a matcher that accepts a builder all ms accept.
func MatchAll(ms ...BuilderMatcher) BuilderMatcher {
	return func(b BuilderID) error {
		for _, m := range ms {
			if err := m(b); err != nil {
				return err
			}
		}
		return nil
	}
}

// MatchLoose returns slsa-verifier's --builder-id matcher: expected is "ID"
// or "ID@REF"; the builder's ID must equal ID, and its ref must equal REF,
// "v1.2.3" standing also for "refs/tags/v1.2.3". Without a ref, the
// builder's ref must be a release tag refs/tags/vX.Y.Z (three numbers, no
// pre-release or build suffix), as for slsa-verifier's trusted builders: a
// builder named without a ref is never trusted at a branch anyone can push.
func MatchLoose(expected string) BuilderMatcher {
	wantName, wantRef, hasRef := strings.Cut(expected, "@")
	return func(b BuilderID) error {
		if hasRef && wantRef == "" {
			return fmt.Errorf("expected builder id %q has an empty ref", expected)
		}
		name, ref, _ := strings.Cut(b.ID, "@")
		if name != wantName {
			return fmt.Errorf("builder %q is not %q", name, wantName)
		}
		if !hasRef {
			if !isReleaseTag(ref) {
				return fmt.Errorf("builder ref %q is not a release tag refs/tags/vX.Y.Z", ref)
			}
			return nil
		}
		if ref != wantRef && ref != "refs/tags/"+wantRef {
			return fmt.Errorf("builder ref %q is not %q", ref, wantRef)
		}
		return nil
	}
}

// releaseTagRE matches refs/tags/vX.Y.Z without pre-release or build
// suffix and without leading zeros.
var releaseTagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + releaseTag + `$`) })

func isReleaseTag(ref string) bool { return releaseTagRE().MatchString(ref) }

// matchVersionedTag reports whether tag matches the semantic version prefix
// expected as slsa-verifier's --source-versioned-tag does: the major must be
// equal; the minor and the patch too when expected gives them. A build
// suffix of either is ignored. A pre-release is a version of its own: tag
// v1.2.3-rc.1 matches only an expected v1.2.3-rc.1, and an expected version
// without a pre-release (v1, v1.2, v1.2.3) matches no pre-release tag.
func matchVersionedTag(tag, expected string) error {
	if !semver.IsValid(expected) {
		return fmt.Errorf("expected %q is not a semantic version", expected)
	}
	canon := semver.Canonical(tag)
	if !semver.IsValid(canon) {
		return fmt.Errorf("tag %q is not a semantic version", tag)
	}
	if semver.Major(expected) != semver.Major(canon) {
		return fmt.Errorf("major of %q differs from %q", tag, expected)
	}
	if pre := semver.Prerelease(expected); pre != "" {
		if semver.Compare(canon, expected) != 0 {
			return fmt.Errorf("%q is not the pre-release %q", tag, expected)
		}
		return nil
	}
	if semver.Prerelease(canon) != "" {
		return fmt.Errorf("%q is a pre-release; %q names releases only", tag, expected)
	}
	want := strings.Split(strings.TrimSuffix(expected, semver.Build(expected)), ".")
	got := strings.Split(strings.TrimSuffix(canon, semver.Build(canon)), ".")
	for i := 1; i < len(want) && i < 3; i++ {
		if want[i] != got[i] {
			return fmt.Errorf("%q differs from %q", tag, expected)
		}
	}
	return nil
}
