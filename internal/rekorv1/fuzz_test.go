package rekorv1

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/sigstore/rekor/pkg/generated/models"
)

// seedEnvelope is a bare envelope as slsa-github-generator wrote it, and
// seedEntries are entries of each kind for it, their fields as Rekor
// returns them (the signatures and promises are not real: the fuzz
// targets parse, they do not verify).
func seeds(f testing.TB) (envelope []byte, entries [][]byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seed"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	payload := []byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"a","digest":{"sha256":"` + hex.EncodeToString(make([]byte, 32)) + `"}}],"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{}}`)
	sig := []byte("0123456789abcdef0123456789abcdef")
	b64 := base64.StdEncoding.EncodeToString
	envelope, _ = json.Marshal(map[string]any{
		"payloadType": "application/vnd.in-toto+json", "payload": b64(payload),
		"signatures": []any{map[string]any{"keyid": "", "sig": b64(sig), "cert": string(certPEM)}},
	})
	sum := sha256.Sum256(payload)
	ph := map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}
	bodies := []any{
		map[string]any{"apiVersion": "0.0.1", "kind": "intoto", "spec": map[string]any{"content": map[string]any{"hash": ph, "payloadHash": ph}, "publicKey": b64(certPEM)}},
		map[string]any{"apiVersion": "0.0.2", "kind": "intoto", "spec": map[string]any{"content": map[string]any{
			"envelope": map[string]any{"payloadType": "application/vnd.in-toto+json", "signatures": []any{map[string]any{"sig": b64([]byte(b64(sig))), "publicKey": b64(certPEM)}}},
			"hash":     ph, "payloadHash": ph}}},
		map[string]any{"apiVersion": "0.0.1", "kind": "dsse", "spec": map[string]any{"envelopeHash": ph, "payloadHash": ph,
			"signatures": []any{map[string]any{"signature": b64(sig), "verifier": b64(certPEM)}}}},
	}
	for _, body := range bodies {
		raw, _ := json.Marshal(body)
		e, _ := json.Marshal(map[string]any{
			"body": b64(raw), "integratedTime": 1700000000, "logID": hex.EncodeToString(sum[:]), "logIndex": 7,
			"verification": map[string]any{
				"signedEntryTimestamp": b64([]byte("set")),
				"inclusionProof": map[string]any{"checkpoint": "origin\n8\n" + b64(sum[:]) + "\n", "hashes": []string{hex.EncodeToString(sum[:])},
					"logIndex": 7, "rootHash": hex.EncodeToString(sum[:]), "treeSize": 8},
			},
		})
		entries = append(entries, e)
	}
	return envelope, entries
}

// FuzzParseEnvelopes: any bytes, as a .intoto.jsonl of envelopes, parse or
// fail with an error; never panic.
func FuzzParseEnvelopes(f *testing.F) {
	env, _ := seeds(f)
	f.Add(env)
	f.Add(append(append(append([]byte{}, env...), '\n'), env...))
	f.Add([]byte(`{"payloadType":"x","payload":"eA==","signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		envs, err := ParseEnvelopes(data)
		if err == nil && len(envs) == 0 {
			t.Fatal("no envelopes and no error")
		}
		for _, e := range envs {
			if len(e.Signature) == 0 || e.PayloadType == "" {
				t.Fatalf("an envelope without signature or payload type: %+v", e)
			}
		}
	})
}

// FuzzNewEntry: any log entry answer, matched against any envelope, makes
// a bundle that parses or fails with an error; never panics.
func FuzzNewEntry(f *testing.F) {
	env, entries := seeds(f)
	for _, e := range entries {
		f.Add(env, e)
	}
	f.Fuzz(func(t *testing.T, envData, entryData []byte) {
		envs, err := ParseEnvelopes(envData)
		if err != nil {
			return
		}
		var e models.LogEntryAnon
		if json.Unmarshal(entryData, &e) != nil {
			return
		}
		got, err := NewEntry(envs[0], "uuid", e)
		if err == nil && (got.Bundle == nil || got.Bundle.GetDsseEnvelope() == nil) {
			t.Fatal("an entry without a bundle and no error")
		}
	})
}

// TestNewEntrySeeds: the fuzz seeds are entries NewEntry takes, so the
// fuzzer starts from the paths that make bundles.
func TestNewEntrySeeds(t *testing.T) {
	env, entries := seeds(t)
	envs, err := ParseEnvelopes(env)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"intoto 0.0.1", "intoto 0.0.2", "dsse 0.0.1"} {
		var e models.LogEntryAnon
		if err := json.Unmarshal(entries[i], &e); err != nil {
			t.Fatal(err)
		}
		got, err := NewEntry(envs[0], "uuid", e)
		if err != nil || got.Kind+" "+got.Version != want {
			t.Fatalf("seed %d: %v, %v; want a %s entry", i, got, err, want)
		}
		other := envs[0]
		other.Payload = []byte("another payload")
		if _, err := NewEntry(other, "uuid", e); !errors.Is(err, ErrEntry) {
			t.Fatalf("seed %d with another payload: want ErrEntry, got %v", i, err)
		}
	}
}
