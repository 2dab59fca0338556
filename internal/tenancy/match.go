package tenancy

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/labels"
)

// Source is a git repository, normalized so that the spellings a run may
// use ("https://github.com/a/b", "git+https://github.com/a/b.git") are one.
type Source struct {
	// URI is written as Tekton Chains writes git dependencies:
	// git+https://HOST/PATH.git.
	URI string
	// Repo is HOST/PATH, the form policies and --source-uri use.
	Repo string
}

// String is the repository as HOST/PATH.
func (s Source) String() string { return s.Repo }

// ErrSourceURL: a source URL Hallmark cannot read as an https git
// repository.
var ErrSourceURL = errors.New("not an https git repository URL")

// ParseSource reads an https git repository URL, with or without "git+",
// ".git" and a trailing slash. A scheme-less "HOST/PATH" is read as https.
// URLs carrying credentials, a query, a fragment, or any other scheme are
// refused; the error never repeats credentials.
func ParseSource(s string) (Source, error) {
	raw := strings.TrimPrefix(strings.TrimSpace(s), "git+")
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("%w: %v", ErrSourceURL, redactErr(err))
	}
	switch {
	case u.User != nil:
		return Source{}, fmt.Errorf("%w: it carries credentials", ErrSourceURL)
	case u.Scheme != "https":
		return Source{}, fmt.Errorf("%w: scheme %q", ErrSourceURL, u.Scheme)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return Source{}, fmt.Errorf("%w: %q has a query or fragment", ErrSourceURL, short(s))
	case u.Host == "" || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return Source{}, fmt.Errorf("%w: %q", ErrSourceURL, short(s))
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git")
	if strings.Contains(u.EscapedPath(), "%") || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return Source{}, fmt.Errorf("%w: %q has escaped or control characters in its path", ErrSourceURL, short(s))
	}
	if p == "" || p == "/" || path.Clean(p) != p || strings.Contains(p, "//") {
		return Source{}, fmt.Errorf("%w: %q has no clean repository path", ErrSourceURL, short(s))
	}
	repo := strings.ToLower(u.Host) + p
	return Source{URI: "git+https://" + repo + ".git", Repo: repo}, nil
}

// redactErr keeps url.Parse's complaint but not the URL, which may hold a
// token.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// sourcePattern is a Tenant.Sources entry: a repository, or every
// repository below a prefix.
type sourcePattern struct {
	repo   string // HOST/PATH, lowercase for comparison
	prefix bool
}

func parsePattern(s string) (sourcePattern, error) {
	base, prefix := strings.CutSuffix(s, "/*")
	if strings.Contains(base, "*") {
		return sourcePattern{}, fmt.Errorf("source %q: a * may only end the pattern, as HOST/OWNER/*", s)
	}
	src, err := ParseSource(base)
	if err != nil {
		return sourcePattern{}, fmt.Errorf("source %q: %v", s, err)
	}
	if !prefix && !strings.Contains(strings.TrimPrefix(src.Repo[strings.IndexByte(src.Repo, '/'):], "/"), "/") {
		return sourcePattern{}, fmt.Errorf("source %q: want HOST/OWNER/REPO or HOST/OWNER/*", s)
	}
	return sourcePattern{repo: strings.ToLower(src.Repo), prefix: prefix}, nil
}

// match compares case-insensitively: the hosts that matter (GitHub,
// GitLab, Gitea) name one repository by every casing of its path.
func (sp sourcePattern) match(s Source) bool {
	r := strings.ToLower(s.Repo)
	if sp.prefix {
		return strings.HasPrefix(r, sp.repo+"/")
	}
	return r == sp.repo
}

// MayClaim reports whether the tenant's runs may claim s as their source.
func (t *Tenant) MayClaim(s Source) bool {
	for _, sp := range t.sources {
		if sp.match(s) {
			return true
		}
	}
	return false
}

// Level is the tenant's MaxLevel; UnverifiedLevel and UntrustedLevel its
// caps (defaults applied by Parse).
func (t *Tenant) Level() int           { return *t.MaxLevel }
func (t *Tenant) UnverifiedLevel() int { return *t.UnverifiedSourceLevel }
func (t *Tenant) UntrustedLevel() int  { return *t.UntrustedDefinitionLevel }

// Refuses reports whether a forbidden claim refuses the run (rather than
// signing it unverified).
func (t *Tenant) Refuses() bool { return t.ForbiddenSource != ForbiddenSignUnverified }

// NeedsLabels reports whether finding a namespace's tenant needs the
// namespace's labels.
func (p *Policy) NeedsLabels() bool {
	for _, t := range p.Tenants {
		if t.selector != nil {
			return true
		}
	}
	return false
}

// Tenant returns the first tenant that matches the namespace (by name, or
// by its labels), or an error wrapping ErrNoTenant.
func (p *Policy) Tenant(namespace string, nsLabels map[string]string) (*Tenant, error) {
	for i := range p.Tenants {
		t := &p.Tenants[i]
		if t.selector != nil {
			if t.selector.Matches(labels.Set(nsLabels)) {
				return t, nil
			}
			continue
		}
		for _, ns := range t.Namespaces {
			if prefix, ok := strings.CutSuffix(ns, "*"); ok && strings.HasPrefix(namespace, prefix) || ns == namespace {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: namespace %s is in no tenant of tenancy policy %s", ErrNoTenant, namespace, p.name)
}

// Definition is where a Task, Pipeline or StepAction definition came from,
// as Tekton recorded it (a run's status.provenance.refSource). URI is empty
// for a definition read from the run's own namespace or written inline.
type Definition struct {
	// Kind is "Task", "Pipeline" or "StepAction".
	Kind       string
	URI        string
	Digest     map[string]string
	EntryPoint string
}

// Trust returns the name of the trusted source the definition came from,
// for tenant t; ok is false when it came from none. A definition counts
// only with the digest its resolver pins: sha256 for a bundle or a cluster
// object, a 40-digit sha1 commit for git.
func (p *Policy) Trust(t *Tenant, d Definition) (source string, ok bool) {
	for i := range p.DefinitionSources {
		s := &p.DefinitionSources[i]
		if t.trusted != nil && !t.trusted[s.Name] {
			continue
		}
		if s.matches(d) {
			return s.Name, true
		}
	}
	return "", false
}

// Fetcher returns the source fetcher the definition is, for tenant t.
func (p *Policy) Fetcher(t *Tenant, d Definition) (*SourceFetcher, bool) {
	if d.Kind != "Task" {
		return nil, false
	}
	src, ok := p.Trust(t, d)
	if !ok {
		return nil, false
	}
	entry := entryOf(d)
	for i := range p.SourceFetchers {
		f := &p.SourceFetchers[i]
		if f.DefinitionSource != src {
			continue
		}
		if m, _ := path.Match(f.EntryPoint, entry); m {
			return f, true
		}
	}
	return nil, false
}

func (s *DefinitionSource) matches(d Definition) bool {
	if d.URI == "" {
		return false
	}
	switch {
	case s.repo != "":
		if strings.HasPrefix(d.URI, "git+") || strings.HasPrefix(d.URI, "/") || strings.Contains(d.URI, "://") || !isHex(d.Digest["sha256"], 64) {
			return false
		}
		ref, err := name.ParseReference(d.URI)
		if err != nil || ref.Context().Name() != s.repo {
			return false
		}
	case s.git.Repo != "":
		if !strings.HasPrefix(d.URI, "git+") || !isHex(d.Digest["sha1"], 40) {
			return false
		}
		g, err := ParseSource(d.URI)
		if err != nil || !strings.EqualFold(g.Repo, s.git.Repo) {
			return false
		}
	default:
		ns, _, ok := clusterObject(d.URI)
		if !ok || ns != s.ClusterNamespace || !isHex(d.Digest["sha256"], 64) {
			return false
		}
	}
	if len(s.EntryPoints) == 0 {
		return true
	}
	entry := entryOf(d)
	for _, e := range s.EntryPoints {
		if m, _ := path.Match(e, entry); m {
			return true
		}
	}
	return false
}

// entryOf is the definition's entry: Tekton's entryPoint, or the object
// name of a cluster-resolved one.
func entryOf(d Definition) string {
	if _, n, ok := clusterObject(d.URI); ok {
		return n
	}
	return d.EntryPoint
}

// clusterObject reads the cluster resolver's identifier,
// /apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME@UID.
func clusterObject(uri string) (namespace, objName string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(uri, "/apis/"), "/")
	if !strings.HasPrefix(uri, "/apis/") || len(parts) != 6 || parts[2] != "namespaces" || parts[3] == "" {
		return "", "", false
	}
	n, _, _ := strings.Cut(parts[5], "@")
	return parts[3], n, n != ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
