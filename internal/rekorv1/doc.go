// Package rekorv1 finds, online, the Rekor v1 log entry of a bare DSSE
// envelope and turns the two into a Sigstore bundle the verifier checks
// offline like any other.
//
// slsa-github-generator up to v2.0.0 wrote .intoto.jsonl files of bare DSSE
// envelopes: the log entry (and, in older releases, the certificate) lives
// only in Rekor. slsa-verifier v2.7.1 finds it there; this package does the
// same, on a Rekor URL the user names:
//
//   - when the envelope carries its signing certificate (the generator's
//     "cert" field), it asks the log for the entries this envelope and
//     certificate make (intoto v0.0.1, intoto v0.0.2, dsse v0.0.1), as
//     slsa-verifier does;
//   - otherwise, or when that finds none, it searches the log's index for
//     the SHA-256 of the envelope's payload, which every one of those
//     kinds indexes, and fetches each entry found.
//
// Each entry is matched to the envelope (its kind and version, the payload
// hash, the signature where the kind logs it, one certificate) and becomes
// a bundle: media type v0.2 with the entry's inclusion proof and promise,
// or v0.1 with the promise alone. The certificate is the one the entry
// logs, never one the envelope carries. Nothing here decides trust: the
// bundles go through verifier.ParseBundle and then the same pipeline as an
// offline bundle, which checks the promise and proof against the trusted
// root's log keys, the entry against the envelope, the certificate, the
// identity and the provenance.
//
// Every request is bounded: a deadline for the whole lookup and for each
// request, a size limit on each answer, a limit on the entries fetched. No
// redirect is followed. Errors name the Rekor URL.
package rekorv1
