package verifier

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"

	// Rekor's intoto v0.0.1 entries, which cosign wrote for attestations
	// until v2.0 (slsa-github-generator's container workflow before
	// v1.5.0 among them), are parsed by the same registry sigstore-go
	// parses the others with; sigstore-go does not register this version.
	// Its verifier compares a parsed entry's signature, which this kind
	// does not log, so such an entry never passes it: checkLegacySignature
	// verifies it.
	_ "github.com/sigstore/rekor/pkg/types/intoto/v0.0.1"
)

// Rekor's kind and version of the legacy in-toto entries.
const (
	legacyKind    = "intoto"
	legacyVersion = "0.0.1"
)

// ErrLegacyEntry: a Rekor intoto v0.0.1 entry that does not stand for this
// envelope and certificate, or that cannot stand beside the bundle's other
// evidence.
var ErrLegacyEntry = errors.New("legacy intoto log entry")

// legacyEntries reports whether the bundle's log entries are Rekor intoto
// v0.0.1 entries (all of them: a bundle mixing them with other kinds is
// refused by checkLegacySignature).
func legacyEntries(b *bundle.Bundle) bool {
	for _, e := range b.GetVerificationMaterial().GetTlogEntries() {
		if kv := e.GetKindVersion(); kv.GetKind() == legacyKind && kv.GetVersion() == legacyVersion {
			return true
		}
	}
	return false
}

// legacyBody is what an intoto v0.0.1 entry logs: the hash of the envelope
// as submitted, the hash of its payload, and the signer's certificate. It
// does not log the signature.
type legacyBody struct {
	payloadHash []byte
	cert        []byte // DER
}

// parseLegacyBody reads the canonicalized body of an intoto v0.0.1 entry,
// strictly (the body is signed by the log, but read here as untrusted
// input all the same).
func parseLegacyBody(body []byte) (legacyBody, error) {
	v, err := decodeStrict(body)
	if err != nil {
		return legacyBody{}, err
	}
	r := &reader{}
	top := r.asObject(v, "body")
	if r.err != nil {
		return legacyBody{}, r.err
	}
	if r.str(top, "body", "kind") != legacyKind || r.str(top, "body", "apiVersion") != legacyVersion {
		return legacyBody{}, fmt.Errorf("not an %s v%s entry", legacyKind, legacyVersion)
	}
	spec := r.obj(top, "body", "spec")
	ph := r.obj(r.obj(spec, "body.spec", "content"), "body.spec.content", "payloadHash")
	alg, value := r.str(ph, "body.spec.content.payloadHash", "algorithm"), r.str(ph, "body.spec.content.payloadHash", "value")
	key := r.str(spec, "body.spec", "publicKey")
	if r.err != nil {
		return legacyBody{}, r.err
	}
	if alg != "sha256" || len(value) != 2*sha256.Size {
		// Entries made before Rekor logged the payload hash bind the
		// payload only through the hash of the envelope as it was
		// submitted, which a bundle does not keep.
		return legacyBody{}, fmt.Errorf("the entry logs no sha256 payload hash (algorithm %q)", alg)
	}
	digest, err := hex.DecodeString(value)
	if err != nil {
		return legacyBody{}, fmt.Errorf("payload hash: %w", err)
	}
	pemBytes, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return legacyBody{}, fmt.Errorf("publicKey is not base64: %w", err)
	}
	block, rest := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		return legacyBody{}, errors.New("publicKey is not one PEM certificate")
	}
	return legacyBody{payloadHash: digest, cert: block.Bytes}, nil
}

// checkLegacySignature verifies a bundle whose log entries are Rekor
// intoto v0.0.1 entries with sigstore-go's parts, as sigstore-go verifies
// other entries and as cosign verifies these (pkg/cosign.VerifyBundle,
// re-implemented: cosign does not build against this sigstore-go): each
// entry's inclusion promise under a log of the trusted root valid at its
// integrated time; the entry logs this certificate and this payload; the
// certificate chains to a Fulcio CA of the trusted root at every
// integrated time, with the SCTs the policy requires; its key signed the
// envelope. Where cosign compares the logged hash of the envelope as
// submitted, which a bundle does not keep, this compares the logged hash
// of the payload: both bind the statement, and the signature over it is
// checked against the same logged certificate.
func (r *run) checkLegacySignature() (certFields, []Timestamp, error) {
	c := r.c
	entries, err := r.b.TlogEntries()
	if err != nil {
		return certFields{}, nil, fail(CheckTlog, "readable log entries", "not", err)
	}
	if ts := r.b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps(); len(ts) > 0 {
		return certFields{}, nil, fail(CheckTimestamp, "no signed timestamps beside a legacy intoto entry", fmt.Sprint(len(ts)), ErrLegacyEntry)
	}
	if c.thresholds.signed > 0 {
		return certFields{}, nil, fail(CheckTimestamp, fmt.Sprintf("%d signed timestamps", c.thresholds.signed), "none (a legacy intoto entry only)", ErrLegacyEntry)
	}
	leaf := leafCertificate(r.b)
	if leaf == nil {
		return certFields{}, nil, fail(CheckSignature, "a certificate", "a bare public key", ErrCertificateIdentity)
	}
	sum := sha256.Sum256(r.payload)
	logs := c.trusted.RekorLogs()
	var stamps []Timestamp
	for _, e := range entries {
		tle := e.TransparencyLogEntry()
		if kv := tle.GetKindVersion(); kv.GetKind() != legacyKind || kv.GetVersion() != legacyVersion {
			return certFields{}, nil, fail(CheckTlog, "only legacy intoto entries", kv.GetKind()+" "+kv.GetVersion()+" beside them", ErrLegacyEntry)
		}
		if !e.HasInclusionPromise() {
			return certFields{}, nil, fail(CheckTlog, "an inclusion promise", "none", ErrLegacyEntry)
		}
		if err := tlog.VerifySET(e, logs); err != nil {
			return certFields{}, nil, fail(CheckTlog, "an inclusion promise by a log of the trusted root", "one that does not verify", err)
		}
		body, err := parseLegacyBody(tle.GetCanonicalizedBody())
		if err != nil {
			return certFields{}, nil, fail(CheckTlog, "a legacy intoto entry with a payload hash and certificate", "not", fmt.Errorf("%w: %w", ErrLegacyEntry, err))
		}
		if !bytes.Equal(body.payloadHash, sum[:]) {
			return certFields{}, nil, fail(CheckTlog, "an entry logging this payload (sha256 "+hex.EncodeToString(sum[:])+")", hex.EncodeToString(body.payloadHash), ErrLegacyEntry)
		}
		if !bytes.Equal(body.cert, leaf.Raw) {
			return certFields{}, nil, fail(CheckTlog, "an entry logging this certificate", "another", ErrLegacyEntry)
		}
		stamps = append(stamps, Timestamp{Kind: "Tlog", URI: logs[hex.EncodeToString(tle.GetLogId().GetKeyId())].BaseURL, Time: e.IntegratedTime()})
	}
	if len(stamps) < c.thresholds.tlog || len(stamps) < c.thresholds.observer || len(stamps) == 0 {
		return certFields{}, nil, fail(CheckTlog, fmt.Sprintf("%d verified log entries", max(c.thresholds.tlog, c.thresholds.observer, 1)), fmt.Sprint(len(stamps)), ErrLegacyEntry)
	}
	summary, err := certificate.SummarizeCertificate(leaf)
	if err != nil {
		return certFields{}, nil, fail(CheckSignature, "a Fulcio certificate", "an unreadable one", err)
	}
	// Go does not handle the critical otherName SAN Fulcio may write;
	// SummarizeCertificate has read it (as sigstore-go's Verify does).
	leaf = withoutOtherNameSAN(leaf)
	for _, ts := range stamps {
		chains, err := verify.VerifyLeafCertificate(ts.Time, leaf, c.trusted)
		if err != nil {
			return certFields{}, nil, fail(CheckSignature, "a certificate issued by a CA of the trusted root, valid at "+ts.Time.UTC().Format(time.RFC3339), "not", err)
		}
		if c.scts > 0 {
			if err := c.sct.verify(chains, c.scts); err != nil {
				return certFields{}, nil, fail(CheckSignature, fmt.Sprintf("%d SCTs", c.scts), "fewer", err)
			}
		}
	}
	sig, err := r.b.SignatureContent()
	if err != nil {
		return certFields{}, nil, fail(CheckSignature, "a signature", "none", err)
	}
	vc, err := r.b.VerificationContent()
	if err != nil {
		return certFields{}, nil, fail(CheckSignature, "a certificate", "none", err)
	}
	if err := verify.VerifySignature(sig, vc, c.trusted); err != nil {
		return certFields{}, nil, fail(CheckSignature, "the certificate's key signed the envelope", "not", err)
	}
	return summary, stamps, nil
}

// withoutOtherNameSAN is cert with the otherName SAN extension no longer
// marked unhandled, a copy.
func withoutOtherNameSAN(cert *x509.Certificate) *x509.Certificate {
	if !slices.ContainsFunc(cert.UnhandledCriticalExtensions, cryptoutils.SANOID.Equal) {
		return cert
	}
	c := *cert
	c.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(c.UnhandledCriticalExtensions), cryptoutils.SANOID.Equal)
	return &c
}
