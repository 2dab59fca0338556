package toolcache

// The Sigstore clients and registries the interop suite (internal/interop)
// runs against what Hallmark writes and reads, at versions that build on
// this project's Go toolchain and that the module proxy serves. cosign is
// Cosign (sigstore.go).
var (
	// Gh is the GitHub CLI, for `gh attestation verify`. Its module has no
	// checksum in the checksum database this machine reaches, so it is a
	// throwaway-module build with GOSUMDB=off.
	Gh = ModuleBuild{
		Name: "gh", Module: "github.com/cli/cli/v2", Version: "v2.83.1",
		Packages: []string{"github.com/cli/cli/v2/cmd/gh"},
	}
	// Oras is the OCI registry client: it lists referrers as a registry
	// client other than go-containerregistry sees them.
	Oras = Tool{Name: "oras", Version: "v1.3.6", Package: "oras.land/oras/cmd/oras", Binary: "oras"}
	// SigstoreGoVerifier is sigstore-go's example verifier, the reference
	// use of its verify package.
	SigstoreGoVerifier = Tool{Name: "sigstore-go-verification", Version: "v1.3.0", Package: "github.com/sigstore/sigstore-go/examples/sigstore-go-verification", Binary: "sigstore-go-verification"}
	// SigstoreJS is sigstore-js, the npm package `sigstore`, installed
	// with npm from the lock file in internal/toolcache/sigstorejs.
	SigstoreJS = NpmTool{Name: "sigstore-js", Version: "5.0.1"}
)

// InteropTools are the Go-built tools the interop suite needs besides
// Cosign; InteropModuleBuilds and SigstoreJS complete the set.
var InteropTools = []Tool{Cosign, Oras, SigstoreGoVerifier}

// InteropModuleBuilds are the throwaway-module builds the interop suite needs.
var InteropModuleBuilds = []ModuleBuild{Gh}
