// Package toolcache installs external programs once into a shared cache
// folder ($HOME/.cache/hallmark/tools, or $HALLMARK_CACHE/tools), keyed by
// name and version (and a flavor for special builds), and hands back their
// paths. A program is built with `go install module@version` (Tool), in a
// throwaway module that requires the module (ModuleBuild: for modules whose
// go.mod refuses `go install`), or with `npm ci` from a lock file kept here
// (NpmTool). Each install takes a lock file in the cache, so concurrent
// callers (parallel test packages, installers run side by side) wait for one
// build, and lands by renaming a finished folder into place, so a cached
// program is always whole.
//
// The programs and their pinned versions are listed here too: the sandbox's
// servers and cosign (sigstore.go), the GitHub mode's act and actionlint
// (github.go), factory mode's SPIRE, kube-apiserver and Tekton Chains
// (factory.go), a Rekor v1 log (rekorv1.go) and the interop suite's clients
// (interop.go). `hallmark sandbox up` and `hallmark sandbox install` use it,
// and so do the test helpers (toolcachetest and the …test packages) and the
// testtools commands that scripts/install-deps.sh runs.
package toolcache
