package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// timestamp asks the TSA at url for an RFC 3161 timestamp over sig and
// checks the answer before it is used: it must be a timestamp over the
// SHA-256 of exactly sig, and (with a trusted root) signed by one of the
// root's timestamp authorities.
func (s *session) timestamp(ctx context.Context, url string, sig []byte) ([]byte, error) {
	fail := func(err error) error { return &ServerError{Kind: ErrTimestamp, URL: url, Err: err} }
	sum := sha256.Sum256(sig)
	req, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:]}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: timestamp request: %v", ErrSigning, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/timestamp-query")
	r, err := s.caller(1<<20).do(ctx, http.MethodPost, url, h, req)
	if err != nil {
		return nil, fail(err)
	}
	if r.status != http.StatusOK && r.status != http.StatusCreated {
		return nil, fail(fmt.Errorf("%s%s", statusText(r.status), bodySnippet(r.body)))
	}
	if err := checkTimestamp(r.body, sig, s.tm); err != nil {
		return nil, fail(err)
	}
	return r.body, nil
}

// errOtherBytes: a timestamp is over something else than our signature.
var errOtherBytes = errors.New("the timestamp is over other bytes than this signature")

// checkTimestamp checks an RFC 3161 answer: it parses, its message imprint
// is SHA-256 over sig, and (when tm is given) one of tm's timestamp
// authorities signed it.
func checkTimestamp(answer, sig []byte, tm root.TrustedMaterial) error {
	ts, err := timestamp.ParseResponse(answer)
	if err != nil {
		return fmt.Errorf("the answer is not an RFC 3161 timestamp: %v", err)
	}
	sum := sha256.Sum256(sig)
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, sum[:]) {
		return fmt.Errorf("%w (imprint %s %s, want sha256 %s)", errOtherBytes,
			ts.HashAlgorithm, hex.EncodeToString(ts.HashedMessage), hex.EncodeToString(sum[:]))
	}
	if tm == nil {
		return nil
	}
	var errs []error
	for _, ta := range tm.TimestampingAuthorities() {
		if _, err := ta.Verify(answer, sig); err == nil {
			return nil
		} else {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return errors.New("the trusted root lists no timestamp authority to check the timestamp with")
	}
	return fmt.Errorf("no timestamp authority of the trusted root signed the timestamp: %w", errors.Join(errs...))
}
