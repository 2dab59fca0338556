package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// imagesFlags are attest's flags for --subject-images on the sandbox, with
// the bundles in a folder of their own.
func imagesFlags(t *testing.T, sb *sandbox.Sandbox, images ...string) (attestFlags, string) {
	t.Helper()
	token, err := sb.Token(oidc.DefaultAudience, imageClaims)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return attestFlags{
		subjectImagesEach: images, pushToRegistry: true, format: "json",
		bundlePath:    filepath.Join(dir, "provenance.sigstore.json"),
		signingConfig: sb.SigningConfigPath(), trustedRoot: sb.TrustedRootPath(), identityToken: token,
		factsFromToken: true, timeout: 30 * time.Second,
	}, dir
}

// attachedBundles are the bundles attached to img, as Discover finds them.
func attachedBundles(t *testing.T, img name.Digest) []string {
	t.Helper()
	d, err := oci.Discover(context.Background(), img, "https://slsa.dev/provenance/v1")
	if errors.Is(err, oci.ErrNoAttestation) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range d.Attestations {
		out = append(out, string(a.Bundle))
	}
	return out
}

// TestAttestSubjectImages attests three images on two registries in one
// call: one on olareg (the referrers API) and two on docker-registry with
// htpasswd (the referrers tag), whose login comes from a credential helper
// the docker config names. Each image gets a statement and bundle of its
// own, attached to it alone; the JSON summary lists every image with its
// bundle and manifest; verify-image passes for each.
func TestAttestSubjectImages(t *testing.T) {
	sb := sandboxtest.Start(t)
	open := ocitest.Referrers(t)
	locked := ocitest.Distribution(t, ocitest.WithHtpasswd("release-bot", "helper-held-secret-51"))
	ocitest.DockerConfig(t, locked) // to push the test images
	images := []name.Digest{open.Image(t, "acme/app", "v1.4.2"), locked.Image(t, "acme/app", "v1.4.2"), locked.Image(t, "acme/tool", "v1.4.2")}
	helper := ocitest.InstallCredentialHelper(t, "hallmarktest", map[string]ocitest.Credentials{locked.Host: {User: "release-bot", Secret: "helper-held-secret-51"}})
	ocitest.DockerConfigJSON(t, fmt.Sprintf(`{"credHelpers":{%q:"hallmarktest"}}`, locked.Host))

	// One image a line or comma-separated, the first listed twice.
	f, dir := imagesFlags(t, sb, images[0].String()+"\n"+images[1].String()+" , "+images[2].String(), images[0].String())
	var stdout, stderr bytes.Buffer
	if err := runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil)); err != nil {
		t.Fatalf("attest: %v\n%s", err, stderr.String())
	}
	var sum ghaction.AttestResult
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout.String())
	}
	if len(sum.Bundles) != 3 || len(sum.Pushes) != 3 {
		t.Fatalf("%d bundles and %d pushes, want 3 of each:\n%s", len(sum.Bundles), len(sum.Pushes), stdout.String())
	}
	byImage := map[string]ghaction.Push{}
	for _, p := range sum.Pushes {
		byImage[p.Image] = p
	}
	for i, img := range images {
		want := filepath.Join(dir, fmt.Sprintf("provenance.%s-%s.sigstore.json", filepath.Base(img.RepositoryStr()), strings.TrimPrefix(img.DigestStr(), "sha256:")[:12]))
		p, ok := byImage[img.String()]
		if !ok || p.Bundle != want || p.Manifest == "" || p.Error != "" {
			t.Errorf("image %d: push %+v, want %s attached", i, p, want)
			continue
		}
		if wantVia := map[bool]oci.Source{true: oci.SourceReferrersAPI, false: oci.SourceReferrersTag}[i == 0]; p.Via != string(wantVia) {
			t.Errorf("image %d: via %s, want %s", i, p.Via, wantVia)
		}
		_, st := statementOf(t, want)
		subjects, _ := st["subject"].([]any)
		if len(subjects) != 1 {
			t.Errorf("%s: %d subjects, want this image alone", want, len(subjects))
			continue
		}
		s := subjects[0].(map[string]any)
		if s["name"] != img.Context().Name() || !reflect.DeepEqual(s["digest"], map[string]any{"sha256": strings.TrimPrefix(img.DigestStr(), "sha256:")}) {
			t.Errorf("%s: subject %v, want %s", want, s, img)
		}
		data, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		if got := attachedBundles(t, img); len(got) != 1 || got[0] != string(data) {
			t.Errorf("%s: %d bundles attached, want its own alone", img, len(got))
		}
		stdout, stderr, code := run(t, "verify-image", img.String(), "--source-uri", "github.com/acme/app",
			"--trusted-root", sb.TrustedRootPath(), "--cert-oidc-issuer", sb.IssuerURL)
		if code != 0 {
			t.Errorf("verify-image %s: exit %d\n%s%s", img, code, stdout, stderr)
		}
	}
	if asked := helper.Requests(t); len(asked) == 0 || asked[0] != "get "+locked.Host {
		t.Errorf("the credential helper was asked %q, want get %s", asked, locked.Host)
	}
}

// TestAttestSubjectImagesPushFailure: when one image's registry fails the
// push after signing, the others are still attached; the error names the
// image that failed, every bundle is kept, and the printed `hallmark push`
// command pushes that image's bundle alone, without signing again. A
// registry that refuses before signing is found then, named, and nothing is
// signed.
func TestAttestSubjectImagesPushFailure(t *testing.T) {
	sb := sandboxtest.Start(t)
	var failing atomic.Bool
	reg := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing.Load() && r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/acme/broken/manifests/") {
				http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"disk full"}]}`, http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	ocitest.DockerConfigJSON(t, `{}`)
	good, broken := reg.Image(t, "acme/app", "v1.4.2"), reg.Image(t, "acme/broken", "v1.4.2")

	t.Run("after signing", func(t *testing.T) {
		failing.Store(true)
		f, dir := imagesFlags(t, sb, good.String()+","+broken.String())
		f.retries = 0
		var stdout, stderr bytes.Buffer
		err := runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil))
		var ke *attest.KeptError
		if !errors.As(err, &ke) || !errors.Is(err, oci.ErrRegistry) {
			t.Fatalf("err = %v, want the push failure with the bundles kept", err)
		}
		msg := err.Error()
		t.Logf("attest: %s", msg)
		for _, want := range []string{"1 of 2 images lack their attestation", "pushing ", " to " + broken.String() + ": ", "attached already: " + good.String()} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q:\n%s", want, msg)
			}
		}
		if len(ke.Kept) != 2 {
			t.Errorf("kept %v, want both bundles", ke.Kept)
		}
		if got := attachedBundles(t, good); len(got) != 1 {
			t.Errorf("%s: %d bundles attached, want 1: one image's failure stops no other", good, len(got))
		}
		if got := attachedBundles(t, broken); len(got) != 0 {
			t.Errorf("%s: %d bundles attached after a failed push", broken, len(got))
		}
		var failed []ghaction.Push
		for _, p := range ke.Result.Pushes {
			if p.Error != "" {
				failed = append(failed, p)
			}
		}
		if len(ke.Result.Pushes) != 2 || len(failed) != 1 || failed[0].Image != broken.String() {
			t.Errorf("pushes %+v: want both images, %s failed", ke.Result.Pushes, broken)
		}
		_, cmdline, ok := strings.Cut(msg, "push it without signing again:\n  ")
		if !ok {
			t.Fatalf("no push command in:\n%s", msg)
		}
		brokenBundle := filepath.Join(dir, "provenance.broken-"+strings.TrimPrefix(broken.DigestStr(), "sha256:")[:12]+".sigstore.json")
		if want := "hallmark push --subject-image " + broken.String() + " --bundle-path " + brokenBundle; cmdline != want {
			t.Errorf("push command\ngot  %s\nwant %s", cmdline, want)
		}

		failing.Store(false)
		var out bytes.Buffer
		if code := Run(context.Background(), strings.Fields(cmdline)[1:], nil, &out, &out); code != 0 {
			t.Fatalf("%s: exit %d\n%s", cmdline, code, out.String())
		}
		data, err := os.ReadFile(brokenBundle)
		if err != nil {
			t.Fatal(err)
		}
		if got := attachedBundles(t, broken); len(got) != 1 || got[0] != string(data) {
			t.Errorf("after hallmark push: %d bundles on %s, want its own", len(got), broken)
		}
		if got := attachedBundles(t, good); len(got) != 1 {
			t.Errorf("hallmark push touched %s: %d bundles", good, len(got))
		}
	})

	t.Run("before signing", func(t *testing.T) {
		locked := ocitest.Distribution(t, ocitest.WithHtpasswd("release-bot", "not-in-the-config-3"))
		ocitest.DockerConfig(t, locked)
		refused := locked.Image(t, "acme/app", "v1")
		ocitest.DockerConfigJSON(t, `{}`)
		f, dir := imagesFlags(t, sb, good.String(), refused.String(), ocitest.DownAddr(t)+"/acme/app@"+good.DigestStr())
		var stdout, stderr bytes.Buffer
		err := runAttest(context.Background(), f, nil, &stdout, &stderr, attestEnv(nil))
		var ae *oci.AuthError
		if !errors.Is(err, oci.ErrUnauthorized) || !errors.Is(err, oci.ErrUnreachable) || !errors.As(err, &ae) || ae.Registry != locked.Host {
			t.Fatalf("err = %v, want the refusal of %s and the unreachable registry, each named", err, locked.Host)
		}
		t.Logf("attest: %v", err)
		for _, want := range []string{"2 of 3 images cannot take their attestation", refused.String(), "docker login " + locked.Host, "nothing was signed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%s", want, err)
			}
		}
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Errorf("files left after a refusal before signing: %v", left)
		}
		if stdout.Len() > 0 {
			t.Errorf("stdout after a failure: %s", stdout.String())
		}
	})
}
