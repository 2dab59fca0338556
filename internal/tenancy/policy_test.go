package tenancy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

const header = "apiVersion: factory.hallmark.dev/v1alpha1\nkind: TenancyPolicy\n"

const example = header + `definitionSources:
  - name: catalog
    bundle: registry.example.com/tekton/catalog
  - name: platform
    git: https://github.com/acme/platform-tasks.git
    entryPoints: ["tasks/*"]
  - name: shared
    clusterNamespace: tekton-platform
sourceFetchers:
  - definitionSource: catalog
    entryPoint: git-clone
tenants:
  - name: team-a
    namespaces: [team-a, "team-a-*"]
    sources: ["github.com/team-a/*", "github.com/acme/shared-lib"]
    definitionSources: [catalog]
    maxLevel: 3
    untrustedDefinitionLevel: 2
  - name: labelled
    namespaceSelector: {matchLabels: {hallmark.dev/tenant: labelled}}
    sources: ["gitlab.example.com/group/sub/*"]
    maxLevel: 2
    forbiddenSource: sign-unverified
`

func mustParse(t *testing.T, doc string) *tenancy.Policy {
	t.Helper()
	p, err := tenancy.Parse("hallmark-system/hallmark-tenancy", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseRejects(t *testing.T) {
	tenant := "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 3\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"no-header", "tenants: []\n", "apiVersion"},
		{"unknown-field", header + tenant + "extra: 1\n", "unknown field"},
		{"no-tenants", header, "no tenants"},
		{"no-max-level", header + "tenants:\n  - name: a\n    namespaces: [a]\n", "no maxLevel"},
		{"level-too-high", header + "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 4\n", "maxLevel 4"},
		{"cap-above-max", header + "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 2\n    unverifiedSourceLevel: 3\n", "unverifiedSourceLevel 3"},
		{"both-selectors", header + "tenants:\n  - name: a\n    namespaces: [a]\n    namespaceSelector: {}\n    maxLevel: 1\n", "exactly one of namespaces"},
		{"bad-namespace", header + "tenants:\n  - name: a\n    namespaces: [\"a*b\"]\n    maxLevel: 1\n", "namespace \"a*b\""},
		{"host-wide-source", header + "tenants:\n  - name: a\n    namespaces: [a]\n    sources: [\"github.com/*\"]\n    maxLevel: 1\n", "source \"github.com/*\""},
		{"owner-only-source", header + "tenants:\n  - name: a\n    namespaces: [a]\n    sources: [\"github.com/acme\"]\n    maxLevel: 1\n", "HOST/OWNER/REPO"},
		{"http-source", header + "tenants:\n  - name: a\n    namespaces: [a]\n    sources: [\"http://github.com/acme/app\"]\n    maxLevel: 1\n", "scheme"},
		{"dangling-definition-source", header + "tenants:\n  - name: a\n    namespaces: [a]\n    definitionSources: [nope]\n    maxLevel: 1\n", "\"nope\""},
		{"dangling-fetcher", header + "sourceFetchers:\n  - definitionSource: nope\n    entryPoint: git-clone\n" + tenant, "\"nope\""},
		{"two-kinds", header + "definitionSources:\n  - name: x\n    bundle: r.example/x\n    git: https://github.com/a/b\n" + tenant, "exactly one of bundle"},
		{"duplicate-tenant", header + tenant + "  - name: a\n    namespaces: [b]\n    maxLevel: 1\n", "used twice"},
		{"forbidden-mode", header + "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 1\n    forbiddenSource: ignore\n", "forbiddenSource"},
		{"sbom-format", header + "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 1\n    sbom: [spdx-tag-value]\n", "sbom[0] \"spdx-tag-value\": want spdx or cyclonedx"},
		{"sbom-twice", header + "tenants:\n  - name: a\n    namespaces: [a]\n    maxLevel: 1\n    sbom: [spdx, spdx]\n", "sbom[1]: spdx twice"},
		{"same-results", header + "definitionSources:\n  - name: x\n    bundle: r.example/x\nsourceFetchers:\n  - definitionSource: x\n    entryPoint: c\n    urlResult: commit\n" + tenant, "both \"commit\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tenancy.Parse("p", []byte(tc.doc))
			if !errors.Is(err, tenancy.ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %v with %q", err, tenancy.ErrInvalidPolicy, tc.want)
			}
		})
	}
}

func TestTenantOf(t *testing.T) {
	p := mustParse(t, example)
	if !p.NeedsLabels() {
		t.Error("a selector needs labels")
	}
	for _, tc := range []struct {
		ns     string
		labels map[string]string
		want   string
	}{
		{"team-a", nil, "team-a"},
		{"team-a-dev", nil, "team-a"},
		{"team-ab", nil, ""},
		{"x", map[string]string{"hallmark.dev/tenant": "labelled"}, "labelled"},
		{"x", map[string]string{"hallmark.dev/tenant": "other"}, ""},
	} {
		got, err := p.Tenant(tc.ns, tc.labels)
		switch {
		case tc.want == "" && !errors.Is(err, tenancy.ErrNoTenant):
			t.Errorf("%s %v: err = %v, want %v", tc.ns, tc.labels, err, tenancy.ErrNoTenant)
		case tc.want != "" && (err != nil || got.Name != tc.want):
			t.Errorf("%s %v: tenant %v, %v; want %s", tc.ns, tc.labels, got, err, tc.want)
		}
	}
	labelled, _ := p.Tenant("x", map[string]string{"hallmark.dev/tenant": "labelled"})
	if labelled.Level() != 2 || labelled.UnverifiedLevel() != 1 || labelled.UntrustedLevel() != 1 || labelled.Refuses() {
		t.Errorf("labelled levels %d/%d/%d refuses %v", labelled.Level(), labelled.UnverifiedLevel(), labelled.UntrustedLevel(), labelled.Refuses())
	}
}

func TestMayClaim(t *testing.T) {
	p := mustParse(t, example)
	a, _ := p.Tenant("team-a", nil)
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://github.com/team-a/app", true},
		{"git+https://github.com/team-a/app.git", true},
		{"https://GitHub.com/Team-A/App/", true},
		{"github.com/team-a/deep/nested", true},
		{"https://github.com/acme/shared-lib", true},
		{"https://github.com/acme/shared-lib-fork", false},
		{"https://github.com/team-a", false},
		{"https://github.com/team-b/app", false},
		{"https://github.com/team-ab/app", false},
	} {
		src, err := tenancy.ParseSource(tc.url)
		if err != nil {
			if tc.want {
				t.Errorf("%s: %v", tc.url, err)
			}
			continue
		}
		if got := a.MayClaim(src); got != tc.want {
			t.Errorf("MayClaim(%s) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct{ in, uri, repo, err string }{
		{in: "https://github.com/a/b", uri: "git+https://github.com/a/b.git", repo: "github.com/a/b"},
		{in: "git+https://GitHub.com/a/b.git/", uri: "git+https://github.com/a/b.git", repo: "github.com/a/b"},
		{in: "github.com/a/b", uri: "git+https://github.com/a/b.git", repo: "github.com/a/b"},
		{in: "https://x-access-token:ghs_SECRET@github.com/a/b", err: "credentials"},
		{in: "ssh://git@github.com/a/b", err: "credentials"},
		{in: "http://github.com/a/b", err: "scheme"},
		{in: "https://github.com/a/../b", err: "clean"},
		{in: "https://github.com/a/b?x=1", err: "query"},
		{in: "https://github.com", err: "path"},
	} {
		got, err := tenancy.ParseSource(tc.in)
		if tc.err != "" {
			if !errors.Is(err, tenancy.ErrSourceURL) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "SECRET") {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.URI != tc.uri || got.Repo != tc.repo {
			t.Errorf("%s: %+v, %v; want %s %s", tc.in, got, err, tc.uri, tc.repo)
		}
	}
}

func TestTrust(t *testing.T) {
	p := mustParse(t, example)
	a, _ := p.Tenant("team-a", nil)
	labelled, _ := p.Tenant("x", map[string]string{"hallmark.dev/tenant": "labelled"})
	sha256 := map[string]string{"sha256": strings.Repeat("ab", 32)}
	sha1 := map[string]string{"sha1": strings.Repeat("cd", 20)}
	for _, tc := range []struct {
		name   string
		tenant *tenancy.Tenant
		d      tenancy.Definition
		want   string // trusted source, "" for none
		fetch  bool
	}{
		{"bundle", a, tenancy.Definition{Kind: "Task", URI: "registry.example.com/tekton/catalog", Digest: sha256, EntryPoint: "git-clone"}, "catalog", true},
		{"bundle-other-entry", a, tenancy.Definition{Kind: "Task", URI: "registry.example.com/tekton/catalog", Digest: sha256, EntryPoint: "go-build"}, "catalog", false},
		{"bundle-stepaction-is-no-fetcher", a, tenancy.Definition{Kind: "StepAction", URI: "registry.example.com/tekton/catalog", Digest: sha256, EntryPoint: "git-clone"}, "catalog", false},
		{"bundle-no-digest", a, tenancy.Definition{Kind: "Task", URI: "registry.example.com/tekton/catalog", EntryPoint: "git-clone"}, "", false},
		{"bundle-lookalike", a, tenancy.Definition{Kind: "Task", URI: "registry.example.com/tekton/catalog-evil", Digest: sha256, EntryPoint: "git-clone"}, "", false},
		{"git-not-for-this-tenant", a, tenancy.Definition{Kind: "Task", URI: "git+https://github.com/acme/platform-tasks.git", Digest: sha1, EntryPoint: "tasks/build.yaml"}, "", false},
		{"git", labelled, tenancy.Definition{Kind: "Task", URI: "git+https://github.com/acme/platform-tasks.git", Digest: sha1, EntryPoint: "tasks/build.yaml"}, "platform", false},
		{"git-outside-entry-points", labelled, tenancy.Definition{Kind: "Task", URI: "git+https://github.com/acme/platform-tasks.git", Digest: sha1, EntryPoint: "experimental/build.yaml"}, "", false},
		{"git-branch-not-commit", labelled, tenancy.Definition{Kind: "Task", URI: "git+https://github.com/acme/platform-tasks.git", Digest: map[string]string{"sha1": "main"}, EntryPoint: "tasks/build.yaml"}, "", false},
		{"cluster", labelled, tenancy.Definition{Kind: "Task", URI: "/apis/tekton.dev/v1/namespaces/tekton-platform/tasks/build@0a1b", Digest: sha256}, "shared", false},
		{"cluster-tenant-namespace", labelled, tenancy.Definition{Kind: "Task", URI: "/apis/tekton.dev/v1/namespaces/x/tasks/build@0a1b", Digest: sha256}, "", false},
		{"local", labelled, tenancy.Definition{Kind: "Task"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := p.Trust(tc.tenant, tc.d)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Trust = %q %v, want %q", got, ok, tc.want)
			}
			if _, ok := p.Fetcher(tc.tenant, tc.d); ok != tc.fetch {
				t.Errorf("Fetcher = %v, want %v", ok, tc.fetch)
			}
		})
	}
}

func TestDigestIsOfTheDocument(t *testing.T) {
	a := mustParse(t, example)
	b := mustParse(t, example+"# a comment changes the bytes\n")
	if a.Digest() == b.Digest() || len(a.Digest()) != 64 || a.Name() != "hallmark-system/hallmark-tenancy" {
		t.Errorf("digests %s %s name %s", a.Digest(), b.Digest(), a.Name())
	}
}

// FuzzParse feeds arbitrary documents: Parse never panics, and a policy it
// accepts answers every question without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte(header + "tenants:\n  - name: a\n    namespaceSelector: {matchExpressions: [{key: k, operator: In, values: [v]}]}\n    maxLevel: 0\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := tenancy.Parse("fuzz", doc)
		if err != nil {
			return
		}
		tn, err := p.Tenant("team-a", map[string]string{"k": "v"})
		if err != nil {
			return
		}
		if tn.UnverifiedLevel() > tn.Level() || tn.UntrustedLevel() > tn.Level() {
			t.Fatalf("caps above the max: %+v", tn)
		}
		src, _ := tenancy.ParseSource("https://github.com/team-a/app")
		tn.MayClaim(src)
		p.Trust(tn, tenancy.Definition{Kind: "Task", URI: "registry.example.com/x", Digest: map[string]string{"sha256": strings.Repeat("a", 64)}})
	})
}

// FuzzParseSource: whatever a run writes as its source URL, ParseSource
// never panics, and what it accepts is an https repository it reads the
// same way again.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"https://github.com/a/b", "git+https://h/a.git", "h/a/b/", "https://u:p@h/a", "https://h/%2e%2e/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, err := tenancy.ParseSource(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(src.URI, "git+https://") || !strings.HasSuffix(src.URI, ".git") {
			t.Fatalf("%q gave %q", s, src.URI)
		}
		again, err := tenancy.ParseSource(src.URI)
		if err != nil || again != src {
			t.Fatalf("%q: %+v, then %+v, %v", s, src, again, err)
		}
	})
}
