package verifier

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
)

// legacyEntryBody is an intoto v0.0.1 entry body as Rekor logs it.
func legacyEntryBody(payloadHash, algorithm, publicKey string) string {
	return fmt.Sprintf(`{"apiVersion":"0.0.1","kind":"intoto","spec":{"content":{"hash":{"algorithm":"sha256","value":"%s"},"payloadHash":{"algorithm":"%s","value":"%s"}},"publicKey":"%s"}}`,
		strings.Repeat("ab", 32), algorithm, payloadHash, publicKey)
}

func TestParseLegacyBody(t *testing.T) {
	der := []byte("not parsed as a certificate here, compared as bytes")
	certPEM := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	sum := sha256.Sum256([]byte("payload"))
	hash := hex.EncodeToString(sum[:])

	got, err := parseLegacyBody([]byte(legacyEntryBody(hash, "sha256", certPEM)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.cert) != string(der) || hex.EncodeToString(got.payloadHash) != hash {
		t.Fatalf("got %+v", got)
	}

	for _, c := range []struct{ name, body, want string }{
		{"no payload hash", `{"apiVersion":"0.0.1","kind":"intoto","spec":{"content":{"hash":{"algorithm":"sha256","value":"ab"}},"publicKey":"` + certPEM + `"}}`, "no sha256 payload hash"},
		{"payload hash of another algorithm", legacyEntryBody(hash, "sha1", certPEM), "no sha256 payload hash"},
		{"short payload hash", legacyEntryBody(hash[:20], "sha256", certPEM), "no sha256 payload hash"},
		{"payload hash not hex", legacyEntryBody(strings.Repeat("zz", 32), "sha256", certPEM), "payload hash"},
		{"key not base64", legacyEntryBody(hash, "sha256", "%%%"), "not base64"},
		{"key a public key", legacyEntryBody(hash, "sha256", base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))), "not one PEM certificate"},
		{"two certificates", legacyEntryBody(hash, "sha256", base64.StdEncoding.EncodeToString(append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...))), "not one PEM certificate"},
		{"another version", strings.Replace(legacyEntryBody(hash, "sha256", certPEM), `"0.0.1"`, `"0.0.2"`, 1), "not an intoto v0.0.1 entry"},
		{"duplicate key", strings.Replace(legacyEntryBody(hash, "sha256", certPEM), `"kind":"intoto",`, `"kind":"intoto","kind":"intoto",`, 1), "given twice"},
		{"not an object", `[]`, "not an object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseLegacyBody([]byte(c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error with %q, got %v", c.want, err)
			}
		})
	}
}

// FuzzParseLegacyBody: the body of a legacy log entry is read from the
// bundle before its promise is trusted; no input panics, and whatever is
// accepted has a sha256-sized payload hash and a certificate.
func FuzzParseLegacyBody(f *testing.F) {
	sum := sha256.Sum256(nil)
	certPEM := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}))
	f.Add([]byte(legacyEntryBody(hex.EncodeToString(sum[:]), "sha256", certPEM)))
	f.Add([]byte(`{"apiVersion":"0.0.1","kind":"intoto","spec":{}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := parseLegacyBody(body)
		if err != nil {
			return
		}
		if len(b.payloadHash) != sha256.Size || len(b.cert) == 0 {
			t.Fatalf("accepted %q as %+v", body, b)
		}
	})
}
