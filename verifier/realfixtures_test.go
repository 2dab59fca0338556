package verifier

import "path/filepath"

// realFixtures are the public bundles the verifier's tests read, by the
// name the tests use, at their place in the shared real-world corpus
// (../testdata/realworld, where SOURCES.md says where each came from).
// The ones the corpus lacks are in testdata/real.
var realFixtures = map[string]string{
	"generic-v2.1.0-push-v13.0.30.intoto.jsonl":     "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl",
	"generic-v2.1.0-push-v14.intoto.jsonl":          "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-push-v14.intoto.jsonl",
	"generic-v2.1.0-push-v14.2.intoto.jsonl":        "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl",
	"generic-v2.1.0-workflow_dispatch.intoto.jsonl": "slsa-verifier/gha_generic/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
	"go-v2.1.0-push-v13.0.30.intoto.jsonl":          "slsa-verifier/gha_go/v2.1.0/binary-linux-amd64-push-v13.0.30.intoto.jsonl",
	"go-v2.1.0-push-v14.intoto.jsonl":               "slsa-verifier/gha_go/v2.1.0/binary-linux-amd64-push-v14.intoto.jsonl",
	"go-v2.1.0-push-v14.2.intoto.jsonl":             "slsa-verifier/gha_go/v2.1.0/binary-linux-amd64-push-v14.2.intoto.jsonl",
	"go-v2.1.0-workflow_dispatch.intoto.jsonl":      "slsa-verifier/gha_go/v2.1.0/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
	"bcr-MODULE.bazel.intoto.jsonl":                 "slsa-verifier/bcr/MODULE.bazel.intoto.jsonl",
	"bcr-MODULE-wrong-signer.bazel.intoto.jsonl":    "slsa-verifier/bcr/MODULE-wrong-signer.bazel.intoto.jsonl",
	"bcr-rules_lint-v1.3.1.tar.gz.intoto.jsonl":     "slsa-verifier/bcr/rules_lint-v1.3.1.tar.gz.intoto.jsonl",
	"sigstore-go-bundle-provenance.sigstore.json":   "sigstore-go/examples/bundle-provenance.json",
}

// RealFixture is the path of the public bundle the tests call name.
func RealFixture(name string) string {
	if p, ok := realFixtures[name]; ok {
		return filepath.Join("..", "testdata", "realworld", filepath.FromSlash(p))
	}
	return filepath.Join("testdata", "real", name)
}

// RealFixtures are the names of every public bundle the tests read.
func RealFixtures() []string {
	names := []string{"container-based-v2.1.0-push-v14.sigstore.json"}
	for n := range realFixtures {
		names = append(names, n)
	}
	return names
}
