// Package subject says what an attestation is about: a list of named
// artifacts, each with one or more cryptographic digests.
//
// Subjects come from four places, matching the inputs GitHub's
// actions/attest accepts:
//
//   - files on disk, by path or glob ([FromPaths]);
//   - a checksums file written by sha256sum or sha512sum ([ParseChecksums]);
//   - a name and a digest given by hand ([FromNameDigest]);
//   - a container image reference pinned by digest ([FromImageRef]).
//
// Lists from several sources are combined with [Merge], which drops exact
// duplicates, refuses a name that carries two different digests for the same
// algorithm, and sorts by name so output is deterministic. An in-toto
// statement should carry at most [MaxPerStatement] subjects; [Split] cuts a
// larger list into statement-sized pieces.
//
// Digests are keyed by algorithm name as in-toto spells it ("sha256",
// "sha512") and hold lowercase hexadecimal.
//
// Every failure is an error that can be matched with [errors.Is] against the
// sentinels of this package (for example [ErrNoMatch] or [ErrConflict]) and,
// where there is more to say, unpacked with [errors.As] into [*PatternError],
// [*FileError], [*LineError] or [*ConflictError].
//
// A typical use hashes the release archives of a build:
//
//	subjects, err := subject.FromPaths(ctx, []string{"dist/*.tar.gz\ndist/checksums.txt"})
//	if err != nil {
//		return err
//	}
//	for _, part := range subject.Split(subjects, subject.MaxPerStatement) {
//		// make one statement per part
//	}
package subject
