package oci

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/formats"
)

// The annotations cosign writes on each layer of a legacy ".att" image.
const (
	// AnnotationCosignCertificate is the signing certificate, PEM.
	AnnotationCosignCertificate = "dev.sigstore.cosign/certificate"
	// AnnotationCosignChain is the certificate's issuing chain, PEM. Not
	// used: the trusted root names the CAs a verifier accepts.
	AnnotationCosignChain = "dev.sigstore.cosign/chain"
	// AnnotationCosignBundle is the Rekor v1 entry as cosign kept it: the
	// signed entry timestamp and the payload it signs (body,
	// integratedTime, logIndex, logID).
	AnnotationCosignBundle = "dev.sigstore.cosign/bundle"
	// AnnotationCosignTimestamp is an RFC 3161 timestamp over the whole
	// DSSE envelope, as {"SignedRFC3161Timestamp": base64}.
	AnnotationCosignTimestamp = "dev.sigstore.cosign/rfc3161timestamp"
	// AnnotationCosignSignature is the layer's signature; empty on
	// attestations, whose signatures are in the DSSE envelope.
	AnnotationCosignSignature = "dev.cosignproject.cosign/signature"
)

// mediaTypeBundleV01 is the media type of the bundles cosignBundle makes:
// v0.1 is the version whose log entries may carry only an inclusion
// promise, as cosign's legacy entries do.
const mediaTypeBundleV01 = formats.BundleMediaTypeV01

// errUnsigned: a DSSE layer without the certificate and Rekor entry a
// Sigstore verifier needs: unsigned, signed with a key, or timestamped by a
// TSA only. cosign's legacy RFC 3161 timestamp covers the whole envelope,
// not its signature, which is what a Sigstore bundle's timestamp covers: it
// cannot be carried over.
var errUnsigned = errors.New("no signing certificate with a Rekor entry (unsigned, signed with a key, or timestamped over the whole envelope, which no Sigstore bundle can carry; re-attest with cosign --new-bundle-format)")

// cosignSigned reports whether a legacy layer carries cosign's keyless
// signing material: the certificate and its Rekor entry.
func cosignSigned(ann map[string]string) bool {
	return ann[AnnotationCosignCertificate] != "" && ann[AnnotationCosignBundle] != ""
}

// cosignBundle turns one layer of cosign's legacy attestation image (the
// DSSE envelope as the blob, the certificate and Rekor entry as
// annotations) into a Sigstore bundle v0.1 holding the same envelope, the
// certificate, and the Rekor entry with its signed entry timestamp as the
// inclusion promise, so that a bundle verifier checks it offline. An RFC
// 3161 timestamp is left out: cosign's covers the envelope, a bundle's the
// signature. Nothing
// is vouched for here: the verifier checks the promise against the
// trusted root's logs and the entry against the envelope and certificate.
func cosignBundle(envelope []byte, ann map[string]string) ([]byte, error) {
	if !cosignSigned(ann) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArtifact, errUnsigned)
	}
	env, err := decodeEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode([]byte(ann[AnnotationCosignCertificate]))
	if block == nil || block.Type != "CERTIFICATE" || len(pemTrim(rest)) > 0 {
		return nil, fmt.Errorf("%w: %s is not one PEM certificate", ErrInvalidArtifact, AnnotationCosignCertificate)
	}
	vm := &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
			Certificates: []*protocommon.X509Certificate{{RawBytes: block.Bytes}},
		}},
	}
	tle, err := cosignLogEntry(ann[AnnotationCosignBundle])
	if err != nil {
		return nil, err
	}
	vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	b := &protobundle.Bundle{
		MediaType:            mediaTypeBundleV01,
		VerificationMaterial: vm,
		Content:              &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env},
	}
	return protojson.Marshal(b)
}

// decodeEnvelope reads a DSSE envelope as cosign stores it: JSON with the
// payload and signatures in standard base64.
func decodeEnvelope(data []byte) (*protodsse.Envelope, error) {
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: the layer is not a DSSE envelope: %v", ErrInvalidArtifact, err)
	}
	if e.PayloadType == "" || e.Payload == "" || len(e.Signatures) == 0 {
		return nil, fmt.Errorf("%w: the DSSE envelope lacks a payload type, payload or signature", ErrInvalidArtifact)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: DSSE payload: %v", ErrInvalidArtifact, err)
	}
	env := &protodsse.Envelope{Payload: payload, PayloadType: e.PayloadType}
	for _, s := range e.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil || len(sig) == 0 {
			return nil, fmt.Errorf("%w: DSSE signature is not base64", ErrInvalidArtifact)
		}
		env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: sig, Keyid: s.KeyID})
	}
	return env, nil
}

// cosignLogEntry reads cosign's Rekor bundle annotation as a transparency
// log entry: the body as the canonicalized body, its kind and apiVersion
// as the entry's kind and version, the signed entry timestamp as the
// inclusion promise.
func cosignLogEntry(annotation string) (*protorekor.TransparencyLogEntry, error) {
	var rb struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           []byte `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	if err := json.Unmarshal([]byte(annotation), &rb); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidArtifact, AnnotationCosignBundle, err)
	}
	p := rb.Payload
	logID, err := hex.DecodeString(p.LogID)
	if err != nil || len(logID) == 0 || len(rb.SignedEntryTimestamp) == 0 || len(p.Body) == 0 || p.IntegratedTime <= 0 || p.LogIndex < 0 {
		return nil, fmt.Errorf("%w: %s lacks the signed entry timestamp, body, integrated time, log index or log ID", ErrInvalidArtifact, AnnotationCosignBundle)
	}
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(p.Body, &kv); err != nil || kv.Kind == "" || kv.APIVersion == "" {
		return nil, fmt.Errorf("%w: %s: the log entry body names no kind and apiVersion", ErrInvalidArtifact, AnnotationCosignBundle)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          p.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    p.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: p.Body,
	}, nil
}

// envelopePredicateType reads the predicate type of the statement in a
// DSSE envelope, unverified, to filter layers; "" if there is none.
func envelopePredicateType(envelope []byte) string {
	var e struct {
		Payload string `json:"payload"`
	}
	if json.Unmarshal(envelope, &e) != nil {
		return ""
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}

// pemTrim drops the whitespace that may follow a PEM block.
func pemTrim(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r' || b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
