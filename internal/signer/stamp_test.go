package signer_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/digitorus/timestamp"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// TestTimestamp: the sandbox's TSA timestamps exactly the bytes given, and
// the answer is checked against the trusted root before it is returned.
func TestTimestamp(t *testing.T) {
	sb := sandboxtest.Start(t)
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)
	ctx := context.Background()

	answer, err := signer.Timestamp(ctx, data, signer.Options{SigningConfig: sc, TrustedRoot: tr})
	if err != nil {
		t.Fatalf("Timestamp: %v", err)
	}
	ts, err := timestamp.ParseResponse(answer)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if ts.HashAlgorithm != crypto.SHA256 || string(ts.HashedMessage) != string(sum[:]) {
		t.Fatalf("timestamp over %x (%v), want sha256 %x", ts.HashedMessage, ts.HashAlgorithm, sum)
	}
	if _, err := tr.TimestampingAuthorities()[0].Verify(answer, data); err != nil {
		t.Fatalf("the trusted root's TSA does not vouch for it: %v", err)
	}

	t.Run("a TSA the trusted root does not list", func(t *testing.T) {
		other, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
		if err != nil {
			t.Fatal(err)
		}
		// A root of another Sigstore: this one's Fulcio only.
		empty, err := root.NewTrustedRoot(root.TrustedRootMediaType01, other.FulcioCertificateAuthorities(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = signer.Timestamp(ctx, data, signer.Options{SigningConfig: sc, TrustedRoot: empty})
		if !errors.Is(err, signer.ErrTimestamp) {
			t.Fatalf("err = %v, want ErrTimestamp", err)
		}
	})
	t.Run("nothing to timestamp", func(t *testing.T) {
		if _, err := signer.Timestamp(ctx, nil, signer.Options{SigningConfig: sc}); !errors.Is(err, signer.ErrSigning) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no TSA in the signing config", func(t *testing.T) {
		noTSA, err := root.NewSigningConfig(root.SigningConfigMediaType02, sc.FulcioCertificateAuthorityURLs(), sc.OIDCProviderURLs(),
			sc.RekorLogURLs(), sc.RekorLogURLsConfig(), nil, sc.TimestampAuthorityURLsConfig())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signer.Timestamp(ctx, data, signer.Options{SigningConfig: noTSA}); !errors.Is(err, signer.ErrConfig) {
			t.Fatalf("err = %v, want ErrConfig", err)
		}
	})
}
