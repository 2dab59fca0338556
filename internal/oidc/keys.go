package oidc

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-jose/go-jose/v4"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

// keysFile is the name of the file, inside a key folder, that holds the
// issuer's private keys as a JWK set, newest last.
const keysFile = "keys.json"

// KeySet is the issuer's signing keys, oldest first. The newest key signs;
// all of them are published.
type KeySet struct {
	keys []jose.JSONWebKey
}

// LoadKeys reads the key set in dir, creating it with one fresh key when dir
// holds none.
func LoadKeys(dir string) (*KeySet, error) {
	data, err := os.ReadFile(filepath.Join(dir, keysFile))
	if errors.Is(err, os.ErrNotExist) {
		ks := &KeySet{}
		if err := ks.Rotate(dir); err != nil {
			return nil, err
		}
		return ks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading issuer keys: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parsing issuer keys %s: %w", filepath.Join(dir, keysFile), err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("issuer keys %s: no keys", filepath.Join(dir, keysFile))
	}
	for _, k := range set.Keys {
		if k.IsPublic() || !k.Valid() {
			return nil, fmt.Errorf("issuer keys %s: key %q is not a valid private key", filepath.Join(dir, keysFile), k.KeyID)
		}
	}
	return &KeySet{keys: set.Keys}, nil
}

// Rotate adds a fresh RSA key that signs from now on, keeps the old keys for
// verification, and saves the set in dir (created if needed, mode 0700).
func (ks *KeySet) Rotate(dir string) error {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("generating issuer key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: string(jose.RS256), Use: "sig"}
	pub := jwk.Public()
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return fmt.Errorf("issuer key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	keys := append(append([]jose.JSONWebKey(nil), ks.keys...), jwk)
	data, err := json.MarshalIndent(jose.JSONWebKeySet{Keys: keys}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding issuer keys: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating issuer key folder: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, keysFile), data, 0o600); err != nil {
		return fmt.Errorf("saving issuer keys: %w", err)
	}
	ks.keys = keys
	return nil
}

// signing returns the key that signs new tokens.
func (ks *KeySet) signing() jose.JSONWebKey { return ks.keys[len(ks.keys)-1] }

// Public returns the JWKS the issuer publishes: every key's public half.
func (ks *KeySet) Public() jose.JSONWebKeySet {
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks.keys))}
	for _, k := range ks.keys {
		out.Keys = append(out.Keys, k.Public())
	}
	return out
}
