// Package spire runs a real SPIRE server and agent for tests: the server
// with a sqlite datastore and the join_token node attestor, the agent with
// the unix workload attestor, so a test process gets X.509- and JWT-SVIDs
// from a real Workload API. Binaries come from the tool cache
// (sandbox.SPIRE, built by scripts/install-deps.sh).
package spire
