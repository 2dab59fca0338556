package toolcache

// Syft is the syft CLI at the version hallmark-sbom's library is pinned
// to: scripts/bench-sbom.sh compares hallmark-sbom with it on the same
// input.
var Syft = Tool{Name: "syft", Version: "v1.42.0", Package: "github.com/anchore/syft/cmd/syft", Binary: "syft"}
