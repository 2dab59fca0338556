package signer

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// PayloadTypeInToto is the DSSE payload type of in-toto statements.
const PayloadTypeInToto = formats.PayloadTypeInToto

const bundleMediaType = formats.BundleMediaTypeV03

// Options say where and how to sign.
type Options struct {
	// SigningConfig names the Fulcio, Rekor and TSA to use. Required.
	SigningConfig *root.SigningConfig
	// TrustedRoot, when set, checks the certificate and each timestamp
	// before anything is logged, each log entry as it comes, and the new
	// bundle before Sign returns it: a bundle that would not verify is
	// never handed out. A Session builds the verifier of that last check
	// once; wrapped with SharedChecks, every signing given it shares one.
	TrustedRoot root.TrustedMaterial
	// IdentityToken is the OIDC token Fulcio exchanges for a certificate.
	IdentityToken string
	// Audience is the audience the identity token must be for: the client
	// ID of Fulcio's issuer. DefaultAudience when empty.
	Audience string
	// Private signs without a transparency log: the TSA's timestamp alone
	// proves the signing time, and nothing is published.
	Private bool
	// Deadline bounds the whole signing, every server and every retry
	// (DefaultDeadline when zero). Timeout bounds each try of a request
	// (DefaultTimeout when zero); no try runs past the deadline. Retries is
	// how many more tries a failed request gets within the deadline:
	// DefaultRetries when zero, none when negative.
	Deadline time.Duration
	Timeout  time.Duration
	Retries  int
	// Backoff is the first pause between tries; it doubles (1 s when zero).
	// A longer Retry-After from the server is honoured.
	Backoff time.Duration
	// Now picks the services valid at this time and judges the token's
	// validity; time.Now when nil.
	Now func() time.Time
	// Log receives progress; silent when nil.
	Log *slog.Logger
	// Transport is the HTTP transport underneath; http.DefaultTransport
	// when nil.
	Transport http.RoundTripper
}

// Defaults of Options. DefaultDeadline leaves room for three tries of
// DefaultTimeout with their backoff, and ends a signing that cannot finish
// well within a minute.
const (
	DefaultDeadline = 45 * time.Second
	DefaultTimeout  = 10 * time.Second
	DefaultRetries  = 2
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
	now       func() time.Time
	deadline  time.Duration
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	audience  string
	log       *slog.Logger
	transport http.RoundTripper
}

func (o Options) settings() (settings, error) {
	st := settings{now: time.Now, deadline: o.Deadline, timeout: o.Timeout, retries: o.Retries,
		backoff: o.Backoff, audience: o.Audience, log: o.Log, transport: o.Transport}
	if o.SigningConfig == nil {
		return st, fmt.Errorf("%w: none given", ErrConfig)
	}
	if o.Now != nil {
		st.now = o.Now
	}
	if st.deadline == 0 {
		st.deadline = DefaultDeadline
	}
	if st.timeout == 0 {
		st.timeout = min(DefaultTimeout, st.deadline)
	}
	if st.deadline < 0 || st.timeout < 0 || o.Backoff < 0 {
		return st, fmt.Errorf("%w: negative deadline, timeout or backoff", ErrConfig)
	}
	if st.retries == 0 {
		st.retries = DefaultRetries
	}
	if st.retries < 0 {
		st.retries = 0
	}
	if st.backoff == 0 {
		st.backoff = time.Second
	}
	if st.audience == "" {
		st.audience = DefaultAudience
	}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	if st.transport == nil {
		st.transport = http.DefaultTransport
	}
	return st, nil
}

func (st settings) caller(maxBody int64) *caller {
	return &caller{transport: st.transport, perTry: st.timeout, tries: st.retries + 1,
		backoff: st.backoff, deadline: st.deadline, maxBody: maxBody}
}

// Sign signs payload (of DSSE payloadType) into a Sigstore bundle v0.3 with
// an ephemeral key certified by Fulcio for the identity token.
//
// Everything that can fail without spending a log entry is checked before
// the log is written: the token's validity and audience, that the
// certificate names the token's identity and chains to the trusted root,
// and that each timestamp is over this signature and chains to the trusted
// root. The whole signing ends by o.Deadline.
func Sign(ctx context.Context, payload []byte, payloadType string, o Options) (*Result, error) {
	s, err := NewSession(o)
	if err != nil {
		return nil, err
	}
	return s.Sign(ctx, payload, payloadType)
}

// Session signs several payloads with one ephemeral key and one Fulcio
// certificate, as Sign signs one: provenance and the SBOMs about the same
// subjects carry the same certificate, so they verify with one identity.
// The certificate is asked for by the first Sign that needs it; the others
// wait for it. Each payload gets its own timestamps and log entry. A
// Session serves any number of goroutines.
type Session struct {
	s      *session
	kp     sign.Keypair
	token  string
	claims map[string]any
	want   expectation

	mu      sync.Mutex
	cert    *x509.Certificate
	certErr error
}

// NewSession checks what Sign checks before any request (the options, the
// token's validity and audience, the servers of the signing config) and
// makes the session's ephemeral key.
func NewSession(o Options) (*Session, error) {
	st, err := o.settings()
	if err != nil {
		return nil, err
	}
	if o.IdentityToken == "" {
		return nil, ErrNoIdentityToken
	}
	claims, err := CheckToken(o.IdentityToken, st.audience, st.now())
	if err != nil {
		return nil, err
	}
	want, err := expectFromClaims(claims)
	if err != nil {
		return nil, err
	}
	svc, err := chooseServices(o.SigningConfig, st.now(), o.Private, true)
	if err != nil {
		return nil, err
	}
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key: %v", ErrSigning, err)
	}
	return &Session{s: newSession(st, svc, o.TrustedRoot), kp: kp, token: o.IdentityToken, claims: claims, want: want}, nil
}

// Sign signs payload (of DSSE payloadType) with the session's key and
// certificate; see the package function Sign for the order of the checks.
// A failure to get the certificate fails every Sign of the session.
func (se *Session) Sign(ctx context.Context, payload []byte, payloadType string) (*Result, error) {
	s := se.s
	s.log.Info("signing", "fulcio", s.svc.fulcio.URL, "logs", len(s.svc.rekor), "timestamp_authorities", len(s.svc.tsa))
	res, err := s.sign(ctx, payload, payloadType, se.kp, se.certificate, se.want)
	return res, redact(err, se.token)
}

// certificate gets the session's certificate once.
func (se *Session) certificate(ctx context.Context) (*x509.Certificate, error) {
	se.mu.Lock()
	defer se.mu.Unlock()
	if se.cert == nil && se.certErr == nil {
		se.cert, se.certErr = se.s.certificate(ctx, se.kp, se.token, se.claims)
	}
	return se.cert, se.certErr
}

// session is one signing: its settings, servers and trust.
type session struct {
	settings
	svc services
	// tm is the trusted root, nil when none was given; checks is the
	// same, with the verifiers of the bundle check.
	tm     root.TrustedMaterial
	checks *checkedRoot
}

func newSession(st settings, svc services, tm root.TrustedMaterial) *session {
	s := &session{settings: st, svc: svc}
	if tm != nil {
		s.checks = SharedChecks(tm).(*checkedRoot)
		s.tm = s.checks
	}
	return s
}

// sign runs the signing pipeline, in this order: sign the payload; get the
// certificate and check it names want; get each timestamp and check it; then
// — only then — write each log entry and check it; finally verify the whole
// bundle with the certificate's identity.
func (s *session) sign(ctx context.Context, payload []byte, payloadType string, kp sign.Keypair,
	getCert func(context.Context) (*x509.Certificate, error), want expectation) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()

	content := &sign.DSSEData{Data: payload, PayloadType: payloadType}
	sig, digest, err := kp.SignData(ctx, content.PreAuthEncoding())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigning, err)
	}
	pb := &protobundle.Bundle{MediaType: bundleMediaType}
	content.Bundle(pb, sig, digest, kp.GetHashAlgorithm())

	cert, err := getCert(ctx)
	if err != nil {
		return nil, err
	}
	summary, err := certificate.SummarizeCertificate(cert)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the certificate: %v", ErrSigning, err)
	}
	id, err := want.check(summary)
	if err != nil {
		return nil, s.fulcioError(err)
	}
	if s.tm != nil {
		if _, err := verify.VerifyLeafCertificate(s.now(), cert, s.tm); err != nil {
			return nil, s.fulcioError(fmt.Errorf("the certificate for %s does not chain to the trusted root's certificate authorities: %v",
				summary.SubjectAlternativeName, err))
		}
	}
	pb.VerificationMaterial = &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}},
	}

	for _, t := range s.svc.tsa {
		ts, err := s.timestamp(ctx, t.URL, sig)
		if err != nil {
			return nil, err
		}
		vm := pb.VerificationMaterial
		if vm.TimestampVerificationData == nil {
			vm.TimestampVerificationData = &protobundle.TimestampVerificationData{}
		}
		vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps,
			&protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}

	// Everything foreseeable is checked: from here on a failure may have
	// spent a log entry.
	signed := newSignedBundle(pb)
	for _, r := range s.svc.rekor {
		if err := s.logEntry(ctx, r, cert, signed); err != nil {
			return nil, err
		}
	}
	if s.checks != nil {
		if err := s.checks.check(signed, s.svc, id); err != nil {
			return nil, err
		}
	}
	res := &Result{Bundle: signed.Bundle, LogIndex: -1,
		Identity: summary.SubjectAlternativeName, Issuer: summary.Extensions.Issuer, Extensions: summary.Extensions}
	res.fillEvidence(pb, s.svc)
	return res, nil
}

func (s *session) fulcioError(err error) error {
	if s.svc.fulcio.URL == "" {
		return err // a certificate of our own (SignWithCertificate)
	}
	return &ServerError{Kind: ErrCertificate, URL: s.svc.fulcio.URL, Err: err}
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
