package sandbox_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// TestTrustFiles: the files Up writes are the ones every client reads (see
// internal/interop for the clients themselves).
func TestTrustFiles(t *testing.T) {
	sb := sandboxtest.Start(t)
	read := func(path string) []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	type tlog struct {
		LogID           struct{ KeyID string } `json:"logId"`
		CheckpointKeyID struct{ KeyID string } `json:"checkpointKeyId"`
	}
	type rootJSON struct {
		Tlogs                []tlog            `json:"tlogs"`
		TimestampAuthorities []json.RawMessage `json:"timestampAuthorities"`
	}

	for _, tc := range []struct {
		path  string
		tlogs int
	}{{sb.TrustedRootPath(), 1}, {sb.TrustedRootTSAOnlyPath(), 0}} {
		data := read(tc.path)
		// gh reads --custom-trusted-root one JSON document per line.
		if bytes.Count(data, []byte("\n")) != 1 || data[len(data)-1] != '\n' {
			t.Errorf("%s is not one line", tc.path)
		}
		if _, err := root.NewTrustedRootFromJSON(data); err != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
		var r rootJSON
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Tlogs) != tc.tlogs || len(r.TimestampAuthorities) != 1 {
			t.Errorf("%s: %d logs and %d TSAs, want %d and 1", tc.path, len(r.Tlogs), len(r.TimestampAuthorities), tc.tlogs)
		}
		// The checkpoint key ID is the log ID, as sigstore-js reads it.
		for _, l := range r.Tlogs {
			if l.LogID.KeyID == "" || l.CheckpointKeyID.KeyID != l.LogID.KeyID {
				t.Errorf("%s: checkpointKeyId %q, logId %q: want them equal", tc.path, l.CheckpointKeyID.KeyID, l.LogID.KeyID)
			}
		}
	}

	full, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tsaOnly, err := root.NewSigningConfigFromPath(sb.SigningConfigTSAOnlyPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(full.RekorLogURLs()) != 1 || len(tsaOnly.RekorLogURLs()) != 0 ||
		len(tsaOnly.TimestampAuthorityURLs()) != 1 || len(tsaOnly.FulcioCertificateAuthorityURLs()) != 1 {
		t.Errorf("signing configs: full has %d logs; TSA-only has %d logs, %d TSAs, %d Fulcios",
			len(full.RekorLogURLs()), len(tsaOnly.RekorLogURLs()), len(tsaOnly.TimestampAuthorityURLs()), len(tsaOnly.FulcioCertificateAuthorityURLs()))
	}

	tr, err := root.NewTrustedRootFromPath(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []*x509.Certificate
	}{
		{sb.FulcioChainPath(), fulcioCerts(t, tr)},
		{sb.TSAChainPath(), tsaCerts(t, tr)},
	} {
		rest := read(tc.path)
		var got []*x509.Certificate
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			got = append(got, c)
		}
		if len(got) == 0 || len(got) != len(tc.want) {
			t.Fatalf("%s: %d certificates, the trusted root has %d", tc.path, len(got), len(tc.want))
		}
		for i := range got {
			if !got[i].Equal(tc.want[i]) {
				t.Errorf("%s: certificate %d is not the trusted root's", tc.path, i)
			}
		}
	}
}

func fulcioCerts(t *testing.T, tr *root.TrustedRoot) []*x509.Certificate {
	t.Helper()
	ca, ok := tr.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	if !ok {
		t.Fatal("not a Fulcio CA")
	}
	return append(append([]*x509.Certificate(nil), ca.Intermediates...), ca.Root)
}

func tsaCerts(t *testing.T, tr *root.TrustedRoot) []*x509.Certificate {
	t.Helper()
	ta, ok := tr.TimestampingAuthorities()[0].(*root.SigstoreTimestampingAuthority)
	if !ok {
		t.Fatal("not a TSA")
	}
	var out []*x509.Certificate
	if ta.Leaf != nil {
		out = append(out, ta.Leaf)
	}
	out = append(out, ta.Intermediates...)
	return append(out, ta.Root)
}
