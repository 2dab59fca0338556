// Package sandbox runs a private Sigstore on loopback: the real Fulcio (an
// ephemeral CA that knows the sandbox's issuer as a GitHub Actions CI
// provider), a Rekor v2 tile log, the timestamp authority, and Hallmark's own
// GitHub-shaped OIDC issuer.
//
// Up installs the servers once into a cache folder keyed by version, starts
// them on free loopback ports, waits until each answers, and writes into the
// sandbox folder:
//
//	trusted_root.json    the servers' keys and certificates (Sigstore trusted root)
//	signing_config.json  the servers' URLs (Sigstore signing config v0.2)
//	sandbox.json         the state: URLs, processes (pid and start time), logs
//	logs/                one log per server
//
// Every Up starts fresh trust material: a new CA, log key and TSA key. Down
// stops the processes recorded in the state, by pid and only when the pid
// still belongs to the process that was started, and waits until each is gone.
package sandbox
