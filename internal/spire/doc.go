// Package spire runs a real SPIRE server and agent for tests: the server
// with a sqlite datastore and the join_token node attestor, the agent with
// the unix workload attestor, so a test process gets X.509- and JWT-SVIDs
// from a real Workload API. StartServerWithDiscovery adds SPIRE's OIDC
// discovery provider at the server's jwt_issuer, so JWT-SVIDs verify as
// OIDC ID tokens (Fulcio's spiffe issuer). Binaries come from the tool
// cache (toolcache.SPIRE and toolcache.SPIREOIDCDiscovery, built by
// scripts/install-deps.sh).
package spire
