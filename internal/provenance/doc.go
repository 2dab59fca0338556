// Package provenance turns build facts into an in-toto Statement carrying a
// SLSA v1.0 provenance predicate. It is the one core that every front end
// feeds: GitHub mode ([github.com/hallmark-dev/hallmark/internal/githubctx])
// and factory mode describe a build as a [Build], and this package checks it
// and lays it out.
//
// A front end implements [Context]; the caller hashes the outputs with
// [github.com/hallmark-dev/hallmark/internal/subject], splits them into
// groups of at most [MaxSubjects], and makes one statement per group:
//
//	b, err := front.Build(ctx)
//	if err != nil {
//		return err
//	}
//	for _, part := range subject.Split(subjects, provenance.MaxSubjects) {
//		st, err := provenance.Statement(part, b)
//		if err != nil {
//			return err
//		}
//		payload, err := provenance.MarshalStatement(st)
//		if err != nil {
//			return err
//		}
//		// sign payload as a DSSE envelope of type provenance.PayloadTypeInToto
//	}
//
// [Statement] refuses to produce provenance a verifier would have to
// second-guess: every required field is checked, and a failure is a
// [*FieldError] naming the field, matching one of the sentinels of this
// package with [errors.Is]. [MarshalStatement] gives compact JSON with
// sorted keys, the same bytes for the same statement every time.
package provenance
