// Package signer signs in-toto statements keylessly into Sigstore bundles
// v0.3: an OIDC identity token buys a short-lived Fulcio certificate for an
// ephemeral key, the DSSE signature is logged in Rekor (API v1 or v2) and/or
// timestamped by a TSA, and the new bundle is verified against the trusted
// root before it is returned. Which servers to use comes from a Sigstore
// signing config, so any private Sigstore works.
//
// One pipeline, in this order, for keyless signing (Sign) and for signing
// with a certificate of one's own (SignWithCertificate, an X.509-SVID):
//
//  1. the token is checked (exp, nbf, aud) before Fulcio is asked;
//  2. the certificate must be for our key, name the token's identity (SAN,
//     issuer, and for GitHub Actions tokens the workflow extensions) and
//     chain to the trusted root;
//  3. each timestamp must be over this signature and chain to the trusted
//     root;
//  4. only then is each log written, and each entry checked as it comes;
//  5. the bundle is verified with the identity of step 2.
//
// A failure before step 4 spends no log entry. The whole signing ends by
// Options.Deadline; each try of a request by Options.Timeout; failed tries
// (network, 5xx, 429) are retried with a doubling backoff or the server's
// Retry-After, never past the deadline. Errors name the server by its URL
// (*ServerError) and match the sentinels with errors.Is.
//
// The identity token is a bearer credential: it is never logged and never
// part of an error.
package signer
