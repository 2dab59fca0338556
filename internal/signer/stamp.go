package signer

import (
	"context"
	"errors"
	"fmt"
)

// Timestamp asks a timestamp authority of o.SigningConfig for an RFC 3161
// timestamp over data (the SHA-256 of exactly these bytes), and checks the
// answer as Sign checks its own: over these bytes and, when o.TrustedRoot
// is set, signed by one of its timestamp authorities. The authorities are
// tried in the signing config's order until one answers. It spends no log
// entry and needs no identity token; o.Deadline bounds it.
//
// cosign's legacy attestation layers carry a timestamp over the layer's
// whole DSSE envelope, not over the signature a bundle's timestamp covers:
// this is how such a layer gets one.
func Timestamp(ctx context.Context, data []byte, o Options) ([]byte, error) {
	st, err := o.settings()
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: nothing to timestamp", ErrSigning)
	}
	if len(o.SigningConfig.TimestampAuthorityURLs()) == 0 {
		return nil, fmt.Errorf("%w: the signing config lists no timestamp authority", ErrConfig)
	}
	svc, err := chooseServices(o.SigningConfig, st.now(), true, false)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, st.deadline)
	defer cancel()
	s := newSession(st, svc, o.TrustedRoot)
	var errs []error
	for _, tsa := range svc.tsa {
		ts, err := s.timestamp(ctx, tsa.URL, data)
		if err == nil {
			return ts, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
