package verifier

import (
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// onceBundle is a local wrapper around a bundle for sigstore-go's Verify,
// which takes any verify.SignedEntity: it decodes the bundle's signing
// certificate, envelope and log entries once per verification, where
// sigstore-go asks the bundle for them at every step and a bundle decodes
// them again on each call (the certificate twice, the envelope three times,
// re-encoding its payload in base64 each time). What it returns is what the
// bundle returns, decoded from the same bytes; the bundle is not changed
// while a verification runs, and a onceBundle serves one verification.
type onceBundle struct {
	*bundle.Bundle

	vc      verify.VerificationContent
	vcErr   error
	vcDone  bool
	sc      verify.SignatureContent
	scErr   error
	scDone  bool
	tl      []*tlog.Entry
	tlErr   error
	tlDone  bool
	verDone bool
	ver     string
	verErr  error
}

var _ verify.SignedEntity = (*onceBundle)(nil)

func (o *onceBundle) VerificationContent() (verify.VerificationContent, error) {
	if !o.vcDone {
		o.vc, o.vcErr = o.Bundle.VerificationContent()
		o.vcDone = true
	}
	return o.vc, o.vcErr
}

func (o *onceBundle) SignatureContent() (verify.SignatureContent, error) {
	if !o.scDone {
		o.sc, o.scErr = o.Bundle.SignatureContent()
		o.scDone = true
	}
	return o.sc, o.scErr
}

func (o *onceBundle) TlogEntries() ([]*tlog.Entry, error) {
	if !o.tlDone {
		o.tl, o.tlErr = o.Bundle.TlogEntries()
		o.tlDone = true
	}
	return o.tl, o.tlErr
}

func (o *onceBundle) Version() (string, error) {
	if !o.verDone {
		o.ver, o.verErr = o.Bundle.Version()
		o.verDone = true
	}
	return o.ver, o.verErr
}
