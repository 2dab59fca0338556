// Package interop proves, in its tests, that other Sigstore clients verify
// what Hallmark writes and that Hallmark verifies what they write, each run
// as its users run it: the real programs, offline, against the sandbox's
// Fulcio, Rekor v2 and TSA and against two loopback registries (olareg,
// which serves the OCI 1.1 referrers API as the distribution spec says, and
// Debian's docker-registry, which has no referrers API).
//
// The clients are cosign v2.6.5, gh v2.83.1 (gh attestation verify),
// sigstore-go v1.3.0's example verifier, sigstore-js 5.0.1 (through
// @sigstore/verify, as a program that uses the library does) and oras
// v1.3.6 (discovery and fetching); `go run ./internal/interop/testtools`,
// which scripts/install-deps.sh runs, installs them into the tool cache.
//
// TestMatrix runs every client on every case — Hallmark's artifact bundles
// (Rekor v2 with a timestamp, timestamp only), VSAs and image attestations
// (referrers API, referrers tag schema, cosign's legacy tag); cosign's
// blob and image attestations and real actions/attest bundles — each also
// with a tampered artifact every client must reject. It prints the matrix
// in the test log and fails on any cell that differs from
// testdata/matrix.txt, and on a README "works with" table that differs from
// the one the matrix gives. After a deliberate change:
//
//	go test ./internal/interop -run TestMatrix -update
package interop
