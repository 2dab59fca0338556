package signer

import (
	"errors"
	"fmt"
	"strings"
)

// Errors Sign returns, to tell the user which server or input to look at.
// Match them with errors.Is; a failure of one server is also a
// *ServerError naming it.
var (
	ErrConfig = errors.New("signing config")
	// ErrToken: the identity token cannot buy a certificate (not a JWT,
	// expired, not yet valid, another audience), found before Fulcio is
	// asked.
	ErrToken = errors.New("identity token")
	// ErrCertificate: Fulcio gave no usable certificate.
	ErrCertificate = errors.New("getting a signing certificate from fulcio")
	// ErrIdentity: Fulcio certified another identity (or key) than the
	// token's. Nothing was timestamped or logged.
	ErrIdentity = errors.New("the certificate names another identity than the identity token")
	// ErrTimestamp: a timestamp authority gave no usable timestamp.
	ErrTimestamp = errors.New("getting a timestamp from the timestamp authority")
	// ErrLog: a transparency log gave no usable entry.
	ErrLog = errors.New("writing the transparency log entry to rekor")
	// ErrTimeout: a server did not answer within the per-try timeout or
	// before the signing deadline.
	ErrTimeout = errors.New("timed out")
	ErrSigning = errors.New("signing")
	ErrCheck   = errors.New("the new bundle does not verify against the trusted root")
)

// ServerError is the failure of one server: which kind (ErrCertificate,
// ErrTimestamp or ErrLog), at which URL, and what went wrong.
type ServerError struct {
	Kind error
	URL  string
	Err  error
	// Logged says the log may have accepted an entry for this signature
	// before the failure: the entry would be spent, though no bundle
	// holds it.
	Logged bool
}

func (e *ServerError) Error() string {
	msg := fmt.Sprintf("%v at %s: %v", e.Kind, e.URL, e.Err)
	if e.Logged {
		msg += " (the log may hold an entry for this signature that no bundle uses)"
	}
	return msg
}

func (e *ServerError) Unwrap() []error { return []error{e.Kind, e.Err} }

// redact replaces every occurrence of secret in err's message. Servers
// echo what they were sent; a token must never reach a log.
func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[identity token]"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
