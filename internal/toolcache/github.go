package toolcache

// Tools that prove the GitHub mode: a local workflow runner and the workflow
// linter, at versions that build on this project's Go toolchain.
var (
	// Act runs GitHub Actions workflows locally; with
	// `-P ubuntu-latest=-self-hosted` it needs no Docker.
	Act = Tool{Name: "act", Version: "v0.2.89", Package: "github.com/nektos/act", Binary: "act"}
	// Actionlint checks workflow and action files.
	Actionlint = Tool{Name: "actionlint", Version: "v1.7.7", Package: "github.com/rhysd/actionlint/cmd/actionlint", Binary: "actionlint"}
)

// GitHubTools are the tools the GitHub mode's tests need.
var GitHubTools = []Tool{Act, Actionlint}
