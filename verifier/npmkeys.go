package verifier

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/crypto/ssh"
)

// npmKeyUsage marks the keys.json entries that sign publish attestations
// (slsa-verifier's attestationKeyUsage, in verifiers/internal/gha/npm_sigstore_tuf.go).
const npmKeyUsage = "npm:attestations"

// NpmKeys are the keys the npm registry signs publish attestations with,
// from npm's keys.json (the registry.npmjs.org/keys.json target of
// Sigstore's TUF repository; slsa-verifier fetches it there).
type NpmKeys struct {
	keys map[string]*npmKey
}

type npmKey struct {
	id         string
	verifier   signature.Verifier
	start, end time.Time // end zero: no end
}

// validAt reports whether t lies in the key's validity window.
func (k *npmKey) validAt(t time.Time) bool {
	return !t.Before(k.start) && (k.end.IsZero() || !t.After(k.end))
}

func (k *npmKey) window() string {
	end := "no end"
	if !k.end.IsZero() {
		end = k.end.UTC().Format(time.RFC3339)
	}
	return k.start.UTC().Format(time.RFC3339) + " to " + end
}

// npmKeyTypes are the keyDetails values LoadNpmKeys reads, with the hash
// each signs with.
var npmKeyTypes = map[string]crypto.Hash{
	"PKIX_ECDSA_P256_SHA_256": crypto.SHA256,
	"PKIX_ECDSA_P384_SHA_384": crypto.SHA384,
	"PKIX_ECDSA_P521_SHA_512": crypto.SHA512,
	"PKIX_ED25519":            crypto.Hash(0),
}

// LoadNpmKeys parses npm's keys.json strictly (unknown fields are errors)
// and keeps the keys whose usage is npm:attestations. Each of those must be
// of a known type (keyDetails), with a validity start, and its keyId must
// be the key's SHA256 fingerprint as npm writes it (SHA256: and the
// unpadded base64 of the SSH wire form's hash), so an id names one key.
func LoadNpmKeys(data []byte) (*NpmKeys, error) {
	if len(data) > MaxNpmKeysSize {
		return nil, fmt.Errorf("npm keys: %d bytes, limit %d: %w", len(data), MaxNpmKeysSize, ErrTooLarge)
	}
	if _, err := decodeStrict(data); err != nil {
		return nil, fmt.Errorf("npm keys: %w: %w", ErrMalformed, err)
	}
	var file struct {
		Keys []struct {
			KeyID     string `json:"keyId"`
			KeyUsage  string `json:"keyUsage"`
			PublicKey struct {
				RawBytes   string `json:"rawBytes"`
				KeyDetails string `json:"keyDetails"`
				ValidFor   struct {
					Start *time.Time `json:"start"`
					End   *time.Time `json:"end"`
				} `json:"validFor"`
			} `json:"publicKey"`
		} `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("npm keys: %w: %w", ErrMalformed, err)
	}
	if len(file.Keys) > maxNpmKeys {
		return nil, fmt.Errorf("npm keys: %d keys, limit %d: %w", len(file.Keys), maxNpmKeys, ErrTooLarge)
	}
	out := &NpmKeys{keys: map[string]*npmKey{}}
	for i, k := range file.Keys {
		if k.KeyUsage != npmKeyUsage {
			continue
		}
		where := fmt.Sprintf("npm keys: keys[%d] %q", i, k.KeyID)
		if _, dup := out.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("%s: listed twice for %s: %w", where, npmKeyUsage, ErrMalformed)
		}
		hash, known := npmKeyTypes[k.PublicKey.KeyDetails]
		if !known {
			return nil, fmt.Errorf("%s: keyDetails %q is not one of ECDSA P-256/P-384/P-521 or Ed25519: %w", where, k.PublicKey.KeyDetails, ErrMalformed)
		}
		der, err := base64.StdEncoding.DecodeString(k.PublicKey.RawBytes)
		if err != nil {
			return nil, fmt.Errorf("%s: rawBytes: %w: %w", where, ErrMalformed, err)
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, fmt.Errorf("%s: rawBytes: %w: %w", where, ErrMalformed, err)
		}
		if err := checkNpmKeyType(pub, k.PublicKey.KeyDetails); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		sshPub, err := ssh.NewPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %w", where, ErrMalformed, err)
		}
		if fp := ssh.FingerprintSHA256(sshPub); fp != k.KeyID {
			return nil, fmt.Errorf("%s: the key's fingerprint is %s: %w", where, fp, ErrMalformed)
		}
		v, err := signature.LoadVerifier(pub, hash)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		key := &npmKey{id: k.KeyID, verifier: v}
		if k.PublicKey.ValidFor.Start == nil {
			return nil, fmt.Errorf("%s: no validFor.start: %w", where, ErrMalformed)
		}
		key.start = *k.PublicKey.ValidFor.Start
		if e := k.PublicKey.ValidFor.End; e != nil {
			if e.Before(key.start) {
				return nil, fmt.Errorf("%s: validFor ends before it starts: %w", where, ErrMalformed)
			}
			key.end = *e
		}
		out.keys[k.KeyID] = key
	}
	if len(out.keys) == 0 {
		return nil, fmt.Errorf("npm keys: no key for %s: %w", npmKeyUsage, ErrMalformed)
	}
	return out, nil
}

// checkNpmKeyType checks that the key is what keyDetails says.
func checkNpmKeyType(pub crypto.PublicKey, details string) error {
	want := map[string]elliptic.Curve{"PKIX_ECDSA_P256_SHA_256": elliptic.P256(), "PKIX_ECDSA_P384_SHA_384": elliptic.P384(), "PKIX_ECDSA_P521_SHA_512": elliptic.P521()}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if want[details] == k.Curve {
			return nil
		}
	case ed25519.PublicKey:
		if details == "PKIX_ED25519" {
			return nil
		}
	}
	return fmt.Errorf("keyDetails %s does not describe a %T: %w", details, pub, ErrMalformed)
}

// npmPublishMaterial is the trusted material of publish attestations.
type npmPublishMaterial struct {
	root.BaseTrustedMaterial
	logs map[string]*root.TransparencyLog
	tsas []root.TimestampingAuthority
	keys *NpmKeys
}

func (m *npmPublishMaterial) RekorLogs() map[string]*root.TransparencyLog { return m.logs }
func (m *npmPublishMaterial) TimestampingAuthorities() []root.TimestampingAuthority {
	return m.tsas
}

func (m *npmPublishMaterial) PublicKeyVerifier(hint string) (root.TimeConstrainedVerifier, error) {
	k, ok := m.keys.keys[hint]
	if !ok {
		return nil, fmt.Errorf("no npm registry key %q", hint)
	}
	return root.NewExpiringKey(k.verifier, time.Time{}, time.Time{}), nil
}
