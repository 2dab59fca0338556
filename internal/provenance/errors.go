package provenance

import (
	"errors"
	"fmt"
)

var (
	// ErrNoSubjects is matched when a statement would have no subject.
	ErrNoSubjects = errors.New("no subjects")
	// ErrTooManySubjects is matched when a statement would have more than
	// [MaxSubjects] subjects. Callers split first, with
	// github.com/hallmark-dev/hallmark/internal/subject.Split.
	ErrTooManySubjects = errors.New("too many subjects")
	// ErrDuplicateSubject is matched when one artifact is listed twice:
	// two subjects of one statement with one name and a digest in common.
	// One name with different digests (two images of one repository) is
	// two artifacts, and allowed.
	ErrDuplicateSubject = errors.New("duplicate subject")
	// ErrInvalidInvocationID is matched for an invocation id with
	// whitespace, control characters or invalid UTF-8. SLSA leaves its
	// format to the builder: it need not be a URI.
	ErrInvalidInvocationID = errors.New("invalid invocation id")
	// ErrInvalidSubjectName is matched for a subject name that is empty or
	// not valid UTF-8.
	ErrInvalidSubjectName = errors.New("invalid subject name")
	// ErrInvalidDigest is matched for a digest set that is empty, names an
	// algorithm in-toto does not know, or holds a value that is not
	// lowercase hex of the algorithm's length.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrMissingField is matched when a required field is empty.
	ErrMissingField = errors.New("required field is empty")
	// ErrInvalidURI is matched for a field that must be an absolute URI and
	// is not.
	ErrInvalidURI = errors.New("not an absolute URI")
	// ErrInvalidParameters is matched for parameters that cannot be written
	// as JSON: an unsupported type, invalid UTF-8, NaN or infinity.
	ErrInvalidParameters = errors.New("invalid parameters")
	// ErrInvalidTime is matched for timestamps out of range, or a build that
	// finished before it started.
	ErrInvalidTime = errors.New("invalid time")
	// ErrInvalidStatement is matched when the in-toto library's own
	// validation of the statement or predicate fails.
	ErrInvalidStatement = errors.New("invalid statement")
)

// FieldError reports a field of the statement that is missing or wrong.
type FieldError struct {
	// Field is the field's path in the statement's JSON, such as
	// "runDetails.builder.id" or "subject[3].digest.sha256".
	Field string
	// Err says what is wrong and matches one of the sentinels above.
	Err error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("provenance: %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, sentinel error, format string, args ...any) *FieldError {
	if format == "" {
		return &FieldError{Field: field, Err: sentinel}
	}
	return &FieldError{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
