package ghaction_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/githubapi/githubtest"
)

const (
	storeToken    = "ghs_store_write_91b2"
	readOnlyToken = "ghs_store_read_04d7"
)

// writingAttest is fakeAttest that also returns the bytes of a
// bundle-shaped file, as the store takes the bundle from the result.
func writingAttest(got *attest.Request) ghaction.Attester {
	inner := fakeAttest(got)
	return func(ctx context.Context, req attest.Request, stderr io.Writer) (*ghaction.AttestResult, error) {
		res, err := inner(ctx, req, stderr)
		if err != nil {
			return nil, err
		}
		st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":{"sha256":%q}}]}`, strings.Repeat("1", 64))
		b := fmt.Sprintf(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{},"dsseEnvelope":{"payload":%q,"payloadType":"application/vnd.in-toto+json"}}`,
			base64.StdEncoding.EncodeToString([]byte(st)))
		res.Bundles[0].Data = []byte(b)
		return res, nil
	}
}

func TestAttestStoresInGitHub(t *testing.T) {
	gh := githubtest.Start(t, githubtest.WithPathPrefix("/api/v3"))
	gh.AddRepository("acme/app", 700000001, true)
	gh.AddToken(storeToken, true)
	gh.AddToken(readOnlyToken, false)
	tests := []struct {
		name, store, token string
		wantErr            error  // of Attest
		wantStored         int    // attestations in the fake afterwards
		wantWarning        string // on stdout
	}{
		{name: "default, with write access", token: storeToken, wantStored: 1},
		{name: "default, without write access, warns", token: readOnlyToken, wantWarning: "::warning::the attestation was not stored in acme/app's attestation store"},
		{name: "required, without write access, fails", store: "true", token: readOnlyToken, wantErr: githubapi.ErrForbidden},
		{name: "off", store: "false", token: storeToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(gh.Attestations("acme/app"))
			bundle := filepath.Join(t.TempDir(), "p.sigstore.json")
			r := newRunner(t, map[string]string{"subject-path": "dist/app", "bundle-path": bundle, "attestation-store": tt.store, "github-token": tt.token})
			r.env["GITHUB_SERVER_URL"], r.env["GITHUB_API_URL"] = "https://git.acme.example", gh.URL
			r.withTokenService(t)
			var got attest.Request
			var stdout, stderr strings.Builder
			err := ghaction.Attest(context.Background(), ghaction.AttestConfig{
				Attest: writingAttest(&got), Upload: ghaction.StoreUploader(r.getenv),
				Getenv: r.getenv, Stdout: &stdout, Stderr: &stderr,
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			stored := gh.Attestations("acme/app")[before:]
			if len(stored) != tt.wantStored {
				t.Fatalf("stored %d attestations, want %d", len(stored), tt.wantStored)
			}
			if !strings.Contains(stdout.String(), tt.wantWarning) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantWarning, stdout.String())
			}
			if !strings.Contains(stdout.String(), "::add-mask::"+tt.token) {
				t.Error("the GitHub token was not masked")
			}
			if strings.Contains(stderr.String()+r.read(t, r.summary)+fmt.Sprint(err), tt.token) {
				t.Error("the GitHub token reached the log, the summary or the error")
			}
			out := r.outputs(t)
			if tt.wantStored == 0 {
				if out["attestation-id"] != "" || out["attestation-url"] != "" {
					t.Errorf("outputs %v name an attestation that was not stored", out)
				}
				return
			}
			id := fmt.Sprint(stored[0].ID)
			url := "https://git.acme.example/acme/app/attestations/" + id
			if out["attestation-id"] != id || out["attestation-url"] != url {
				t.Errorf("outputs %v, want attestation %s at %s", out, id, url)
			}
			if s := r.read(t, r.summary); !strings.Contains(s, "- **Attestation:** `"+url+"`") {
				t.Errorf("summary lacks the attestation:\n%s", s)
			}
		})
	}
	t.Run("not a choice", func(t *testing.T) {
		r := newRunner(t, map[string]string{"subject-path": "dist/app", "attestation-store": "yes"})
		r.withTokenService(t)
		var got attest.Request
		err := ghaction.Attest(context.Background(), ghaction.AttestConfig{Attest: writingAttest(&got), Getenv: r.getenv, Stdout: io.Discard, Stderr: io.Discard})
		if err == nil || !strings.Contains(err.Error(), `input attestation-store: "yes" is not auto, true or false`) {
			t.Fatalf("err = %v", err)
		}
		if got.BundlePath != "" {
			t.Error("signed despite a bad input")
		}
	})
}
