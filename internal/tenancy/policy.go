package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Identifiers of the policy document.
const (
	APIVersion = "factory.hallmark.dev/v1alpha1"
	Kind       = "TenancyPolicy"
)

// Values of Tenant.ForbiddenSource: what the controller does with a run
// that claims a source its namespace may not claim.
const (
	// ForbiddenRefuse signs nothing: the run gets an Event and an
	// annotation saying why. The default.
	ForbiddenRefuse = "refuse"
	// ForbiddenSignUnverified signs the run with the claim marked
	// unverified and the level capped at UnverifiedSourceLevel.
	ForbiddenSignUnverified = "sign-unverified"
)

// Defaults of a SourceFetcher's result names: those of the Tekton
// catalog's git-clone Task.
const (
	DefaultURLResult    = "url"
	DefaultCommitResult = "commit"
)

// MaxPolicySize bounds the policy document (a ConfigMap holds at most 1 MiB).
const MaxPolicySize = 1 << 20

// defaultLowerLevel is the level for unverified source and for untrusted
// definitions when a tenant does not say: provenance exists and is signed
// by the platform, nothing more.
const defaultLowerLevel = 1

var (
	// ErrInvalidPolicy is wrapped by every error of Parse.
	ErrInvalidPolicy = errors.New("invalid tenancy policy")
	// ErrNoTenant: a namespace matches no tenant of the policy, so its runs
	// are not signed.
	ErrNoTenant = errors.New("namespace matches no tenant")
)

// Policy is a parsed, checked tenancy policy. Its exported fields are the
// document's; use [Parse] to get one.
type Policy struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// DefinitionSources are the places Task, Pipeline and StepAction
	// definitions may come from to count as trusted.
	DefinitionSources []DefinitionSource `json:"definitionSources,omitempty"`
	// SourceFetchers are trusted Tasks whose results name the source they
	// fetched: the only way a source claim becomes verified.
	SourceFetchers []SourceFetcher `json:"sourceFetchers,omitempty"`
	// Tenants say, per namespace, what its runs may claim. The first
	// tenant that matches a namespace is its tenant.
	Tenants []Tenant `json:"tenants"`

	name, digest string
	sources      map[string]*DefinitionSource
}

// DefinitionSource is one trusted place of definitions. Exactly one of
// Bundle, Git and ClusterNamespace is set.
type DefinitionSource struct {
	// Name is how tenants and fetchers refer to it.
	Name string `json:"name"`
	// Bundle is an OCI repository of Tekton bundles, such as
	// registry.example.com/tekton/catalog (bundles resolver). Any digest
	// of it; the digest that ran is recorded.
	Bundle string `json:"bundle,omitempty"`
	// Git is a repository URL (git resolver), such as
	// https://github.com/acme/platform-tasks. Any commit; the commit that
	// ran is recorded.
	Git string `json:"git,omitempty"`
	// ClusterNamespace is a namespace whose definitions the cluster
	// resolver reads; only the platform may write there.
	ClusterNamespace string `json:"clusterNamespace,omitempty"`
	// EntryPoints, when set, narrow the source to these entries (globs
	// as path.Match reads them): a bundle's entry names, a git
	// repository's file paths, a namespace's object names.
	EntryPoints []string `json:"entryPoints,omitempty"`

	repo string // Bundle as a normalized repository name
	git  Source
}

// SourceFetcher is a trusted Task that fetches source and writes what it
// fetched to two results, as the catalog's git-clone does.
type SourceFetcher struct {
	// DefinitionSource names the trusted source the Task must come from.
	DefinitionSource string `json:"definitionSource"`
	// EntryPoint is the Task's entry in that source (a glob): its name in
	// a bundle or namespace, its file path in a git repository.
	EntryPoint string `json:"entryPoint"`
	// URLResult and CommitResult name the results holding the repository
	// URL and the 40-digit commit; "url" and "commit" when empty.
	URLResult    string `json:"urlResult,omitempty"`
	CommitResult string `json:"commitResult,omitempty"`
}

// Tenant is what the runs of some namespaces may claim. Exactly one of
// Namespaces and NamespaceSelector is set.
type Tenant struct {
	// Name names the tenant in reasons and events.
	Name string `json:"name"`
	// Namespaces are namespace names, or prefixes ending in "*"
	// ("team-a-*").
	Namespaces []string `json:"namespaces,omitempty"`
	// NamespaceSelector selects namespaces by their labels; only the
	// platform may label namespaces for it to mean anything.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Sources are the repositories the tenant's runs may claim:
	// "host/owner/repo", or "host/owner/*" for all below a prefix.
	Sources []string `json:"sources,omitempty"`
	// DefinitionSources name the trusted definition sources for this
	// tenant; all of the policy's when empty.
	DefinitionSources []string `json:"definitionSources,omitempty"`
	// MaxLevel is the highest SLSA build level (0-3) the controller may
	// vouch for. Required.
	MaxLevel *int `json:"maxLevel"`
	// UnverifiedSourceLevel caps a run whose source claim is not verified
	// (1 when unset, never above MaxLevel).
	UnverifiedSourceLevel *int `json:"unverifiedSourceLevel,omitempty"`
	// UntrustedDefinitionLevel caps a run that used a definition from no
	// trusted source (1 when unset, never above MaxLevel).
	UntrustedDefinitionLevel *int `json:"untrustedDefinitionLevel,omitempty"`
	// ForbiddenSource is "refuse" (the default) or "sign-unverified".
	ForbiddenSource string `json:"forbiddenSource,omitempty"`
	// SBOM lists the SBOM formats ("spdx", "cyclonedx") the controller
	// makes of each image the tenant's runs build, reading the image from
	// its registry, and signs beside the provenance, under the same
	// identity, stored where the provenance is. None when empty.
	SBOM []string `json:"sbom,omitempty"`

	selector labels.Selector
	sources  []sourcePattern
	trusted  map[string]bool // nil: every source
}

// Parse reads and checks a policy document. name says where it was read
// (such as "hallmark-system/hallmark-tenancy"); it and the document's
// SHA-256 are recorded in every statement signed under the policy.
func Parse(name string, data []byte) (*Policy, error) {
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidPolicy, len(data), MaxPolicySize)
	}
	p := &Policy{}
	if err := yaml.UnmarshalStrict(data, p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	sum := sha256.Sum256(data)
	p.name, p.digest = name, hex.EncodeToString(sum[:])
	return p, nil
}

// Name is where the policy was read, as given to Parse.
func (p *Policy) Name() string { return p.name }

// Digest is the lowercase hex SHA-256 of the document as read.
func (p *Policy) Digest() string { return p.digest }

func (p *Policy) check() error {
	if p.APIVersion != APIVersion || p.Kind != Kind {
		return fmt.Errorf("apiVersion %q kind %q: want %s %s", p.APIVersion, p.Kind, APIVersion, Kind)
	}
	p.sources = map[string]*DefinitionSource{}
	for i := range p.DefinitionSources {
		d := &p.DefinitionSources[i]
		if err := d.check(); err != nil {
			return fmt.Errorf("definitionSources[%d]: %v", i, err)
		}
		if p.sources[d.Name] != nil {
			return fmt.Errorf("definitionSources[%d]: name %q is used twice", i, d.Name)
		}
		p.sources[d.Name] = d
	}
	for i := range p.SourceFetchers {
		f := &p.SourceFetchers[i]
		if p.sources[f.DefinitionSource] == nil {
			return fmt.Errorf("sourceFetchers[%d]: definitionSource %q is not among definitionSources", i, f.DefinitionSource)
		}
		if f.EntryPoint == "" {
			return fmt.Errorf("sourceFetchers[%d]: no entryPoint", i)
		}
		if _, err := path.Match(f.EntryPoint, ""); err != nil {
			return fmt.Errorf("sourceFetchers[%d]: entryPoint %q: %v", i, f.EntryPoint, err)
		}
		if f.URLResult == "" {
			f.URLResult = DefaultURLResult
		}
		if f.CommitResult == "" {
			f.CommitResult = DefaultCommitResult
		}
		if f.URLResult == f.CommitResult {
			return fmt.Errorf("sourceFetchers[%d]: urlResult and commitResult are both %q", i, f.URLResult)
		}
	}
	if len(p.Tenants) == 0 {
		return errors.New("no tenants")
	}
	names := map[string]bool{}
	for i := range p.Tenants {
		t := &p.Tenants[i]
		if err := t.check(p.sources); err != nil {
			return fmt.Errorf("tenants[%d] (%s): %v", i, t.Name, err)
		}
		if names[t.Name] {
			return fmt.Errorf("tenants[%d]: name %q is used twice", i, t.Name)
		}
		names[t.Name] = true
	}
	return nil
}

func (d *DefinitionSource) check() error {
	if d.Name == "" {
		return errors.New("no name")
	}
	set := 0
	for _, v := range []string{d.Bundle, d.Git, d.ClusterNamespace} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%s: want exactly one of bundle, git and clusterNamespace", d.Name)
	}
	switch {
	case d.Bundle != "":
		repo, err := name.NewRepository(d.Bundle)
		if err != nil {
			return fmt.Errorf("%s: bundle %q: %v", d.Name, d.Bundle, err)
		}
		d.repo = repo.Name()
	case d.Git != "":
		s, err := ParseSource(d.Git)
		if err != nil {
			return fmt.Errorf("%s: git: %v", d.Name, err)
		}
		d.git = s
	default:
		if errs := validation.IsDNS1123Label(d.ClusterNamespace); len(errs) > 0 {
			return fmt.Errorf("%s: clusterNamespace %q: %s", d.Name, d.ClusterNamespace, strings.Join(errs, "; "))
		}
	}
	for _, e := range d.EntryPoints {
		if _, err := path.Match(e, ""); err != nil || e == "" {
			return fmt.Errorf("%s: entryPoint %q is not a glob", d.Name, e)
		}
	}
	return nil
}

func (t *Tenant) check(sources map[string]*DefinitionSource) error {
	if t.Name == "" {
		return errors.New("no name")
	}
	if (len(t.Namespaces) > 0) == (t.NamespaceSelector != nil) {
		return errors.New("want exactly one of namespaces and namespaceSelector")
	}
	for _, ns := range t.Namespaces {
		if errs := validation.IsDNS1123Label(strings.TrimSuffix(ns, "*") + "x"); len(errs) > 0 || strings.Count(ns, "*") > 1 || strings.Contains(strings.TrimSuffix(ns, "*"), "*") {
			return fmt.Errorf("namespace %q: want a namespace name or a prefix ending in *", ns)
		}
	}
	if t.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			return fmt.Errorf("namespaceSelector: %v", err)
		}
		t.selector = sel
	}
	for _, s := range t.Sources {
		sp, err := parsePattern(s)
		if err != nil {
			return err
		}
		t.sources = append(t.sources, sp)
	}
	if len(t.DefinitionSources) > 0 {
		t.trusted = map[string]bool{}
		for _, n := range t.DefinitionSources {
			if sources[n] == nil {
				return fmt.Errorf("definitionSources: %q is not among the policy's definitionSources", n)
			}
			t.trusted[n] = true
		}
	}
	if t.MaxLevel == nil {
		return errors.New("no maxLevel")
	}
	if *t.MaxLevel < 0 || *t.MaxLevel > 3 {
		return fmt.Errorf("maxLevel %d: want 0 to 3", *t.MaxLevel)
	}
	for _, l := range []struct {
		name string
		v    **int
	}{{"unverifiedSourceLevel", &t.UnverifiedSourceLevel}, {"untrustedDefinitionLevel", &t.UntrustedDefinitionLevel}} {
		if *l.v == nil {
			v := min(defaultLowerLevel, *t.MaxLevel)
			*l.v = &v
			continue
		}
		if n := **l.v; n < 0 || n > *t.MaxLevel {
			return fmt.Errorf("%s %d: want 0 to maxLevel %d", l.name, n, *t.MaxLevel)
		}
	}
	switch t.ForbiddenSource {
	case "":
		t.ForbiddenSource = ForbiddenRefuse
	case ForbiddenRefuse, ForbiddenSignUnverified:
	default:
		return fmt.Errorf("forbiddenSource %q: want %s or %s", t.ForbiddenSource, ForbiddenRefuse, ForbiddenSignUnverified)
	}
	for i, f := range t.SBOM {
		if f != "spdx" && f != "cyclonedx" {
			return fmt.Errorf("sbom[%d] %q: want spdx or cyclonedx", i, f)
		}
		if slices.Contains(t.SBOM[:i], f) {
			return fmt.Errorf("sbom[%d]: %s twice", i, f)
		}
	}
	return nil
}
