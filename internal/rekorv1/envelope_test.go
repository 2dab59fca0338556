package rekorv1_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/realworld"
	"github.com/hallmark-dev/hallmark/internal/rekorv1"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestParseEnvelopesRealWorld reads every bare envelope of the real-world
// corpus (slsa-github-generator's releases up to v2.0.0, as slsa-verifier
// tests them): one envelope, its certificate beside the signature, an
// in-toto payload naming the case's artifact.
func TestParseEnvelopesRealWorld(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "realworld")
	m, err := realworld.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, c := range m.Cases {
		if c.BundleFormat != realworld.FormatDSSEEnvelope || c.Command != "verify-artifact" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, c.Bundle))
		if err != nil {
			t.Fatal(err)
		}
		envs, err := rekorv1.ParseEnvelopes(data)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if len(envs) != 1 || envs[0].Cert == nil || envs[0].PayloadType != "application/vnd.in-toto+json" || string(envs[0].Raw) != string(data) {
			t.Fatalf("%s: %d envelopes, want one with its certificate, as the file is", c.Name, len(envs))
		}
		var st struct {
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(envs[0].Payload, &st); err != nil {
			t.Fatalf("%s: payload: %v", c.Name, err)
		}
		named := false
		for _, s := range st.Subject {
			named = named || s.Digest["sha256"] == c.Digests["sha256"]
		}
		if !named && c.Expect == realworld.Accept && c.Digests["sha256"] != "" {
			t.Fatalf("%s: the payload does not name the artifact %s", c.Name, c.Digests["sha256"])
		}
		read++
	}
	if read == 0 {
		t.Fatal("the corpus has no bare envelopes")
	}
	t.Logf("%d bare envelopes of the real-world corpus read", read)
}

func TestParseEnvelopesRefuses(t *testing.T) {
	sum := sha256.Sum256(nil)
	tests := map[string]string{
		"empty":              "",
		"a bundle":           `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{}}`,
		"two signatures":     `{"payloadType":"t","payload":"eA==","signatures":[{"sig":"eA=="},{"sig":"eA=="}]}`,
		"no signature":       `{"payloadType":"t","payload":"eA==","signatures":[]}`,
		"payload not base64": `{"payloadType":"t","payload":"%%","signatures":[{"sig":"eA=="}]}`,
		"cert not PEM":       `{"payloadType":"t","payload":"eA==","signatures":[{"sig":"eA==","cert":"` + hex.EncodeToString(sum[:]) + `"}]}`,
		"a bad second line":  "{\"payloadType\":\"t\",\"payload\":\"eA==\",\"signatures\":[{\"sig\":\"eA==\"}]}\n{}\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := rekorv1.ParseEnvelopes([]byte(in)); !errors.Is(err, rekorv1.ErrEnvelope) {
				t.Fatalf("want ErrEnvelope, got %v", err)
			}
		})
	}
	big := make([]byte, verifier.MaxBundlesSize+1)
	if _, err := rekorv1.ParseEnvelopes(big); !errors.Is(err, verifier.ErrTooLarge) {
		t.Fatalf("too large: want ErrTooLarge, got %v", err)
	}
}
