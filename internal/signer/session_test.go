package signer_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// TestSessionOneCertificate: the payloads a session signs side by side
// carry one certificate, and each its own signature and log entry.
func TestSessionOneCertificate(t *testing.T) {
	sb := sandboxtest.Start(t)
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	token, err := sb.Token(oidc.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signer.NewSession(signer.Options{SigningConfig: sc, TrustedRoot: tr, IdentityToken: token})
	if err != nil {
		t.Fatal(err)
	}
	payloads := [][]byte{
		[]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + hex64("a") + `"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`),
		[]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + hex64("a") + `"}}],"predicateType":"https://spdx.dev/Document","predicate":{}}`),
		[]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"a","digest":{"sha256":"` + hex64("a") + `"}}],"predicateType":"https://cyclonedx.org/bom","predicate":{}}`),
	}
	results := make([]*signer.Result, len(payloads))
	errs := make([]error, len(payloads))
	var wg sync.WaitGroup
	for i, p := range payloads {
		wg.Go(func() { results[i], errs[i] = s.Sign(context.Background(), p, signer.PayloadTypeInToto) })
	}
	wg.Wait()
	var certs [][]byte
	logs := map[int64]bool{}
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("payload %d: %v", i, errs[i])
		}
		certs = append(certs, sandboxtest.LeafCert(t, r.Bundle).Raw)
		if r.LogIndex < 0 || logs[r.LogIndex] {
			t.Fatalf("payload %d: log index %d (seen: %v)", i, r.LogIndex, logs)
		}
		logs[r.LogIndex] = true
	}
	for i := range certs[1:] {
		if !bytes.Equal(certs[0], certs[i+1]) {
			t.Fatalf("payload %d was signed under another certificate than payload 0", i+1)
		}
	}
	other, err := signer.Sign(context.Background(), payloads[0], signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, TrustedRoot: tr, IdentityToken: token})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sandboxtest.LeafCert(t, other.Bundle).Raw, certs[0]) {
		t.Fatal("a separate Sign reused the session's certificate")
	}
}

func hex64(s string) string { return string(bytes.Repeat([]byte(s), 64)) }
