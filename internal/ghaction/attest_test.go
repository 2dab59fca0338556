package ghaction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// fakeAttest records the request and returns a result for its subjects.
func fakeAttest(got *attest.Request) ghaction.Attester {
	return func(_ context.Context, req attest.Request, stderr io.Writer) (*ghaction.AttestResult, error) {
		*got = req
		fmt.Fprintln(stderr, "signing")
		idx := int64(7)
		b := ghaction.Bundle{
			Path:     req.BundlePath,
			Identity: "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
			Issuer:   ghaction.GitHubIssuer, LogIndex: &idx, LogURL: "https://log2025-1.rekor.sigstore.dev",
		}
		for i, n := range append(append([]string(nil), req.SubjectPaths...), req.SubjectNames...) {
			b.Subjects = append(b.Subjects, ghaction.Subject{Name: n, Digest: map[string]string{"sha256": fmt.Sprintf("%064x", i+1)}})
		}
		return &ghaction.AttestResult{BuilderID: b.Identity, Bundles: []ghaction.Bundle{b}}, nil
	}
}

func TestAttestInputs(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		inputs  map[string]string
		want    attest.Request
		wantErr string
	}{
		{
			name:   "paths one a line",
			inputs: map[string]string{"subject-path": "dist/*.tar.gz\n\n  dist/app  \n"},
			want:   attest.Request{SubjectPaths: []string{"dist/*.tar.gz", "dist/app"}, BundlePath: "provenance.sigstore.json"},
		},
		{
			name: "checksums, bundle path, trust and private",
			inputs: map[string]string{"subject-checksums": "/tmp/subjects.sha256", "bundle-path": "/tmp/p.sigstore.json",
				"signing-config": "sc.json", "trusted-root": "tr.json", "private": "True", "private-repository": "true"},
			want: attest.Request{SubjectChecksums: []string{"/tmp/subjects.sha256"}, BundlePath: "/tmp/p.sigstore.json",
				SigningConfig: "sc.json", TrustedRoot: "tr.json", Private: true, PrivateRepository: true},
		},
		{
			name:   "image by name and digest",
			inputs: map[string]string{"subject-name": "ghcr.io/acme/app", "subject-digest": digest},
			want:   attest.Request{SubjectNames: []string{"ghcr.io/acme/app"}, SubjectDigests: []string{digest}, BundlePath: "provenance.sigstore.json"},
		},
		{
			name:   "sbom true",
			inputs: map[string]string{"subject-path": "dist/app", "sbom": "true"},
			want:   attest.Request{SubjectPaths: []string{"dist/app"}, BundlePath: "provenance.sigstore.json", SBOM: attest.SBOM{Generate: true, Formats: []string{"spdx"}}},
		},
		{
			name:   "sbom formats of a directory",
			inputs: map[string]string{"subject-path": "dist/*", "sbom": "spdx, cyclonedx", "sbom-source": "dist"},
			want:   attest.Request{SubjectPaths: []string{"dist/*"}, BundlePath: "provenance.sigstore.json", SBOM: attest.SBOM{Formats: []string{"spdx", "cyclonedx"}, Source: "dist"}},
		},
		{
			name:   "sbom the build made",
			inputs: map[string]string{"subject-path": "dist/app", "sbom-path": "sbom.spdx.json"},
			want:   attest.Request{SubjectPaths: []string{"dist/app"}, BundlePath: "provenance.sigstore.json", SBOM: attest.SBOM{Path: "sbom.spdx.json"}},
		},
		{name: "sbom format unknown", inputs: map[string]string{"subject-path": "a", "sbom": "swid"}, wantErr: `input sbom: "swid"`},
		{name: "sbom-source without sbom", inputs: map[string]string{"subject-path": "a", "sbom-source": "dist"}, wantErr: "input sbom-source needs sbom"},
		{name: "name without digest", inputs: map[string]string{"subject-name": "ghcr.io/acme/app"}, wantErr: "subject-name and subject-digest go together"},
		{name: "digest without name", inputs: map[string]string{"subject-digest": digest}, wantErr: "subject-name and subject-digest go together"},
		{name: "not a boolean", inputs: map[string]string{"subject-path": "a", "private": "yes"}, wantErr: `input private: "yes" is not a boolean`},
		{
			name:   "image by name and digest, pushed",
			inputs: map[string]string{"subject-name": "ghcr.io/acme/app", "subject-digest": digest, "push-to-registry": "true"},
			want: attest.Request{SubjectNames: []string{"ghcr.io/acme/app"}, SubjectDigests: []string{digest}, BundlePath: "provenance.sigstore.json",
				PushToRegistry: true, PushImages: []string{"ghcr.io/acme/app@" + digest}},
		},
		{
			name: "several images, one a line or comma-separated, pushed with the GitHub token",
			inputs: map[string]string{"subject-images": "ghcr.io/acme/app@" + digest + "\n\n docker.io/acme/app@" + digest + " , quay.io/acme/app@" + digest + "\n",
				"push-to-registry": "true", "github-token": "ghs_job_token_1"},
			want: attest.Request{EachImage: []string{"ghcr.io/acme/app@" + digest, "docker.io/acme/app@" + digest, "quay.io/acme/app@" + digest},
				BundlePath: "provenance.sigstore.json", PushToRegistry: true, RegistryToken: attest.RegistryToken{Registry: "ghcr.io", Token: "ghs_job_token_1"}},
		},
		{name: "push without an image", inputs: map[string]string{"subject-path": "a", "push-to-registry": "true"}, wantErr: "push-to-registry needs subject-images, or subject-name"},
		{name: "no subject", inputs: map[string]string{"bundle-path": "p.json"}, wantErr: "nothing to attest: give the input subject-path"},
		{name: "images with other subjects", inputs: map[string]string{"subject-path": "a", "subject-images": "ghcr.io/acme/app@" + digest}, wantErr: "input subject-images attests each image on its own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, tt.inputs)
			r.withTokenService(t)
			var got attest.Request
			cfg := ghaction.AttestConfig{Attest: fakeAttest(&got), Getenv: r.getenv, Stdout: io.Discard, Stderr: io.Discard}
			err := ghaction.Attest(context.Background(), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.IdentityToken = identityToken
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestAttestMasksTokens checks that the identity token and the request
// token are masked before anything is printed, and appear nowhere else: not
// in the log, the outputs or the summary.
func TestAttestMasksTokens(t *testing.T) {
	r := newRunner(t, map[string]string{"subject-path": "dist/app"})
	r.withTokenService(t)
	var got attest.Request
	var stdout, stderr bytes.Buffer
	if err := ghaction.Attest(context.Background(), ghaction.AttestConfig{
		Attest: fakeAttest(&got), Getenv: r.getenv, Stdout: &stdout, Stderr: &stderr,
	}); err != nil {
		t.Fatal(err)
	}
	masks := map[string]bool{}
	for _, l := range strings.Split(stdout.String(), "\n") {
		if m, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masks[m] = true
		} else if strings.Contains(l, identityToken) || strings.Contains(l, requestToken) {
			t.Errorf("a token in stdout outside a mask: %q", l)
		}
	}
	if !masks[identityToken] || !masks[requestToken] {
		t.Errorf("masks %v: want the identity token and the request token masked", masks)
	}
	if !strings.HasPrefix(stdout.String(), "::add-mask::"+requestToken+"\n") {
		t.Errorf("the request token is not masked first:\n%s", stdout.String())
	}
	for where, s := range map[string]string{"stderr": stderr.String(), "outputs": r.read(t, r.output), "summary": r.read(t, r.summary)} {
		if strings.Contains(s, identityToken) || strings.Contains(s, requestToken) {
			t.Errorf("a token in %s:\n%s", where, s)
		}
	}
	out := r.outputs(t)
	want := map[string]string{
		"bundle-path":          "provenance.sigstore.json",
		"certificate-identity": "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
		"certificate-issuer":   ghaction.GitHubIssuer,
		"builder-id":           "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0",
		"log-index":            "7",
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("outputs\ngot  %v\nwant %v", out, want)
	}
}

// TestAttestPushesImages: the summary lists each image with its bundle and
// where it went, with a verify-image command for each; when a push fails
// after signing, the summary still lists every image's result, the failed
// one with its error.
func TestAttestPushesImages(t *testing.T) {
	digest := "sha256:" + strings.Repeat("cd", 32)
	images := []string{"ghcr.io/acme/app@" + digest, "quay.io/acme/app@" + digest}
	pushes := []ghaction.Push{
		{Image: images[0], Bundle: "provenance.sigstore.json", Manifest: "sha256:" + strings.Repeat("ef", 32), Via: "referrers API"},
		{Image: images[1], Bundle: "provenance.sigstore.json", Manifest: "sha256:" + strings.Repeat("01", 32), Via: "referrers tag", Tag: "sha256-cdcd"},
	}
	pushing := func(got *attest.Request, err error) ghaction.Attester {
		return func(ctx context.Context, req attest.Request, stderr io.Writer) (*ghaction.AttestResult, error) {
			res, _ := fakeAttest(got)(ctx, req, stderr)
			res.Pushes = pushes
			if err != nil {
				return nil, &ghaction.PartialError{Result: res, Err: err}
			}
			return res, nil
		}
	}
	r := newRunner(t, map[string]string{"subject-images": strings.Join(images, ","), "push-to-registry": "true"})
	r.withTokenService(t)
	r.env["GITHUB_SERVER_URL"] = "https://octo.ghe.com"
	var got attest.Request
	if err := ghaction.Attest(context.Background(), ghaction.AttestConfig{Attest: pushing(&got, nil), Getenv: r.getenv, Stdout: io.Discard, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if !got.PushToRegistry || !reflect.DeepEqual(got.EachImage, images) {
		t.Errorf("request %+v: want both images, pushed", got)
	}
	summary := r.read(t, r.summary)
	for _, want := range []string{
		"| `" + images[0] + "` | `provenance.sigstore.json` | `sha256:efef",
		"| `" + images[1] + "` | `provenance.sigstore.json` | `sha256:0101",
		"hallmark verify-image " + images[0] + " --source-uri octo.ghe.com/acme/app",
		"hallmark verify-image " + images[1] + " --source-uri octo.ghe.com/acme/app",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}

	t.Run("one push fails", func(t *testing.T) {
		r := newRunner(t, map[string]string{"subject-images": strings.Join(images, ","), "push-to-registry": "true"})
		r.withTokenService(t)
		pushes[1].Manifest, pushes[1].Via, pushes[1].Tag, pushes[1].Error = "", "", "", errDenied.Error()
		err := ghaction.Attest(context.Background(), ghaction.AttestConfig{Attest: pushing(&got, errDenied), Getenv: r.getenv, Stdout: io.Discard, Stderr: io.Discard})
		if !errors.Is(err, errDenied) {
			t.Fatalf("err = %v, want it to wrap %v", err, errDenied)
		}
		summary := r.read(t, r.summary)
		for _, want := range []string{
			"### Hallmark: attestation FAILED",
			"| `" + images[0] + "` | `provenance.sigstore.json` | `sha256:efef",
			"| `" + images[1] + "` | `provenance.sigstore.json` | **not pushed:** `" + errDenied.Error() + "`",
		} {
			if !strings.Contains(summary, want) {
				t.Errorf("summary lacks %q:\n%s", want, summary)
			}
		}
	})
}

var errDenied = errors.New("DENIED: requested access to the resource is denied")

// TestAttestNoToken checks the explanation of a missing identity token: a
// pull request from a fork is told so, naming the fork; a pull request from
// a branch, or a push, is told its job lacks id-token: write.
func TestAttestNoToken(t *testing.T) {
	tests := []struct {
		name, event, payload string
		wantFork             bool
		wantIn               string
	}{
		{name: "pull request from a fork", event: "pull_request", payload: "event-pull-request-fork.json", wantFork: true, wantIn: "pull request #42 comes from the fork mallory/app"},
		{name: "pull request without a payload", event: "pull_request", wantFork: true},
		{name: "pull request from a branch", event: "pull_request", payload: "event-pull-request-branch.json", wantIn: "id-token: write"},
		{name: "push", event: "push", wantIn: "id-token: write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(t, map[string]string{"subject-path": "dist/app"})
			r.env["GITHUB_EVENT_NAME"] = tt.event
			if tt.payload != "" {
				r.env["GITHUB_EVENT_PATH"] = filepath.Join("testdata", tt.payload)
			}
			var got attest.Request
			err := ghaction.Attest(context.Background(), ghaction.AttestConfig{
				Attest: fakeAttest(&got), Getenv: r.getenv, ReadFile: os.ReadFile, Stdout: io.Discard, Stderr: io.Discard,
			})
			if got.IdentityToken != "" || err == nil {
				t.Fatalf("signed without a token (err %v)", err)
			}
			if errors.Is(err, ghaction.ErrForkPullRequest) != tt.wantFork {
				t.Errorf("err = %v; want errors.Is ErrForkPullRequest %v", err, tt.wantFork)
			}
			if !tt.wantFork && !errors.Is(err, signer.ErrNoIdentityToken) {
				t.Errorf("err = %v, want signer.ErrNoIdentityToken", err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("err = %v, want it to say %q", err, tt.wantIn)
			}
			summary := r.read(t, r.summary)
			if want := "### Hallmark: attestation FAILED\n\n```\n" + err.Error() + "\n```\n\n"; summary != want {
				t.Errorf("step summary = %q, want %q", summary, want)
			}
		})
	}
}
