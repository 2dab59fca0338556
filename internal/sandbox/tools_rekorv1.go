package sandbox

// A Rekor v1 log for tests of verify-artifact --rekor-url: rekor-server on
// Trillian (log server, log signer, createtree), at versions that build on
// this project's Go toolchain. Trillian stores the tree in MariaDB, which
// comes from Debian (scripts/install-deps.sh); its schema is read from
// Trillian's module in the module cache. rekor-server is the same release
// whose client packages go.mod pins.
//
// Trillian is built with only its MySQL storage and etcd election
// (`-tags=mysql,etcd`; the default links Cloud Spanner, CockroachDB,
// PostgreSQL and Kubernetes too): half the build time, 40 MB binaries
// instead of 104 MB.
var (
	RekorV1Server      = Tool{Name: "rekor-server", Version: "v1.5.3", Package: "github.com/sigstore/rekor/cmd/rekor-server", Binary: "rekor-server"}
	TrillianLogServer  = trillianTool("trillian_log_server", "trillian_log_server")
	TrillianLogSigner  = trillianTool("trillian_log_signer", "trillian_log_signer")
	TrillianCreateTree = trillianTool("trillian_createtree", "createtree")
)

func trillianTool(name, cmd string) Tool {
	return Tool{Name: name, Version: TrillianVersion, Package: TrillianModule + "/cmd/" + cmd, Binary: cmd, Tags: "mysql,etcd", Flavor: "mysql"}
}

// Trillian's module and the version every Trillian tool is built at.
const (
	TrillianModule  = "github.com/google/trillian"
	TrillianVersion = "v1.7.3"
)

// RekorV1Tools are the tools a Rekor v1 log needs besides MariaDB.
var RekorV1Tools = []Tool{TrillianLogServer, TrillianLogSigner, TrillianCreateTree, RekorV1Server}
