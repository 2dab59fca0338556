package signer

import (
	"fmt"
	"sync"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// SharedChecks wraps trusted material for signings that share it: the
// sigstore-go verifier each new bundle is checked with before it is handed
// out is built once for each kind of evidence a signing config asks for
// (how many logs, how many of them Rekor v1, how many timestamp
// authorities) and reused by every Sign, Session and SignWithCertificate
// given the result as Options.TrustedRoot, from any number of goroutines.
// It trusts exactly what trusted trusts; trusted material already wrapped
// is returned as it is, nil stays nil.
//
// sigstore-go's verify.Verifier may be shared: NewVerifier fixes its
// trusted material and options, and Verify only reads them; what one
// verification works on (the bundle, its certificate) is its own.
func SharedChecks(trusted root.TrustedMaterial) root.TrustedMaterial {
	switch t := trusted.(type) {
	case nil:
		return nil
	case *checkedRoot:
		return t
	}
	return &checkedRoot{TrustedMaterial: trusted, verifiers: map[evidence]*verify.Verifier{}}
}

// checkedRoot is trusted material with the verifiers of the bundle check,
// by the evidence they require.
type checkedRoot struct {
	root.TrustedMaterial

	mu        sync.Mutex
	verifiers map[evidence]*verify.Verifier
}

// evidence is what a bundle must carry: an entry in each log (integrated
// times from the Rekor v1 logs) and a timestamp of each TSA.
type evidence struct {
	logs, v1Logs, tsas int
}

func evidenceOf(svc services) evidence {
	e := evidence{logs: len(svc.rekor), tsas: len(svc.tsa)}
	for _, r := range svc.rekor {
		if r.MajorAPIVersion == 1 {
			e.v1Logs++
		}
	}
	return e
}

// verifier returns the verifier requiring e, built on first use.
func (c *checkedRoot) verifier(e evidence) (*verify.Verifier, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.verifiers[e]; v != nil {
		return v, nil
	}
	// The check reads no statement: sigstore-go is spared decoding its
	// predicate into a protobuf tree, many times an SBOM's size.
	opts := []verify.VerifierOption{verify.WithoutStatementPredicate()}
	if e.logs > 0 {
		opts = append(opts, verify.WithTransparencyLog(e.logs))
		if e.v1Logs > 0 {
			opts = append(opts, verify.WithIntegratedTimestamps(e.v1Logs))
		}
	}
	if e.tsas > 0 {
		opts = append(opts, verify.WithSignedTimestamps(e.tsas))
	}
	v, err := verify.NewVerifier(c.TrustedMaterial, opts...)
	if err != nil {
		return nil, err
	}
	c.verifiers[e] = v
	return v, nil
}

// check verifies a new bundle against the trusted root with the evidence
// that was asked for (one entry per log, one timestamp per TSA) and the
// identity the certificate was checked to name.
func (c *checkedRoot) check(b *signedBundle, svc services, id verify.CertificateIdentity) error {
	v, err := c.verifier(evidenceOf(svc))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCheck, err)
	}
	policy := verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(id))
	if _, err := v.Verify(b, policy); err != nil {
		return fmt.Errorf("%w: %v", ErrCheck, err)
	}
	return nil
}

// signedBundle is a bundle being made, as sigstore-go's checks read it: its
// envelope, fixed once signed, is decoded once, where a bundle decodes it
// and re-encodes its payload in base64 on every call (a payload of an
// image's SBOM weighs megabytes); everything else, such as the log entries
// each log adds, is read from the bundle as it is at the call.
type signedBundle struct {
	*bundle.Bundle

	sc    verify.SignatureContent
	scErr error
	once  sync.Once
}

func newSignedBundle(pb *protobundle.Bundle) *signedBundle {
	return &signedBundle{Bundle: &bundle.Bundle{Bundle: pb}}
}

func (b *signedBundle) SignatureContent() (verify.SignatureContent, error) {
	b.once.Do(func() { b.sc, b.scErr = b.Bundle.SignatureContent() })
	return b.sc, b.scErr
}
