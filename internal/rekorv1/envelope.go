package rekorv1

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/hallmark-dev/hallmark/verifier"
)

// ErrEnvelope: the input is not one or more bare DSSE envelopes with one
// signature each.
var ErrEnvelope = errors.New("not a bare DSSE envelope")

// Envelope is one bare DSSE envelope as slsa-github-generator wrote it.
type Envelope struct {
	// Raw is the envelope's JSON as it was read: the whole file when it
	// holds one envelope, else its line.
	Raw         []byte
	PayloadType string
	Payload     []byte
	// Signature and KeyID are the envelope's only signature.
	Signature []byte
	KeyID     string
	// Cert is the PEM certificate slsa-github-generator put beside the
	// signature ("cert"), when there is one. It is used to find the log
	// entry only: the certificate verified is the one the entry logs.
	Cert []byte
}

// envelopeJSON is the DSSE envelope with slsa-github-generator's
// certificate field.
type envelopeJSON struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
		Cert  string `json:"cert"`
	} `json:"signatures"`
}

// ParseEnvelopes reads a file of bare DSSE envelopes: one envelope in JSON,
// or JSON lines (.intoto.jsonl) of which every non-blank line is one. The
// limits are the verifier's for files of bundles.
func ParseEnvelopes(data []byte) ([]Envelope, error) {
	if len(data) > verifier.MaxBundlesSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", verifier.ErrTooLarge, len(data), verifier.MaxBundlesSize)
	}
	trimmed := bytes.TrimSpace(data)
	if json.Valid(trimmed) {
		env, err := parseEnvelope(trimmed)
		if err != nil {
			return nil, err
		}
		// The file as slsa-verifier proposes it to the log.
		env.Raw = bytes.Clone(data)
		return []Envelope{env}, nil
	}
	var out []Envelope
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), verifier.MaxBundleSize+1)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if len(out) == verifier.MaxBundles {
			return nil, fmt.Errorf("%w: more than %d envelopes", verifier.ErrTooLarge, verifier.MaxBundles)
		}
		env, err := parseEnvelope(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, env)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %w", verifier.ErrTooLarge, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the file holds none", ErrEnvelope)
	}
	return out, nil
}

func parseEnvelope(data []byte) (Envelope, error) {
	if len(data) > verifier.MaxBundleSize {
		return Envelope{}, fmt.Errorf("%w: an envelope of %d bytes, more than %d", verifier.ErrTooLarge, len(data), verifier.MaxBundleSize)
	}
	var ej envelopeJSON
	if err := json.Unmarshal(data, &ej); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrEnvelope, err)
	}
	if ej.PayloadType == "" || ej.Payload == "" {
		return Envelope{}, fmt.Errorf("%w: no payloadType or payload", ErrEnvelope)
	}
	if len(ej.Signatures) != 1 {
		return Envelope{}, fmt.Errorf("%w: %d signatures, want one", ErrEnvelope, len(ej.Signatures))
	}
	payload, err := base64.StdEncoding.DecodeString(ej.Payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: payload is not base64: %w", ErrEnvelope, err)
	}
	s := ej.Signatures[0]
	sig, err := base64.StdEncoding.DecodeString(s.Sig)
	if err != nil || len(sig) == 0 {
		return Envelope{}, fmt.Errorf("%w: the signature is not base64 or empty", ErrEnvelope)
	}
	env := Envelope{Raw: bytes.Clone(data), PayloadType: ej.PayloadType, Payload: payload, Signature: sig, KeyID: s.KeyID}
	if s.Cert != "" {
		certs, err := cryptoutils.UnmarshalCertificatesFromPEM([]byte(s.Cert))
		if err != nil || len(certs) != 1 {
			return Envelope{}, fmt.Errorf("%w: its cert field is not one PEM certificate", ErrEnvelope)
		}
		env.Cert = []byte(s.Cert)
	}
	return env, nil
}
