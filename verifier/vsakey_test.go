package verifier_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/hallmark-dev/hallmark/verifier"
)

// TestVerifyVSAWithKey: a summary its verifier signed with its own key
// passes with that key and id, and fails with another key, another id, a
// payload changed after signing, a second signature, or a summary that does
// not say what the policy expects.
func TestVerifyVSAWithKey(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const id = "keystore://test:vsa"
	statement := func(result string) []byte {
		data, _ := json.Marshal(map[string]any{
			"_type": verifier.StatementTypeV1, "predicateType": verifier.PredicateVSA,
			"subject": []any{map[string]any{"name": "_", "digest": map[string]any{"image_id": "42"}}},
			"predicate": map[string]any{
				"verifier": map[string]any{"id": "https://verifier.example/v1"}, "verificationResult": result,
				"verifiedLevels": []any{"BCID_L1", "SLSA_BUILD_LEVEL_2"}, "resourceUri": "image://app", "timeVerified": "2026-01-01T00:00:00Z",
			},
		})
		return data
	}
	envelope := func(payload []byte, keys ...*ecdsa.PrivateKey) []byte {
		env := dsse.Envelope{PayloadType: verifier.PayloadTypeInToto, Payload: base64.StdEncoding.EncodeToString(payload)}
		for _, k := range keys {
			sum := sha256.Sum256(dsse.PAE(env.PayloadType, payload))
			sig, _ := ecdsa.SignASN1(rand.Reader, k, sum[:])
			env.Signatures = append(env.Signatures, dsse.Signature{KeyID: id, Sig: base64.StdEncoding.EncodeToString(sig)})
		}
		data, _ := json.Marshal(env)
		return data
	}
	good := envelope(statement("PASSED"), key)
	tampered := func() []byte {
		var env dsse.Envelope
		json.Unmarshal(good, &env)
		env.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(statement("PASSED")), "image://app", "image://evil", 1)))
		data, _ := json.Marshal(env)
		return data
	}()
	subject := verifier.Digest{Algorithm: "image_id", Hex: "42"}
	expect := verifier.VSAPolicy{VerifierID: "https://verifier.example/v1", ResourceURI: "image://app", Levels: []string{"SLSA_BUILD_LEVEL_2"}}
	for _, tc := range []struct {
		name     string
		envelope []byte
		key      *ecdsa.PrivateKey
		id       string
		policy   verifier.VSAPolicy
		subject  verifier.Digest
		check    verifier.Check
		err      error
	}{
		{name: "the verifier's key", envelope: good, key: key, id: id, policy: expect, subject: subject},
		{name: "another key", envelope: good, key: other, id: id, policy: expect, subject: subject, check: verifier.CheckSignature, err: verifier.ErrNoValidSignature},
		{name: "another key id", envelope: good, key: key, id: "keystore://other", policy: expect, subject: subject, check: verifier.CheckSignature, err: verifier.ErrNoValidSignature},
		{name: "payload changed after signing", envelope: tampered, key: key, id: id, policy: expect, subject: subject, check: verifier.CheckSignature, err: verifier.ErrNoValidSignature},
		{name: "two signatures", envelope: envelope(statement("PASSED"), key, key), key: key, id: id, policy: expect, subject: subject, check: verifier.CheckInput, err: verifier.ErrSignatureCount},
		{name: "another subject", envelope: good, key: key, id: id, policy: expect, subject: verifier.Digest{Algorithm: "image_id", Hex: "43"}, check: verifier.CheckSubject, err: verifier.ErrSubjectMismatch},
		{name: "another verifier", envelope: good, key: key, id: id, policy: verifier.VSAPolicy{VerifierID: "https://other.example"}, subject: subject, check: verifier.CheckVSA, err: verifier.ErrVSAVerifier},
		{name: "a level it does not list", envelope: good, key: key, id: id, policy: verifier.VSAPolicy{Levels: []string{"SLSA_BUILD_LEVEL_3"}}, subject: subject, check: verifier.CheckVSA, err: verifier.ErrVSALevel},
		{name: "failed", envelope: envelope(statement("FAILED"), key), key: key, id: id, policy: expect, subject: subject, check: verifier.CheckVSA, err: verifier.ErrVSAResult},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := verifier.ParseEnvelope(tc.envelope)
			if err != nil {
				t.Fatal(err)
			}
			_, err = verifier.VerifyVSAWithKey(b, verifier.VSAKey{ID: tc.id, Key: &tc.key.PublicKey}, tc.policy, tc.subject)
			if tc.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *verifier.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check || !errors.Is(err, tc.err) {
				t.Fatalf("want %s failure wrapping %v, got %v", tc.check, tc.err, err)
			}
		})
	}
}
