package toolcache

import _ "embed"

// The servers the sandbox runs, at the versions that build together on this
// project's Go toolchain.
var (
	Fulcio = Tool{Name: "fulcio", Version: "v1.8.8", Package: "github.com/sigstore/fulcio", Binary: "fulcio"}
	Rekor  = Tool{Name: "rekor-tiles", Version: "v2.3.0", Package: "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix", Binary: "posix"}
	TSA    = Tool{Name: "timestamp-authority", Version: "v2.1.3", Package: "github.com/sigstore/timestamp-authority/v2", Binary: "timestamp-server", Main: tsaMain, Flavor: "hallmark1"}
	Cosign = Tool{Name: "cosign", Version: "v2.6.5", Package: "github.com/sigstore/cosign/v2/cmd/cosign", Binary: "cosign"}
)

// tsaMain runs the timestamp authority's own server package; see the file.
//
//go:embed tsamain/main.go.txt
var tsaMain string

// SandboxServers are the servers `hallmark sandbox up` runs.
var SandboxServers = []Tool{Fulcio, Rekor, TSA}
