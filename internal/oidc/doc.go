// Package oidc is the sandbox's OpenID Connect issuer. It mints ID tokens
// shaped like the ones GitHub Actions' token service issues (same claims, same
// RS256 signatures, same discovery document and JWKS layout) and serves the
// Actions token-request protocol, so that Fulcio, the hallmark action and any
// Sigstore client can run unmodified against it.
//
// Keys live in a folder on disk. Rotation adds a key and keeps the old ones in
// the JWKS, so tokens minted before a rotation stay verifiable until they
// expire.
package oidc
