package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// PayloadTypeInToto is the DSSE payload type of in-toto statements.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// Options say where and how to sign.
type Options struct {
	// SigningConfig names the Fulcio, Rekor and TSA to use. Required.
	SigningConfig *root.SigningConfig
	// TrustedRoot, when set, checks the new bundle before Sign returns it:
	// a bundle that would not verify is never handed out.
	TrustedRoot root.TrustedMaterial
	// IdentityToken is the OIDC token Fulcio exchanges for a certificate.
	IdentityToken string
	// Private signs without a transparency log: the TSA's timestamp alone
	// proves the signing time, and nothing is published.
	Private bool
	// Timeout bounds each request to a server (30 s when zero). Retries is
	// how many more tries a failed certificate, timestamp or Rekor v1
	// request gets: DefaultRetries when zero, none when negative.
	Timeout time.Duration
	Retries int
	// Backoff is the first pause between tries; it doubles (1 s when zero).
	Backoff time.Duration
	// Now picks the services valid at this time; time.Now when nil.
	Now func() time.Time
	// Log receives progress; silent when nil.
	Log *slog.Logger
	// Transport is the HTTP transport underneath; http.DefaultTransport
	// when nil.
	Transport http.RoundTripper
}

// DefaultRetries is how many more tries a failed certificate or timestamp
// request gets when Options.Retries is zero.
const DefaultRetries = 2

// Errors Sign returns, to tell the user which server to look at.
var (
	ErrConfig      = errors.New("signing config")
	ErrCertificate = errors.New("getting a signing certificate from fulcio")
	ErrSigning     = errors.New("signing")
	ErrCheck       = errors.New("the new bundle does not verify against the trusted root")
)

// Result describes a signed bundle.
type Result struct {
	Bundle *bundle.Bundle
	// Identity is the certificate's subject alternative name and issuer.
	Identity, Issuer string
	// Extensions are the certificate's Fulcio extensions.
	Extensions certificate.Extensions
	// LogIndex is the transparency log index, -1 when none.
	LogIndex int64
	// LogURL is the log that holds the entry; empty when none.
	LogURL string
	// Timestamped is true when a TSA timestamp is in the bundle.
	Timestamped bool
}

// services are the servers chosen from a signing config.
type services struct {
	fulcio root.Service
	rekor  []root.Service
	tsa    []root.Service
}

// chooseServices picks the servers valid at now: Fulcio when withFulcio,
// the logs (none when private) and the timestamp authorities. At least a log
// or a TSA is required: one of them must prove when the short-lived
// certificate was used.
func chooseServices(sc *root.SigningConfig, now time.Time, private, withFulcio bool) (services, error) {
	var s services
	var err error
	if withFulcio {
		if s.fulcio, err = root.SelectService(sc.FulcioCertificateAuthorityURLs(), sign.FulcioAPIVersions, now); err != nil {
			return s, fmt.Errorf("%w: no usable Fulcio: %v", ErrConfig, err)
		}
	}
	if !private && len(sc.RekorLogURLs()) > 0 {
		if s.rekor, err = root.SelectServices(sc.RekorLogURLs(), sc.RekorLogURLsConfig(), sign.RekorAPIVersions, now); err != nil {
			return s, fmt.Errorf("%w: no usable Rekor: %v", ErrConfig, err)
		}
	}
	if len(sc.TimestampAuthorityURLs()) > 0 {
		if s.tsa, err = root.SelectServices(sc.TimestampAuthorityURLs(), sc.TimestampAuthorityURLsConfig(), sign.TimestampAuthorityAPIVersions, now); err != nil {
			return s, fmt.Errorf("%w: no usable timestamp authority: %v", ErrConfig, err)
		}
	}
	if len(s.rekor) == 0 && len(s.tsa) == 0 {
		if private {
			return s, fmt.Errorf("%w: private signing needs a timestamp authority, and the signing config lists none", ErrConfig)
		}
		return s, fmt.Errorf("%w: lists neither a transparency log nor a timestamp authority: nothing would prove when the short-lived certificate was used", ErrConfig)
	}
	return s, nil
}

// settings are Options with their defaults applied.
type settings struct {
	now     func() time.Time
	timeout time.Duration
	retries int
	log     *slog.Logger
	rt      *retryTransport
}

func (o Options) settings() settings {
	st := settings{now: time.Now, timeout: o.Timeout, retries: o.Retries, log: o.Log}
	if o.Now != nil {
		st.now = o.Now
	}
	if st.timeout == 0 {
		st.timeout = 30 * time.Second
	}
	if st.retries == 0 {
		st.retries = DefaultRetries
	}
	if st.retries < 0 {
		st.retries = 0
	}
	backoff := o.Backoff
	if backoff == 0 {
		backoff = time.Second
	}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	st.rt = &retryTransport{base: o.Transport, attempts: st.retries + 1, perTry: st.timeout, backoff: backoff}
	return st
}

// timeEvidence adds the logs and timestamp authorities of svc to opts.
// Rekor v1 retries inside its client and answers a replayed entry with
// 409, which sigstore-go resolves to the existing entry. Rekor v2 entries
// are not retried by a transport: the ephemeral key or certificate of a
// signature is new, so one attempt never collides with an earlier run's.
func (st settings) timeEvidence(opts *sign.BundleOptions, svc services) {
	for _, t := range svc.tsa {
		opts.TimestampAuthorities = append(opts.TimestampAuthorities,
			sign.NewTimestampAuthority(&sign.TimestampAuthorityOptions{URL: t.URL, Timeout: -1, Retries: 0, Transport: st.rt}))
	}
	for _, r := range svc.rekor {
		opts.TransparencyLogs = append(opts.TransparencyLogs,
			sign.NewRekor(&sign.RekorOptions{BaseURL: r.URL, Version: r.MajorAPIVersion, Timeout: st.timeout, Retries: uint(st.retries)}))
	}
}

// Sign signs payload (of DSSE payloadType) into a Sigstore bundle v0.3.
func Sign(ctx context.Context, payload []byte, payloadType string, o Options) (*Result, error) {
	if o.SigningConfig == nil {
		return nil, fmt.Errorf("%w: none given", ErrConfig)
	}
	if o.IdentityToken == "" {
		return nil, ErrNoIdentityToken
	}
	st := o.settings()
	svc, err := chooseServices(o.SigningConfig, st.now(), o.Private, true)
	if err != nil {
		return nil, err
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrSigning, err)
	}
	opts := sign.BundleOptions{
		CertificateProvider: &fulcioProvider{
			inner: sign.NewFulcio(&sign.FulcioOptions{BaseURL: svc.fulcio.URL, Timeout: -1, Retries: 0, Transport: st.rt}),
			url:   svc.fulcio.URL,
		},
		CertificateProviderOptions: &sign.CertificateProviderOptions{IDToken: o.IdentityToken},
		Context:                    ctx,
	}
	st.timeEvidence(&opts, svc)
	st.log.Info("signing", "fulcio", svc.fulcio.URL, "logs", len(svc.rekor), "timestamp_authorities", len(svc.tsa))
	pb, err := sign.Bundle(&sign.DSSEData{Data: payload, PayloadType: payloadType}, kp, opts)
	if err != nil {
		var fe *fulcioError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrSigning, err)
	}
	if o.TrustedRoot != nil {
		if err := check(pb, o.TrustedRoot, svc); err != nil {
			return nil, err
		}
	}
	return describe(pb, svc)
}

// check verifies a new bundle against the trusted root with the evidence
// that was asked for: one entry per log, one timestamp per TSA.
func check(pb *protobundle.Bundle, tm root.TrustedMaterial, svc services) error {
	var opts []verify.VerifierOption
	if n := len(svc.rekor); n > 0 {
		opts = append(opts, verify.WithTransparencyLog(n))
		v1 := 0
		for _, r := range svc.rekor {
			if r.MajorAPIVersion == 1 {
				v1++
			}
		}
		if v1 > 0 {
			opts = append(opts, verify.WithIntegratedTimestamps(v1))
		}
	}
	if n := len(svc.tsa); n > 0 {
		opts = append(opts, verify.WithSignedTimestamps(n))
	}
	v, err := verify.NewVerifier(tm, opts...)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCheck, err)
	}
	policy := verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithoutIdentitiesUnsafe())
	if _, err := v.Verify(&bundle.Bundle{Bundle: pb}, policy); err != nil {
		return fmt.Errorf("%w: %v", ErrCheck, err)
	}
	return nil
}

// fulcioProvider marks Fulcio's errors, so a failed certificate request is
// told apart from a failed log or timestamp request.
type fulcioProvider struct {
	inner sign.CertificateProvider
	url   string
}

type fulcioError struct {
	url string
	err error
}

func (e *fulcioError) Error() string {
	return fmt.Sprintf("%v at %s: %v", ErrCertificate, e.url, e.err)
}
func (e *fulcioError) Unwrap() []error { return []error{ErrCertificate, e.err} }

func (f *fulcioProvider) GetCertificate(ctx context.Context, kp sign.Keypair, opts *sign.CertificateProviderOptions) ([]byte, error) {
	der, err := f.inner.GetCertificate(ctx, kp, opts)
	if err != nil {
		return nil, &fulcioError{url: f.url, err: err}
	}
	return der, nil
}

func describe(pb *protobundle.Bundle, svc services) (*Result, error) {
	b := &bundle.Bundle{Bundle: pb}
	r := &Result{Bundle: b, LogIndex: -1}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigning, err)
	}
	if c := vc.Certificate(); c != nil {
		if err := r.fillIdentity(c); err != nil {
			return nil, err
		}
	}
	r.fillEvidence(pb, svc)
	return r, nil
}

// fillEvidence records the bundle's log entry and whether it is timestamped.
func (r *Result) fillEvidence(pb *protobundle.Bundle, svc services) {
	if entries := pb.GetVerificationMaterial().GetTlogEntries(); len(entries) > 0 {
		r.LogIndex = entries[0].GetLogIndex()
		if len(svc.rekor) > 0 {
			r.LogURL = svc.rekor[0].URL
		}
	}
	r.Timestamped = len(pb.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) > 0
}

func (r *Result) fillIdentity(c *x509.Certificate) error {
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		return fmt.Errorf("%w: reading the certificate: %v", ErrSigning, err)
	}
	r.Identity = s.SubjectAlternativeName
	r.Issuer = s.Extensions.Issuer
	r.Extensions = s.Extensions
	return nil
}
