// Package tufroot gets a Sigstore trusted root (trusted_root.json) from a
// TUF repository and keeps it in a local cache, so verification can later
// run offline against it.
//
// # Fetching
//
// Fetch refreshes the repository's metadata with sigstore-go's TUF client,
// from a trust anchor: the public-good instance's root.json that
// sigstore-go embeds, or the initial root.json of another repository (a
// private Sigstore, GitHub's). Every metadata file is checked against the
// keys the anchor delegates to, for expiry and for rollback against what the
// cache already holds, and the trusted_root.json target against the hashes
// targets.json records. The refresh runs on a copy of the repository's cache
// folder, which replaces the old one only when everything verified: a failed
// refresh leaves the cache as it was.
//
//	res, err := tufroot.Fetch(ctx, tufroot.Options{CacheDir: dir})
//	// res.TrustedRoot is trusted_root.json, verified
//
// # Loading offline
//
// Load reads the same target from the cache and never touches the network:
// the cached metadata is checked again (signatures, expiry, the target's
// hash) against the root.json the last refresh established. It is what
// verification uses when no trusted root is given: the repository is the
// one Fetch last refreshed (Current).
//
// # Errors
//
// Errors match ErrUnreachable (the repository did not answer), ErrExpired
// (metadata past its expiry: refresh, or the repository is stale), ErrInvalid
// (metadata or target that does not verify: tampered, or the wrong trust
// anchor), and ErrNoCache (nothing cached for the repository yet).
package tufroot
