package toolcache

// Factory mode's test servers, at the versions that build on this project's
// Go toolchain (see TESTBED.md).
var (
	SPIRE = ModuleBuild{
		Name: "spire", Module: "github.com/spiffe/spire", Version: "v1.13.0",
		Packages: []string{"github.com/spiffe/spire/cmd/spire-server", "github.com/spiffe/spire/cmd/spire-agent"},
		CGO:      true,
	}
	// SPIREOIDCDiscovery is SPIRE's OIDC discovery provider: it serves the
	// server's JWT signing keys at the jwt_issuer URL, so a relying party
	// (Fulcio's spiffe issuer) can verify JWT-SVIDs. Its own build: adding
	// it to SPIRE's would rebuild the server and agent on every machine
	// that has them.
	SPIREOIDCDiscovery = ModuleBuild{
		Name: "spire-oidc-discovery-provider", Module: "github.com/spiffe/spire", Version: "v1.13.0",
		Packages: []string{"github.com/spiffe/spire/support/oidc-discovery-provider"},
		// Same flags as SPIRE's build, so the build cache it left is reused.
		CGO: true,
	}
	KubeAPIServer = ModuleBuild{
		Name: "kube-apiserver", Module: "k8s.io/kubernetes", Version: "v1.34.2",
		Packages:       []string{"k8s.io/kubernetes/cmd/kube-apiserver"},
		StagingVersion: "v0.34.2",
		// Stamped as Kubernetes' release build stamps it, so /version
		// answers v1.34.2: clients that check the server's version (Tekton
		// Chains, through knative) refuse an unstamped one.
		LDFlags: []string{
			"-X k8s.io/component-base/version.gitVersion=v1.34.2",
			"-X k8s.io/component-base/version.gitMajor=1",
			"-X k8s.io/component-base/version.gitMinor=34",
			"-X k8s.io/component-base/version.gitTreeState=clean",
		},
		Flavor: "stamped",
	}
)

// FactoryTools are the module builds factory mode's tests need.
var FactoryTools = []ModuleBuild{SPIRE, SPIREOIDCDiscovery, KubeAPIServer}

// ChainsController is Tekton Chains' controller, built once into the tool
// cache (scripts/install-deps.sh) so that tests can run it beside the
// factory on one apiserver. Chains needs other versions of Tekton and
// Sigstore than Hallmark's module, so it is built in a throwaway module
// of its own.
var ChainsController = ModuleBuild{
	Name: "tekton-chains", Module: "github.com/tektoncd/chains", Version: "v0.26.3",
	Packages: []string{"github.com/tektoncd/chains/cmd/controller"},
}
