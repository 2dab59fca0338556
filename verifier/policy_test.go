package verifier_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLoadPolicy loads every testdata/policy-*.yaml|json: the valid ones
// must load (and the written-out default must equal DefaultPolicy), the
// policy-invalid-* ones must be refused.
func TestLoadPolicy(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "policy-*"))
	if err != nil || len(files) == 0 {
		t.Fatal("no policy fixtures", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			p, err := verifier.LoadPolicy(readTestdata(t, name))
			invalid := strings.HasPrefix(name, "policy-invalid-")
			if invalid {
				if err == nil {
					t.Fatal("invalid policy loaded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.New(publicGoodRoot(t), p, verifier.WithoutSourceUnsafe()); err != nil {
				t.Fatal(err)
			}
		})
	}
	p, err := verifier.LoadPolicy(readTestdata(t, "policy-default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := verifier.DefaultPolicy()
	if !reflect.DeepEqual(p.Builders, def.Builders) || !reflect.DeepEqual(p.Issuers, def.Issuers) {
		t.Errorf("policy-default.yaml differs from DefaultPolicy:\n%+v\n%+v", p.Builders, def.Builders)
	}
}

// TestPolicyFilesVerify verifies real bundles under the fixture policies.
func TestPolicyFilesVerify(t *testing.T) {
	cases := []struct{ policy, bundle, artifact string }{
		{"policy-slsa-verifier-flags.yaml", "generic-v2.1.0-push-v13.0.30.intoto.jsonl", "generic-v2.1.0-push-v13.0.30"},
		{"policy-gh-identity.yaml", "bcr-MODULE.bazel.intoto.jsonl", "bcr-MODULE.bazel"},
		{"policy-default.yaml", "go-v2.1.0-push-v14.2.intoto.jsonl", "go-v2.1.0-push-v14.2"},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			p, err := verifier.LoadPolicy(readTestdata(t, tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			v := newVerifier(t, publicGoodRoot(t), p, verifier.WithoutSourceUnsafe())
			res, err := v.VerifyAny(realBundles(t, tc.bundle), realDigest(t, tc.artifact))
			if err != nil {
				t.Fatal(err)
			}
			if res.Level != 3 {
				t.Errorf("level %d, want 3", res.Level)
			}
		})
	}
}

// TestNewRejectsContradictions checks policies that cannot be honoured are
// refused up front, not at verification time.
func TestNewRejectsContradictions(t *testing.T) {
	base := func() *verifier.Policy { return verifier.DefaultPolicy() }
	cases := map[string]func(*verifier.Policy){
		"no issuer":            func(p *verifier.Policy) { p.Issuers = nil },
		"no builder":           func(p *verifier.Policy) { p.Builders = nil },
		"tag and versioned":    func(p *verifier.Policy) { p.SourceTag, p.SourceVersionedTag = "v1", "v1" },
		"bad regexp":           func(p *verifier.Policy) { p.Identity.SAN = "regexp:(" },
		"min level 4":          func(p *verifier.Policy) { p.MinLevel = 4 },
		"source without repo":  func(p *verifier.Policy) { p.Source = "github.com" },
		"builder id two refs":  func(p *verifier.Policy) { p.BuilderID = "a@b@c" },
		"negative threshold":   func(p *verifier.Policy) { n := -1; p.Thresholds.TransparencyLog = &n },
		"expression not bool":  func(p *verifier.Policy) { p.Expressions = []string{`"yes"`} },
		"builder without name": func(p *verifier.Policy) { p.Builders = []verifier.TrustedBuilder{{MaxLevel: 3}} },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			p := base()
			edit(p)
			if _, err := verifier.New(publicGoodRoot(t), p); err == nil {
				t.Fatal("contradictory policy accepted")
			}
		})
	}
	if _, err := verifier.New(publicGoodRoot(t), base(), verifier.WithClock(nil)); err == nil {
		t.Error("nil clock accepted")
	}
}

// TestDefaultPolicyBuilderRefs holds the default trusted builders to
// slsa-verifier's rule: a release tag vX.Y.Z, nothing else.
func TestDefaultPolicyBuilderRefs(t *testing.T) {
	const wf = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@"
	const hm = "https://github.com/hallmark-dev/hallmark/.github/workflows/container.yml@"
	cases := []struct {
		signer string
		want   bool
	}{
		{wf + "refs/tags/v2.1.0", true},
		{wf + "refs/tags/v10.0.12", true},
		{hm + "refs/tags/v1.0.0", true},
		{wf + "refs/tags/v2", false},
		{wf + "refs/tags/v2.1", false},
		{wf + "refs/tags/v2.1.0-rc.1", false},
		{wf + "refs/tags/v2.1.0+build", false},
		{wf + "refs/tags/v02.1.0", false},
		{wf + "refs/tags/v2.1.0.1", false},
		{wf + "refs/tags/vanity", false},
		{wf + "refs/heads/main", false},
		{wf + "refs/heads/v2.1.0", false},
		{hm + "refs/tags/v1.0.0/../../x", false},
		{"https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3xyml@refs/tags/v2.1.0", false},
		{"https://github.com/hallmark-dev/hallmark/.github/workflows/release.yml@refs/tags/v1.0.0", false},
	}
	var builders []verifier.Pattern
	for _, b := range verifier.DefaultPolicy().Builders[:2] {
		p, err := verifier.ParsePattern(b.Signer)
		if err != nil {
			t.Fatal(err)
		}
		builders = append(builders, p)
	}
	for _, tc := range cases {
		got := false
		for _, p := range builders {
			got = got || p.Match(tc.signer)
		}
		if got != tc.want {
			t.Errorf("default policy trusts %s: %v, want %v", tc.signer, got, tc.want)
		}
	}
}

func TestPattern(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"glob:https://github.com/o/r/.github/workflows/{a,b}.yml@refs/tags/v*", "https://github.com/o/r/.github/workflows/b.yml@refs/tags/v1.2.3", true},
		{"glob:https://github.com/o/r/.github/workflows/{a,b}.yml@refs/tags/v*", "https://github.com/o/r/.github/workflows/c.yml@refs/tags/v1", false},
		{"glob:https://github.com/o/r/.github/workflows/a.yml@refs/tags/v*", "https://github.com/o/r/.github/workflows/a.yml@refs/tags/v1/../x", false},
		{"glob:https://github.com/**", "https://github.com/a/b/c", true},
		{"glob:https://github.com/*", "https://github.com/a/b", false},
		{"regexp:https://github\\.com/o/.*", "https://github.com/o/x", true},
		{"regexp:o/.*", "https://github.com/o/x", false},
		{"https://exact", "https://exact", true},
		{"https://exact", "https://exactly", false},
	}
	for _, tc := range cases {
		p, err := verifier.ParsePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tc.s); got != tc.want {
			t.Errorf("%s match %s = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestNoHeavyDependencies keeps the library light: no Kubernetes, Tekton,
// GitHub Actions toolkit or syft code may be linked in.
func TestNoHeavyDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/hallmark-dev/hallmark/verifier").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"k8s.io/", "sigs.k8s.io/controller-runtime", "github.com/tektoncd/", "github.com/sethvargo/go-githubactions", "github.com/anchore/syft", "github.com/google/go-github"}
	for _, dep := range strings.Fields(string(out)) {
		// klog is a logging package, not Kubernetes: certificate-transparency-go,
		// which sigstore-go needs to verify SCTs, logs through it.
		if strings.HasPrefix(dep, "k8s.io/klog/") {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("verifier depends on %s", dep)
			}
		}
	}
}

// TestNarrowRefusesContradictions: on a policy file every flag only
// narrows, and a flag that contradicts the file is an error, never a
// replacement.
func TestNarrowRefusesContradictions(t *testing.T) {
	file := func() *verifier.Policy {
		p, err := verifier.LoadPolicy([]byte(`issuers: [https://token.actions.githubusercontent.com]
builders: [{signer: "https://github.com/acme/build/.github/workflows/b.yml@refs/tags/v1.0.0", maxLevel: 3}]
identity: {san: "https://github.com/acme/build/.github/workflows/b.yml@refs/tags/v1.0.0"}
builderID: https://github.com/acme/build/.github/workflows/b.yml@v1.0.0
source: github.com/acme/app
sourceBranch: main
workflowInputs: {channel: stable}
`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, f := range map[string]verifier.Flags{
		"another issuer":      {CertOIDCIssuer: "https://issuer.example"},
		"another source":      {Source: "github.com/acme/other"},
		"another branch":      {SourceBranch: "dev"},
		"another builder id":  {BuilderID: "https://github.com/acme/build/.github/workflows/b.yml@v2.0.0"},
		"another exact SAN":   {CertIdentity: "https://github.com/evil/x/.github/workflows/y.yml@refs/heads/main"},
		"another input value": {WorkflowInputs: map[string]string{"channel": "beta"}},
		"tag and versioned":   {SourceTag: "v1", SourceVersionedTag: "v1"},
		"min level 4":         {MinLevel: 4},
		"signer repo path":    {SignerRepo: "acme/build/.github"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := file().Narrow(f); err == nil {
				t.Fatal("a contradicting flag was accepted")
			}
		})
	}
	for name, f := range map[string]verifier.Flags{
		"same values":     {CertOIDCIssuer: verifier.GitHubIssuer, Source: "https://github.com/acme/app", SourceBranch: "main", CertIdentity: "https://github.com/acme/build/.github/workflows/b.yml@refs/tags/v1.0.0"},
		"narrower":        {DenySelfHostedRunners: true, MinLevel: 3, SignerWorkflow: "acme/build/.github/workflows/b.yml"},
		"identity regexp": {CertIdentityRegex: "^https://github.com/acme/"},
	} {
		t.Run(name, func(t *testing.T) {
			p := file()
			before := len(p.Builders)
			if err := p.Narrow(f); err != nil {
				t.Fatal(err)
			}
			if len(p.Builders) != before {
				t.Fatalf("narrowing added builders: %d, had %d", len(p.Builders), before)
			}
		})
	}
}
