package verifier

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// Some verifiers sign their summaries with a key of their own rather than
// through Sigstore (Google's BCID verifier, whose VSAs slsa-verifier's
// verify-vsa checks with --public-key-path and --public-key-id). Such a
// summary is a bare DSSE envelope: its signature, by the key whose id it
// names, is all the evidence; there is no certificate and no time. It goes
// through the same pipeline as a Sigstore-signed summary, with the key in
// place of the certificate.

// VSAKey is a key a verifier signs its summaries with, and the id its
// signatures name.
type VSAKey struct {
	ID  string
	Key crypto.PublicKey
}

// ErrNoValidSignature: no signature of the envelope is the key's.
var ErrNoValidSignature = errors.New("no signature by the verifier's key")

// signerKey is a summary signed with a key of the verifier's own.
const signerKey signerKind = 100

// MaxEnvelopeSize is the largest bare DSSE envelope ParseEnvelope reads.
const MaxEnvelopeSize = MaxBundleSize

// ParseEnvelope reads a bare DSSE envelope (JSON, the first non-blank line
// of a JSON-lines file) as a bundle holding it, for VerifyVSAWithKey. Its
// verification material names the signature's key id; nothing in it is
// trusted.
func ParseEnvelope(data []byte) (*bundle.Bundle, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, fail(CheckInput, fmt.Sprintf("an envelope of at most %d bytes", MaxEnvelopeSize), fmt.Sprintf("%d bytes", len(data)), ErrTooLarge)
	}
	line, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.PayloadType == "" || len(env.Signatures) == 0 {
		return nil, fail(CheckInput, "a DSSE envelope", "one that does not parse", fmt.Errorf("%w: %v", ErrMalformed, err))
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fail(CheckInput, "a base64 payload", "undecodable", ErrMalformed)
	}
	pe := &protodsse.Envelope{Payload: payload, PayloadType: env.PayloadType}
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, fail(CheckInput, "base64 signatures", "undecodable", ErrMalformed)
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	return &bundle.Bundle{Bundle: &protobundle.Bundle{
		MediaType: formats.BundleMediaTypeV03,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: env.Signatures[0].KeyID}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	}}, nil
}

// VerifyVSAWithKey checks a summary signed with the verifier's own key: the
// envelope's one signature names key.ID and verifies with key.Key; then the
// statement, the subjects (named by any digest the verifier names its
// resources by, such as gce_image_id) and the summary, as VerifyVSA does.
// p.Issuer, p.SAN and p.Thresholds do not apply.
func VerifyVSAWithKey(b *bundle.Bundle, key VSAKey, p VSAPolicy, digests ...Digest) (*VSA, error) {
	if key.Key == nil {
		return nil, errors.New("verify vsa: no key")
	}
	if p.MinLevel < 0 || p.MinLevel > 3 {
		return nil, fmt.Errorf("verify vsa: level %d: want 0 to 3", p.MinLevel)
	}
	hash := crypto.SHA256
	if k, ok := key.Key.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P384() {
		hash = crypto.SHA384
	}
	sv, err := signature.LoadVerifier(key.Key, hash)
	if err != nil {
		return nil, fmt.Errorf("verify vsa: key: %w", err)
	}
	c := &checker{now: time.Now, log: slog.New(slog.DiscardHandler), vsa: &vsaExpects{VSAPolicy: p}, key: &keyVerifier{id: key.ID, v: sv}}
	return verifyVSA(c, b, digests)
}

// keyVerifier is a verifier's key, for summaries it signed itself.
type keyVerifier struct {
	id string
	v  signature.Verifier
}

// checkKeySignature verifies the envelope's signature with the verifier's
// key: the signature must name the key's id.
func (r *run) checkKeySignature() error {
	env := r.b.GetDsseEnvelope()
	sig := env.GetSignatures()[0]
	k := r.c.key
	if sig.GetKeyid() != k.id {
		return fail(CheckSignature, "a signature by key "+orNone(k.id), "one by key "+orNone(sig.GetKeyid()), ErrNoValidSignature)
	}
	if err := k.v.VerifySignature(bytes.NewReader(sig.GetSig()), bytes.NewReader(dsse.PAE(env.GetPayloadType(), env.GetPayload()))); err != nil {
		return fail(CheckSignature, "a signature by key "+k.id, "one that does not verify", fmt.Errorf("%w: %w", ErrNoValidSignature, err))
	}
	r.signer = signer{kind: signerKey}
	r.signer.cert.SubjectAlternativeName = k.id
	return nil
}
