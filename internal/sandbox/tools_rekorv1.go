package sandbox

// A Rekor v1 log for tests of verify-artifact --rekor-url: rekor-server on
// Trillian (log server, log signer, createtree), at versions that build on
// this project's Go toolchain. Trillian stores the tree in MariaDB, which
// comes from Debian (scripts/install-deps.sh); its schema is read from
// Trillian's module in the module cache. rekor-server is the same release
// whose client packages go.mod pins.
var (
	RekorV1Server      = Tool{Name: "rekor-server", Version: "v1.5.3", Package: "github.com/sigstore/rekor/cmd/rekor-server", Binary: "rekor-server"}
	TrillianLogServer  = Tool{Name: "trillian_log_server", Version: TrillianVersion, Package: TrillianModule + "/cmd/trillian_log_server", Binary: "trillian_log_server"}
	TrillianLogSigner  = Tool{Name: "trillian_log_signer", Version: TrillianVersion, Package: TrillianModule + "/cmd/trillian_log_signer", Binary: "trillian_log_signer"}
	TrillianCreateTree = Tool{Name: "trillian_createtree", Version: TrillianVersion, Package: TrillianModule + "/cmd/createtree", Binary: "createtree"}
)

// Trillian's module and the version every Trillian tool is built at.
const (
	TrillianModule  = "github.com/google/trillian"
	TrillianVersion = "v1.7.3"
)

// RekorV1Tools are the tools a Rekor v1 log needs besides MariaDB.
var RekorV1Tools = []Tool{TrillianLogServer, TrillianLogSigner, TrillianCreateTree, RekorV1Server}
