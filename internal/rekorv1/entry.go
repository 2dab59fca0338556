package rekorv1

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-openapi/runtime"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	dssev001 "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	intotov001 "github.com/sigstore/rekor/pkg/types/intoto/v0.0.1"
	intotov002 "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/verifier"
)

// ErrEntry: a log entry that does not stand for the envelope (another kind,
// another payload or signature, no certificate) or is incomplete.
var ErrEntry = errors.New("log entry does not match the envelope")

// Bundle media types: v0.1 carries an inclusion promise, v0.2 a proof too.
const (
	mediaTypeV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	mediaTypeV02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
)

// Entry is a log entry found for an envelope, and the bundle the two make.
type Entry struct {
	UUID     string
	LogIndex int64
	Kind     string // intoto or dsse
	Version  string // 0.0.1 or 0.0.2
	Bundle   *bundle.Bundle
	// Via says how the entry was found: ViaProposedEntry or ViaIndex.
	Via string
}

// How an entry was found.
const (
	ViaProposedEntry = "the entries the envelope and its certificate make"
	ViaIndex         = "the index, by payload hash"
)

// String names the entry for a person: kind, version, index and UUID, and
// how it was found.
func (e Entry) String() string {
	return fmt.Sprintf("%s v%s entry, log index %d, uuid %s (found through %s)", e.Kind, e.Version, e.LogIndex, e.UUID, e.Via)
}

// logged is what an entry says about the envelope it logs.
type logged struct {
	kind, version string
	payloadHash   string // lowercase hex sha256
	signature     []byte // nil when the kind does not log it (intoto v0.0.1)
	certPEM       []byte
}

// parseBody reads the canonicalized body of an intoto v0.0.1, intoto
// v0.0.2 or dsse v0.0.1 entry with Rekor's own types.
func parseBody(body []byte) (logged, error) {
	pe, err := models.UnmarshalProposedEntry(bytes.NewReader(body), runtime.JSONConsumer())
	if err != nil {
		return logged{}, fmt.Errorf("%w: the body does not parse: %w", ErrEntry, err)
	}
	impl, err := types.UnmarshalEntry(pe)
	if err != nil {
		return logged{}, fmt.Errorf("%w: the body does not parse: %w", ErrEntry, err)
	}
	var l logged
	var alg, value *string
	switch e := impl.(type) {
	case *intotov001.V001Entry:
		l.kind, l.version = "intoto", e.APIVersion()
		if c := e.IntotoObj.Content; c != nil && c.PayloadHash != nil {
			alg, value = c.PayloadHash.Algorithm, c.PayloadHash.Value
		}
		if e.IntotoObj.PublicKey != nil {
			l.certPEM = *e.IntotoObj.PublicKey
		}
	case *intotov002.V002Entry:
		l.kind, l.version = "intoto", e.APIVersion()
		c := e.IntotoObj.Content
		if c == nil || c.Envelope == nil {
			return logged{}, fmt.Errorf("%w: the intoto v0.0.2 entry logs no envelope", ErrEntry)
		}
		if c.PayloadHash != nil {
			alg, value = c.PayloadHash.Algorithm, c.PayloadHash.Value
		}
		sigs := c.Envelope.Signatures
		if len(sigs) != 1 || sigs[0] == nil || sigs[0].Sig == nil || sigs[0].PublicKey == nil {
			return logged{}, fmt.Errorf("%w: the entry logs %d signatures, want one with its certificate", ErrEntry, len(sigs))
		}
		// This kind logs the envelope's base64 signature text, encoded
		// once more.
		sig, err := base64.StdEncoding.DecodeString(string(*sigs[0].Sig))
		if err != nil {
			return logged{}, fmt.Errorf("%w: the logged signature is not base64", ErrEntry)
		}
		l.signature, l.certPEM = sig, *sigs[0].PublicKey
	case *dssev001.V001Entry:
		l.kind, l.version = "dsse", e.APIVersion()
		if e.DSSEObj.PayloadHash != nil {
			alg, value = e.DSSEObj.PayloadHash.Algorithm, e.DSSEObj.PayloadHash.Value
		}
		sigs := e.DSSEObj.Signatures
		if len(sigs) != 1 || sigs[0] == nil || sigs[0].Signature == nil || sigs[0].Verifier == nil {
			return logged{}, fmt.Errorf("%w: the entry logs %d signatures, want one with its certificate", ErrEntry, len(sigs))
		}
		sig, err := base64.StdEncoding.DecodeString(*sigs[0].Signature)
		if err != nil {
			return logged{}, fmt.Errorf("%w: the logged signature is not base64", ErrEntry)
		}
		l.signature, l.certPEM = sig, *sigs[0].Verifier
	default:
		return logged{}, fmt.Errorf("%w: a %s v%s entry, want intoto v0.0.1 or v0.0.2, or dsse v0.0.1", ErrEntry, pe.Kind(), impl.APIVersion())
	}
	if alg == nil || value == nil || *alg != "sha256" {
		return logged{}, fmt.Errorf("%w: the %s v%s entry logs no sha256 payload hash", ErrEntry, l.kind, l.version)
	}
	l.payloadHash = strings.ToLower(*value)
	return l, nil
}

// NewEntry matches a log entry, as Rekor's API returns it under uuid, to
// env and makes the bundle of the two: the envelope, the certificate the
// entry logs, and the entry with its inclusion promise (and proof, when
// the entry has one). The bundle is parsed back with verifier.ParseBundle,
// so it has the structure the verifier requires; whether the promise, the
// proof, the certificate and the signature hold is the verifier's to say.
func NewEntry(env Envelope, uuid string, e models.LogEntryAnon) (Entry, error) {
	if e.LogID == nil || e.LogIndex == nil || e.IntegratedTime == nil {
		return Entry{}, fmt.Errorf("%w: no logID, logIndex or integratedTime", ErrEntry)
	}
	logID, err := hex.DecodeString(*e.LogID)
	if err != nil || len(logID) != sha256.Size {
		return Entry{}, fmt.Errorf("%w: logID is not a hex SHA-256", ErrEntry)
	}
	b64, ok := e.Body.(string)
	if !ok || len(b64) > verifier.MaxBundleSize {
		return Entry{}, fmt.Errorf("%w: the body is not a base64 string of at most %d bytes", ErrEntry, verifier.MaxBundleSize)
	}
	body, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: the body is not base64", ErrEntry)
	}
	if e.Verification == nil || len(e.Verification.SignedEntryTimestamp) == 0 {
		return Entry{}, fmt.Errorf("%w: the entry has no inclusion promise (signedEntryTimestamp)", ErrEntry)
	}
	l, err := parseBody(body)
	if err != nil {
		return Entry{}, err
	}
	sum := sha256.Sum256(env.Payload)
	if want := hex.EncodeToString(sum[:]); l.payloadHash != want {
		return Entry{}, fmt.Errorf("%w: the entry logs payload sha256:%s, the envelope's is sha256:%s", ErrEntry, l.payloadHash, want)
	}
	if l.signature != nil && !bytes.Equal(l.signature, env.Signature) {
		return Entry{}, fmt.Errorf("%w: the entry logs another signature", ErrEntry)
	}
	certs, err := cryptoutils.UnmarshalCertificatesFromPEM(l.certPEM)
	if err != nil || len(certs) != 1 {
		return Entry{}, fmt.Errorf("%w: the entry logs no certificate, or more than one (a public key cannot be verified here)", ErrEntry)
	}
	tle := &protorekor.TransparencyLogEntry{
		LogIndex:          *e.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: l.kind, Version: l.version},
		IntegratedTime:    *e.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: e.Verification.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}
	mediaType := mediaTypeV01
	if p := e.Verification.InclusionProof; p != nil {
		proof, err := inclusionProof(p)
		if err != nil {
			return Entry{}, err
		}
		tle.InclusionProof = proof
		mediaType = mediaTypeV02
	}
	pb := &protobundle.Bundle{
		MediaType: mediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{
				Certificates: []*protocommon.X509Certificate{{RawBytes: certs[0].Raw}},
			}},
			TlogEntries: []*protorekor.TransparencyLogEntry{tle},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: env.Payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: env.Signature, Keyid: env.KeyID}},
		}},
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		return Entry{}, fmt.Errorf("encoding the bundle: %w", err)
	}
	b, err := verifier.ParseBundle(data)
	if err != nil {
		return Entry{}, err
	}
	return Entry{UUID: uuid, LogIndex: *e.LogIndex, Kind: l.kind, Version: l.version, Bundle: b}, nil
}

// inclusionProof converts Rekor's inclusion proof, with its checkpoint.
func inclusionProof(p *models.InclusionProof) (*protorekor.InclusionProof, error) {
	if p.Checkpoint == nil || p.LogIndex == nil || p.RootHash == nil || p.TreeSize == nil {
		return nil, fmt.Errorf("%w: an incomplete inclusion proof", ErrEntry)
	}
	const maxHashes = 64 // a tree of 2^64 leaves
	if len(p.Hashes) > maxHashes {
		return nil, fmt.Errorf("%w: an inclusion proof of %d hashes", ErrEntry, len(p.Hashes))
	}
	root, err := hex.DecodeString(*p.RootHash)
	if err != nil || len(root) != sha256.Size {
		return nil, fmt.Errorf("%w: the proof's root hash is not a hex SHA-256", ErrEntry)
	}
	hashes := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		if hashes[i], err = hex.DecodeString(h); err != nil || len(hashes[i]) != sha256.Size {
			return nil, fmt.Errorf("%w: proof hash %d is not a hex SHA-256", ErrEntry, i)
		}
	}
	return &protorekor.InclusionProof{
		LogIndex:   *p.LogIndex,
		RootHash:   root,
		TreeSize:   *p.TreeSize,
		Hashes:     hashes,
		Checkpoint: &protorekor.Checkpoint{Envelope: *p.Checkpoint},
	}, nil
}
