package verifier_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hallmark-dev/hallmark/verifier"
)

// Verify slsa-github-generator provenance for a release binary, as
// `slsa-verifier verify-artifact --source-uri ... --source-versioned-tag v13`
// would, offline, with the public-good trusted root.
func ExampleVerifier_VerifyAny() {
	trusted, err := verifier.LoadTrustedRoot(mustRead("testdata/trusted-root-public-good.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	policy := verifier.DefaultPolicy()
	policy.Source = "github.com/slsa-framework/example-package"
	policy.SourceVersionedTag = "v13"

	v, err := verifier.New(trusted, policy, verifier.WithClock(func() time.Time {
		return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	bundles, err := verifier.ParseBundles(mustRead("../testdata/realworld/slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl"))
	if err != nil {
		fmt.Println(err)
		return
	}
	digest := verifier.MustParseDigest("sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa")
	res, err := v.VerifyAny(bundles, digest)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("builder:", res.BuilderID)
	fmt.Println("level:", res.Level)
	fmt.Println("source:", res.Identity.Extensions.SourceRepositoryURI, res.Identity.Extensions.SourceRepositoryRef)
	fmt.Println("predicate:", res.PredicateType)
	// Output:
	// builder: https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0
	// level: 3
	// source: https://github.com/slsa-framework/example-package refs/tags/v13.0.30
	// predicate: https://slsa.dev/provenance/v0.2
}

// A failed verification names the check, what was wanted and what was found.
func ExampleCheckError() {
	trusted, _ := verifier.LoadTrustedRoot(mustRead("testdata/trusted-root-public-good.json"))
	policy := verifier.DefaultPolicy()
	policy.Source = "github.com/slsa-framework/example-package"
	policy.SourceTag = "v13.0.29"
	v, _ := verifier.New(trusted, policy, verifier.WithClock(func() time.Time {
		return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	}))
	b, _ := verifier.ParseBundle(mustRead("../testdata/realworld/slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl"))
	_, err := v.Verify(b, verifier.MustParseDigest("sha256:376e7e01348585b6e6643bc6663146b9d525d9b41228bf180eaeb4d4a3706caa"))

	var ce *verifier.CheckError
	if errors.As(err, &ce) {
		fmt.Println("check:", ce.Check)
		fmt.Println("want:", ce.Want)
		fmt.Println("got:", ce.Got)
		fmt.Println("tag mismatch:", errors.Is(err, verifier.ErrTagMismatch))
	}
	// Output:
	// check: ref
	// want: tag v13.0.29
	// got: tag v13.0.30
	// tag mismatch: true
}

// Policies load from YAML or JSON; unknown fields are errors.
func ExampleLoadPolicy() {
	p, err := verifier.LoadPolicy([]byte(`
issuers: [https://token.actions.githubusercontent.com]
builders:
  - name: bcr publisher
    signer: "glob:https://github.com/bazel-contrib/publish-to-bcr/.github/workflows/publish.yaml@refs/tags/v*"
    maxLevel: 3
source: github.com/aspect-build/rules_lint
minLevel: 3
`))
	fmt.Println(err, len(p.Builders), p.MinLevel)

	_, err = verifier.LoadPolicy([]byte("issuers: [x]\nbuilders: [{id: x, maxLevel: 1}]\ntrustAll: true\n"))
	fmt.Println(err != nil)
	// Output:
	// <nil> 1 3
	// true
}

func mustRead(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return data
}
