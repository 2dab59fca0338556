// Package attest is GitHub mode's attestation flow, from start to end:
// subjects and build facts in, in-toto statements made, signed into Sigstore
// bundles, written to files and attached to images in their registries, and
// a [result.Attest] out saying what was signed, written and pushed. `hallmark
// attest` maps its flags to a [Request] and renders the result (text or
// JSON); the attest action (internal/ghaction) maps its inputs to one and
// sets its outputs from the result. Neither signs, writes or pushes
// anything itself.
//
// [Run] goes in this order, so that whatever can fail without spending a
// log entry fails first and says "nothing was signed":
//
//  1. the request: subjects (files, checksum lists, name and digest pairs,
//     images; grouped into statements of at most provenance.MaxSubjects, or
//     one per subject, or one per image digest) and the SBOMs asked for,
//     each made and checked;
//  2. trust (signing config and trusted root), the identity token (its
//     expiry and audience), the repository's visibility against public
//     logs, and the build facts checked against the token's claims;
//  3. the statements, and room reserved for every bundle file
//     (internal/atomicfile);
//  4. with PushToRegistry, each image looked up and the registry's write
//     access probed; with AttestPlatforms, each index's platforms listed
//     and their statements (and SBOMs) added to the run, with files of
//     their own;
//  5. signing, side by side within Request.Deadline: one internal/signer
//     Session (one certificate) per provenance statement, its SBOMs signed
//     in the same session; once one bundle fails no more are started;
//  6. the bundles written whole into their reservations; one that cannot
//     be is saved in the temporary folder and the error says where;
//  7. the bundles pushed from the bytes in memory, several images side by
//     side, one failed image stopping no other.
//
// A failure after some bundles were signed is a [*KeptError]: the signed
// bundles are kept, its Result says what was done, and its Next is the
// `hallmark push` command that finishes the job without signing again.
// [Push] is that command's flow: bundle files attached to their images.
// [SignStatement] signs one statement on its own, with the same trust and
// token: the VSA of `verify-artifact --vsa-out`.
//
// Errors name the flags of `hallmark attest` (--bundle-path, --deadline,
// --push-to-registry ...): they are the vocabulary of a Request, and the
// action's inputs say the same in their own names.
//
// Factory mode (internal/factory) does not sign through this package. Its
// step from statement to bundle is one signer call per run under the
// identity of the run's namespace (an X.509-SVID, or a Fulcio certificate
// for a JWT-SVID, fetched per run), paced by a concurrency limit that
// follows the signer's latency across runs, and it stores the bundle in
// its own stores. What this package adds around the signer (one OIDC token
// for many statements, a session per statement group, reservations, kept
// bundles and the push command) does not apply there; sharing the two
// lines both have in common (sign, encode the bundle) would cost the
// factory an indirection per run for nothing.
package attest
