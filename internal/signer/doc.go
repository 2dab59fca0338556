// Package signer signs in-toto statements keylessly into Sigstore bundles
// v0.3: an OIDC identity token buys a short-lived Fulcio certificate for an
// ephemeral key, the DSSE signature is logged in Rekor (API v1 or v2) and/or
// timestamped by a TSA, and the new bundle is verified against the trusted
// root before it is returned. Which servers to use comes from a Sigstore
// signing config, so any private Sigstore works.
//
// The identity token is a bearer credential: it is never logged and never
// part of an error.
package signer
