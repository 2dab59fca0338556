package admission_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cli"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

// failedCheck reads the check a denial names: "FAILED: <check>: ".
var failedCheck = regexp.MustCompile(`FAILED: ([A-Za-z-]+): `)

// TestAdmission runs the admission controller against a real
// kube-apiserver with etcd, registered through the shipped webhook
// configurations (the API server calls it over TLS with the CA the
// controller made), real registries and provenance signed on the sandbox.
func TestAdmission(t *testing.T) {
	sb := sandboxStart(t)
	a := startAPI(t)
	ctx := context.Background()
	reg := ocitest.Referrers(t)
	var hang atomic.Bool
	slow := ocitest.Referrers(t, ocitest.WithMiddleware(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hang.Load() {
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(w, r)
		})
	}))
	trips := &ocitest.CountingTransport{}
	c := startController(t, a, admission.DefaultWebhookConfigName, nil, nil, admission.Config{
		Trust: trust(t, sb), VerifyDeadline: 4 * time.Second, RegistryTimeout: time.Second,
		CertCheckInterval: 250 * time.Millisecond, RegistryTransport: trips,
	})

	// Every image on a loopback registry under acme/, in namespaces of
	// team acme, must come from github.com/acme/app, built by Hallmark's
	// generic workflow at a release tag.
	acmePolicy := `
metadata: {name: acme-app}
spec:
  images: ["127.0.0.1:*/acme/**"]
  namespaceSelector: {matchLabels: {team: acme}}
  expect:
    sourceURI: github.com/acme/app
    certOIDCIssuer: ` + sb.IssuerURL + `
    builderID: https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml
`
	acme := applyPolicy(t, a, acmePolicy, c)
	applyPolicy(t, a, strings.NewReplacer("acme-app", "acme-warn", "team: acme", "team: acme-warn").Replace(acmePolicy)+"  mode: warn\n", c)
	ensureNamespace(t, a, "acme", map[string]string{"team": "acme"})
	ensureNamespace(t, a, "acme-warn", map[string]string{"team": "acme-warn"})
	ensureNamespace(t, a, "elsewhere", nil)

	good := reg.Image(t, "acme/app", "v1.4.2")
	attest(t, sb, goodClaims, good)
	tag := func(d name.Digest, tag string) string { return d.Context().String() + ":" + tag }
	byDigest := func(d name.Digest) string { return d.Context().String() + "@" + d.DigestStr() }

	// createPod creates a pod and returns the image the API server stored,
	// or the error.
	createPod := func(t *testing.T, ns, podName string, images ...string) (*corev1.Pod, error) {
		t.Helper()
		p := pod(ns, podName, images...)
		err := a.client.Create(ctx, p)
		return p, err
	}
	mustDeny := func(t *testing.T, err error, check string) string {
		t.Helper()
		if err == nil {
			t.Fatalf("admitted; want a denial naming the check %q", check)
		}
		if !apierrors.IsForbidden(err) {
			t.Fatalf("want Forbidden, got %v", err)
		}
		m := failedCheck.FindStringSubmatch(err.Error())
		if m == nil || m[1] != check {
			t.Fatalf("want FAILED: %s: ..., got %v", check, err)
		}
		return err.Error()
	}
	gone := func(t *testing.T, obj client.Object) {
		t.Helper()
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Fatalf("%s/%s exists after a denial (err %v)", obj.GetNamespace(), obj.GetName(), err)
		}
	}

	t.Run("attested image admitted and pinned to its digest", func(t *testing.T) {
		p, err := createPod(t, "acme", "good", tag(good, "v1.4.2"))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Spec.Containers[0].Image; got != byDigest(good) {
			t.Fatalf("stored image %s, want it pinned: %s", got, byDigest(good))
		}
	})

	t.Run("denied with the check named, in verify-image's words", func(t *testing.T) {
		unattested := reg.Image(t, "acme/app", "unattested")
		wrongSource := reg.Image(t, "acme/app", "wrong-source")
		attest(t, sb, wrongSourceClaims, wrongSource)
		wrongBuilder := reg.Image(t, "acme/app", "wrong-builder")
		attest(t, sb, wrongBuilderClaims, wrongBuilder)
		tampered := reg.Image(t, "acme/app", "tampered")
		pushTampered(t, sign(t, sb, goodClaims, false, tampered), tampered)
		tests := []struct {
			name  string
			img   name.Digest
			tag   string
			check string
		}{
			{"unattested", unattested, "unattested", "attestation"},
			{"wrong source", wrongSource, "wrong-source", string(verifier.CheckSource)},
			{"wrong builder", wrongBuilder, "wrong-builder", string(verifier.CheckBuilder)},
			{"tampered provenance", tampered, "tampered", string(verifier.CheckTlog)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p, err := createPod(t, "acme", tc.tag, tag(tc.img, tc.tag))
				msg := mustDeny(t, err, tc.check)
				gone(t, p)
				// The denial carries verify-image's own line for the
				// pinned image under the same expectations.
				var out, errOut bytes.Buffer
				cli.Run(ctx, []string{"verify-image", byDigest(tc.img), "--source-uri", "github.com/acme/app", "--cert-oidc-issuer", sb.IssuerURL,
					"--builder-id", "https://github.com/hallmark-dev/hallmark/.github/workflows/generic.yml", "--trusted-root", sb.TrustedRootPath()}, nil, &out, &errOut)
				line := strings.TrimSpace(out.String())
				if !strings.HasPrefix(line, "FAILED: "+tc.check+": ") || !strings.Contains(msg, line) {
					t.Fatalf("the denial does not carry verify-image's line\nverify-image: %s%s\ndenial: %s", line, errOut.String(), msg)
				}
			})
		}
	})

	t.Run("a Deployment is rejected before any Pod exists", func(t *testing.T) {
		unattested := reg.Image(t, "acme/app", "deploy-unattested")
		d := deployment("acme", "web", tag(unattested, "deploy-unattested"))
		mustDeny(t, a.client.Create(ctx, d), "attestation")
		gone(t, d)
		var pods corev1.PodList
		if err := a.client.List(ctx, &pods, client.InNamespace("acme"), client.MatchingLabels{"app": "web"}); err != nil || len(pods.Items) != 0 {
			t.Fatalf("pods of the denied Deployment: %d (%v)", len(pods.Items), err)
		}
		ok := deployment("acme", "web-good", tag(good, "v1.4.2"))
		if err := a.client.Create(ctx, ok); err != nil {
			t.Fatal(err)
		}
		if got := ok.Spec.Template.Spec.Containers[0].Image; got != byDigest(good) {
			t.Fatalf("Deployment template image %s, want it pinned: %s", got, byDigest(good))
		}
		cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "nightly"}, Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *"}}
		cj.Spec.JobTemplate.Spec.Template.Spec = corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "job", Image: tag(good, "v1.4.2")}}}
		if err := a.client.Create(ctx, cj); err != nil {
			t.Fatal(err)
		}
		if got := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; got != byDigest(good) {
			t.Fatalf("CronJob template image %s, want it pinned: %s", got, byDigest(good))
		}
	})

	t.Run("init and ephemeral containers are judged", func(t *testing.T) {
		unattested := reg.Image(t, "acme/app", "sidecar")
		p := pod("acme", "with-init", tag(good, "v1.4.2"))
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: tag(unattested, "sidecar")}}
		msg := mustDeny(t, a.client.Create(ctx, p), "attestation")
		if !strings.Contains(msg, `init container "init"`) {
			t.Fatalf("the denial does not name the init container: %s", msg)
		}
		p, err := createPod(t, "acme", "debug-me", tag(good, "v1.4.2"))
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: tag(unattested, "sidecar")}}}
		msg = mustDeny(t, a.client.SubResource("ephemeralcontainers").Update(ctx, p), "attestation")
		if !strings.Contains(msg, `ephemeral container "debug"`) {
			t.Fatalf("the denial does not name the ephemeral container: %s", msg)
		}
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			t.Fatal(err)
		}
		p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: tag(good, "v1.4.2")}}}
		if err := a.client.SubResource("ephemeralcontainers").Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		if got := p.Spec.EphemeralContainers[0].Image; got != byDigest(good) {
			t.Fatalf("ephemeral container image %s, want it pinned: %s", got, byDigest(good))
		}
	})

	t.Run("a tag re-pushed after admission is verified again", func(t *testing.T) {
		first := reg.Image(t, "acme/app", "moving")
		attest(t, sb, goodClaims, first)
		p1, err := createPod(t, "acme", "moving-1", tag(first, "moving"))
		if err != nil {
			t.Fatal(err)
		}
		second := reg.Image(t, "acme/app", "moving") // the same tag, other content, no provenance
		p2, err := createPod(t, "acme", "moving-2", tag(second, "moving"))
		msg := mustDeny(t, err, "attestation")
		if !strings.Contains(msg, second.DigestStr()) {
			t.Fatalf("the denial does not name the digest the tag points to now (%s): %s", second.DigestStr(), msg)
		}
		gone(t, p2)
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(p1), p1); err != nil || p1.Spec.Containers[0].Image != byDigest(first) {
			t.Fatalf("the first pod: %v %v", err, p1.Spec.Containers)
		}
	})

	t.Run("registry down or hanging is a denial", func(t *testing.T) {
		down := ocitest.DownAddr(t) + "/acme/app"
		_, err := createPod(t, "acme", "down-digest", down+"@sha256:"+strings.Repeat("a", 64))
		msg := mustDeny(t, err, admission.CheckRegistry)
		if !strings.Contains(msg, oci.ErrUnreachable.Error()) {
			t.Fatalf("the denial does not say the registry is unreachable: %s", msg)
		}
		_, err = createPod(t, "acme", "down-tag", down+":v1")
		mustDeny(t, err, admission.CheckRegistry)

		img := slow.Image(t, "acme/app", "v1")
		hang.Store(true)
		defer hang.Store(false)
		start := time.Now()
		_, err = createPod(t, "acme", "hanging", byDigest(img))
		msg = mustDeny(t, err, admission.CheckRegistry)
		if !strings.Contains(msg, oci.ErrTimeout.Error()) && !strings.Contains(msg, context.DeadlineExceeded.Error()) {
			t.Fatalf("the denial does not say the registry did not answer in time: %s", msg)
		}
		t.Logf("a hanging registry was denied after %s", time.Since(start))
	})

	t.Run("warn mode admits with a warning", func(t *testing.T) {
		w := &warnings{}
		cfg := rest.CopyConfig(a.cfg)
		cfg.WarningHandler = w
		wc, err := client.New(cfg, client.Options{Scheme: admission.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		unattested := reg.Image(t, "acme/app", "warned")
		p := pod("acme-warn", "warned", tag(unattested, "warned"))
		if err := wc.Create(ctx, p); err != nil {
			t.Fatalf("warn mode denied: %v", err)
		}
		if got := p.Spec.Containers[0].Image; got != byDigest(unattested) {
			t.Fatalf("stored image %s, want it pinned: %s", got, byDigest(unattested))
		}
		if texts := w.all(); len(texts) != 1 || !strings.Contains(texts[0], "ImagePolicy acme-warn: FAILED: attestation: ") {
			t.Fatalf("warnings %q", texts)
		}
	})

	t.Run("no policy governs the image", func(t *testing.T) {
		_, err := createPod(t, "elsewhere", "ungoverned", tag(good, "v1.4.2"))
		mustDeny(t, err, admission.CheckPolicy)
	})

	t.Run("kube-system is left alone", func(t *testing.T) {
		unattested := reg.Image(t, "acme/app", "system")
		if _, err := createPod(t, "kube-system", "system", tag(unattested, "system")); err != nil {
			t.Fatalf("a pod in kube-system was judged: %v", err)
		}
	})

	t.Run("pull secrets reach a private registry", func(t *testing.T) {
		private := ocitest.Distribution(t, ocitest.WithHtpasswd("puller", "hunter2-pull"))
		ocitest.DockerConfig(t, private) // for attest's push only: the controller reads pull secrets
		img := private.Image(t, "acme/app", "v1")
		attest(t, sb, goodClaims, img)
		ensureNamespace(t, a, "acme-private", map[string]string{"team": "acme"})
		_, err := createPod(t, "acme-private", "no-secret", tag(img, "v1"))
		msg := mustDeny(t, err, admission.CheckRegistry)
		if !strings.Contains(msg, oci.ErrUnauthorized.Error()) || strings.Contains(msg, "hunter2-pull") {
			t.Fatalf("denial: %s", msg)
		}
		cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{private.Host: map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte("puller:hunter2-pull"))}}})
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "acme-private", Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: cfg}}
		if err := a.client.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
		p := pod("acme-private", "with-secret", tag(img, "v1"))
		p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
		if err := a.client.Create(ctx, p); err != nil {
			t.Fatalf("with the pull secret: %v", err)
		}
		// A Deployment's template names none: its service account does.
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "acme-private", Name: "deployer"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}}
		if err := a.client.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		d := deployment("acme-private", "web", tag(img, "v1"))
		d.Spec.Template.Spec.ServiceAccountName = "deployer"
		if err := a.client.Create(ctx, d); err != nil {
			t.Fatalf("with the service account's pull secret: %v", err)
		}
	})

	t.Run("a verification summary from a trusted verifier", func(t *testing.T) {
		verifierRef := "acme/verifier/.github/workflows/verify.yml@refs/heads/main"
		applyPolicy(t, a, `
metadata: {name: acme-vsa}
spec:
  images: ["127.0.0.1:*/vsa/**"]
  namespaceSelector: {matchLabels: {team: acme-vsa}}
  expect: {sourceURI: github.com/acme/app, certOIDCIssuer: `+sb.IssuerURL+`}
  verificationSummaries:
    - issuer: `+sb.IssuerURL+`
      identity: https://github.com/`+verifierRef+`
      minLevel: 3
      maxAge: 1h
`, c)
		ensureNamespace(t, a, "acme-vsa", map[string]string{"team": "acme-vsa"})
		img := reg.Image(t, "vsa/app", "v1")
		pushVSA(t, sb, img, map[string]string{"repository": "acme/verifier", "ref": "refs/heads/main", "job_workflow_ref": verifierRef})
		p, err := createPod(t, "acme-vsa", "summarized", tag(img, "v1"))
		if err != nil {
			t.Fatalf("an image with a trusted summary: %v", err)
		}
		if p.Spec.Containers[0].Image != byDigest(img) {
			t.Fatalf("stored image %s", p.Spec.Containers[0].Image)
		}
		other := reg.Image(t, "vsa/app", "v2")
		pushVSA(t, sb, other, map[string]string{"repository": "evil/verifier", "ref": "refs/heads/main", "job_workflow_ref": "evil/verifier/.github/workflows/verify.yml@refs/heads/main"})
		_, err = createPod(t, "acme-vsa", "untrusted-summary", tag(other, "v2"))
		mustDeny(t, err, string(verifier.CheckIdentity))
	})

	t.Run("concurrent requests for one digest share one verification", func(t *testing.T) {
		img := reg.Image(t, "acme/app", "popular")
		attest(t, sb, goodClaims, img)
		before := metric(t, c, "hallmark_admission_verification_duration_seconds_count")
		trips.Reset()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := createPod(t, "acme", "popular-"+strconv.Itoa(i), byDigest(img))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := metric(t, c, "hallmark_admission_verification_duration_seconds_count") - before; n != 1 {
			t.Fatalf("%v verifications for 16 pods of one digest, want 1", n)
		}
		t.Logf("16 pods of one digest: %d registry round trips", trips.Reset())
	})

	t.Run("a policy change judges again", func(t *testing.T) {
		if err := a.client.Get(ctx, client.ObjectKeyFromObject(acme), acme); err != nil {
			t.Fatal(err)
		}
		acme.Spec.Expect.SourceURI = "github.com/acme/other"
		if err := a.client.Update(ctx, acme); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the new generation loaded", func() bool { return c.PolicyLoaded(acme.Name, acme.Generation) })
		_, err := createPod(t, "acme", "after-change", byDigest(good))
		mustDeny(t, err, string(verifier.CheckSource))
		acme.Spec.Expect.SourceURI = "github.com/acme/app"
		if err := a.client.Update(ctx, acme); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the restored generation loaded", func() bool { return c.PolicyLoaded(acme.Name, acme.Generation) })
		if _, err := createPod(t, "acme", "after-restore", byDigest(good)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an invalid ImagePolicy is refused by the API server", func(t *testing.T) {
		tests := []struct{ name, doc, says string }{
			{"unknown mode", "images: [\"r.example/a/*\"]\n  mode: block\n  expect: {sourceURI: github.com/acme/app}", "spec.mode"},
			{"no source", "images: [\"r.example/a/*\"]", "expect.sourceURI is required"},
			{"a glob with a digest", "images: [\"r.example/a@sha256:00\"]\n  expect: {sourceURI: github.com/acme/app}", "spec.images"},
			{"tag and versioned tag", "images: [\"r.example/a/*\"]\n  expect: {sourceURI: github.com/acme/app, sourceTag: v1.2.3, sourceVersionedTag: v1}", "exclude each other"},
			{"a builder id with an empty ref", "images: [\"r.example/a/*\"]\n  expect: {sourceURI: github.com/acme/app, builderID: \"https://github.com/acme/b/.github/workflows/b.yml@\"}", "builderID"},
			{"a policy whose regexp does not compile", "images: [\"r.example/a/*\"]\n  expect: {sourceURI: github.com/acme/app}\n  policy: |\n    issuers: [https://issuer.example]\n    builders: [{id: \"regexp:(unclosed\", maxLevel: 2}]", "builders[0]"},
			{"a policy with a CEL expression that does not compile", "images: [\"r.example/a/*\"]\n  expect: {sourceURI: github.com/acme/app}\n  policy: |\n    issuers: [https://issuer.example]\n    builders: [{id: x, maxLevel: 2}]\n    expressions: [\"statement.predicate ==\"]", "expressions[0]"},
			{"a glob naming a tag", "images: [\"r.example/a:v1\"]\n  expect: {sourceURI: github.com/acme/app}", "not tags"},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ip := &admission.ImagePolicy{}
				doc := "metadata: {name: invalid-" + strconv.Itoa(i) + "}\nspec:\n  " + tc.doc + "\n"
				if err := yamlUnmarshal(doc, ip); err != nil {
					t.Fatal(err)
				}
				err := a.client.Create(ctx, ip)
				if err == nil {
					a.client.Delete(ctx, ip)
					t.Fatal("the API server stored it")
				}
				if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) {
					t.Fatalf("want a refusal, got %v", err)
				}
				if !strings.Contains(err.Error(), tc.says) {
					t.Fatalf("the refusal does not say %q: %v", tc.says, err)
				}
				gone(t, ip)
			})
		}
	})

	t.Run("the controller's CA and certificate are renewed without a failed call", func(t *testing.T) {
		sel := map[string]string{"hallmark.test/webhook": "rotation"}
		rc := startController(t, a, "hallmark-rotation", sel, nil, admission.Config{
			Trust: trust(t, sb), SecretName: "rotation-tls", CALifetime: 6 * time.Second, CertLifetime: 2 * time.Second,
			CertCheckInterval: 100 * time.Millisecond,
		})
		eventually(t, 10*time.Second, "ImagePolicy acme-app loaded", func() bool { return rc.PolicyLoaded(acme.Name, acme.Generation) })
		ensureNamespace(t, a, "acme-rotation", map[string]string{"team": "acme", "hallmark.test/webhook": "rotation"})
		cas, leaves := map[string]bool{}, map[string]bool{}
		for i := 0; len(cas) < 2 || len(leaves) < 3; i++ {
			if i > 100 {
				t.Fatalf("after %d pods: %d CAs and %d certificates served, want a CA rotation and two renewals", i, len(cas), len(leaves))
			}
			if _, err := createPod(t, "acme-rotation", "rotating-"+strconv.Itoa(i), byDigest(good)); err != nil {
				t.Fatalf("pod %d: %v", i, err)
			}
			cas[caOf(t, a, "hallmark-rotation")] = true
			leaves[servedSerial(t, rc.host, nil)] = true
			time.Sleep(150 * time.Millisecond)
		}
	})

	t.Run("a certificate cert-manager keeps is served and read again", func(t *testing.T) {
		dir := t.TempDir()
		ca := newTestCA(t)
		ca.writeLeaf(t, dir, "127.0.0.1")
		sel := map[string]string{"hallmark.test/webhook": "cert-dir"}
		cc := startController(t, a, "hallmark-cert-dir", sel, ca.pem, admission.Config{
			Trust: trust(t, sb), CertDir: dir, CertCheckInterval: 100 * time.Millisecond,
		})
		eventually(t, 10*time.Second, "ImagePolicy acme-app loaded", func() bool { return cc.PolicyLoaded(acme.Name, acme.Generation) })
		ensureNamespace(t, a, "acme-cert-dir", map[string]string{"team": "acme", "hallmark.test/webhook": "cert-dir"})
		if _, err := createPod(t, "acme-cert-dir", "before", byDigest(good)); err != nil {
			t.Fatal(err)
		}
		first := servedSerial(t, cc.host, ca.pool)
		ca.writeLeaf(t, dir, "127.0.0.1")
		eventually(t, 10*time.Second, "the renewed certificate served", func() bool { return servedSerial(t, cc.host, ca.pool) != first })
		if _, err := createPod(t, "acme-cert-dir", "after", byDigest(good)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the manifests apply", func(t *testing.T) {
		objs := decodeAll(t, kustomize(t, manifests))
		kinds := map[string]int{}
		for _, u := range objs {
			kinds[u.GetKind()]++
			if u.GetKind() == "Namespace" {
				ensureNamespace(t, a, u.GetName(), nil)
			}
		}
		for k, n := range map[string]int{"Namespace": 1, "CustomResourceDefinition": 1, "ServiceAccount": 1, "ClusterRole": 1, "ClusterRoleBinding": 1,
			"Role": 1, "RoleBinding": 1, "Service": 1, "Deployment": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1,
			"MutatingWebhookConfiguration": 1, "ValidatingWebhookConfiguration": 1} {
			if kinds[k] != n {
				t.Errorf("%d %s, want %d", kinds[k], k, n)
			}
		}
		for _, u := range objs {
			t.Run(u.GetKind()+"/"+u.GetName(), func(t *testing.T) {
				if strings.HasSuffix(u.GetKind(), "WebhookConfiguration") {
					// The running controller's configurations have this
					// name, pointed at loopback.
					u.SetName(u.GetName() + "-dry-run")
				}
				if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.DryRunAll, client.FieldOwner("hallmark-test"), client.ForceOwnership); err != nil {
					t.Fatalf("server-side dry-run apply: %v", err)
				}
				switch u.GetKind() {
				case "ClusterRole", "Role":
					rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
					for _, r := range rules {
						for _, field := range []string{"verbs", "resources", "apiGroups"} {
							vs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), field)
							for _, v := range vs {
								if strings.Contains(v, "*") {
									t.Errorf("wildcard %s %q", field, v)
								}
							}
						}
						if vs, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "verbs"); slices.Contains(vs, "list") || slices.Contains(vs, "watch") {
							if res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources"); slices.Contains(res, "secrets") {
								t.Errorf("secrets may be listed or watched: %v", r)
							}
						}
					}
				case "Deployment":
					img, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
					if image := img[0].(map[string]any)["image"].(string); !strings.Contains(image, "@sha256:") {
						t.Errorf("the controller's image %s is not pinned by digest", image)
					}
				}
			})
		}
		// The cert-manager component: the controller serves the mounted
		// certificate, and cert-manager injects its CA.
		overlay := t.TempDir()
		absManifests, _ := filepath.Abs(manifests)
		rel, err := filepath.Rel(overlay, absManifests)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte("resources: ["+rel+"]\ncomponents: ["+rel+"/cert-manager]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		injected, certs := 0, 0
		for _, u := range decodeAll(t, kustomize(t, overlay)) {
			switch u.GetKind() {
			case "Deployment":
				cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
				args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
				if !slices.Contains(args, "--cert-dir=/etc/hallmark/tls") {
					t.Errorf("with cert-manager, the controller's args %v lack --cert-dir", args)
				}
			case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
				if u.GetAnnotations()["cert-manager.io/inject-ca-from"] == "hallmark-admission/hallmark-admission" {
					injected++
				}
			case "Certificate", "Issuer":
				if u.GetNamespace() != "hallmark-admission" {
					t.Errorf("%s %s in namespace %q", u.GetKind(), u.GetName(), u.GetNamespace())
				}
				if u.GetName() == "hallmark-admission" {
					dns, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "dnsNames")
					if !slices.Contains(dns, "hallmark-admission.hallmark-admission.svc") {
						t.Errorf("the serving certificate names %v, not the Service", dns)
					}
					certs++
				}
			}
		}
		if injected != 2 || certs != 1 {
			t.Errorf("cert-manager: %d configurations injected (want 2), %d serving certificates (want 1)", injected, certs)
		}

		// The example policy is accepted by the schema and the controller.
		data, err := os.ReadFile(filepath.Join(manifests, "example-imagepolicy.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		ex := decodeAll(t, data)[0]
		ex.SetName("example-dry-run")
		if err := a.client.Create(ctx, ex, client.DryRunAll); err != nil {
			t.Fatalf("the example ImagePolicy: %v", err)
		}
	})

	t.Run("metrics and readiness", func(t *testing.T) {
		body := get(t, c.ops+"/readyz")
		if body != "ok\n" {
			t.Fatalf("/readyz: %q", body)
		}
		if n := metric(t, c, `hallmark_admission_cache_lookups_total{result="hit"}`); n < 1 {
			t.Errorf("no cache hits counted")
		}
		if n := metric(t, c, `hallmark_admission_verdicts_total{check="attestation",mode="enforce",outcome="fail"}`); n < 1 {
			t.Errorf("no denial for a missing attestation counted")
		}
		if n := metric(t, c, `hallmark_admission_request_duration_seconds_count{webhook="validate"}`); n < 1 {
			t.Errorf("no validation latency observed")
		}
		if n := metric(t, c, `hallmark_admission_policies{state="ready"}`); n < 2 {
			t.Errorf("policies ready: %v", n)
		}
	})
}

// deployment is a Deployment of one replica running image.
func deployment(ns, name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// pushTampered changes one byte of meaning in the signed statement of the
// bundle at path and pushes the result as img's attestation.
func pushTampered(t *testing.T, path string, img name.Digest) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	env := b["dsseEnvelope"].(map[string]any)
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(payload, []byte("refs/tags/v1.4.2"), []byte("refs/tags/v9.4.2"), 1)
	if bytes.Equal(changed, payload) {
		t.Fatal("nothing to tamper with")
	}
	env["payload"] = base64.StdEncoding.EncodeToString(changed)
	data, _ = json.Marshal(b)
	if _, err := oci.Push(context.Background(), img, oci.Attestation{Bundle: data, PredicateType: "https://slsa.dev/provenance/v1"}); err != nil {
		t.Fatal(err)
	}
}

// pushVSA signs, on the sandbox with claims, a verification summary saying
// img passed at level 3, and attaches it to img.
func pushVSA(t *testing.T, sb interface {
	Token(string, map[string]string) (string, error)
	SigningConfigPath() string
	TrustedRootPath() string
}, img name.Digest, claims map[string]string) {
	t.Helper()
	_, hexDigest, _ := strings.Cut(img.DigestStr(), ":")
	st := map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": img.Context().String(), "digest": map[string]string{"sha256": hexDigest}}},
		"predicateType": verifier.PredicateVSA,
		"predicate": map[string]any{
			"verifier":           map[string]any{"id": "https://github.com/acme/verifier"},
			"timeVerified":       time.Now().UTC().Format(time.RFC3339),
			"resourceUri":        img.String(),
			"policy":             map[string]any{"uri": "https://github.com/acme/verifier/policy.yaml"},
			"verificationResult": "PASSED",
			"verifiedLevels":     []string{"SLSA_BUILD_LEVEL_3"},
			"slsaVersion":        "1.0",
		},
	}
	payload, _ := json.Marshal(st)
	token, err := sb.Token(oidc.DefaultAudience, claims)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := loadSigningConfig(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	res, err := signer.Sign(context.Background(), payload, signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, IdentityToken: token})
	if err != nil {
		t.Fatal(err)
	}
	data, err := protojsonMarshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.Push(context.Background(), img, oci.Attestation{Bundle: data, PredicateType: verifier.PredicateVSA}); err != nil {
		t.Fatal(err)
	}
}

// warnings collects the warnings the API server sends back.
type warnings struct {
	mu    sync.Mutex
	texts []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.texts = append(w.texts, text)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.texts...)
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// metric reads one sample from the controller's /metrics ("" labels for
// none), 0 when absent.
func metric(t testing.TB, c *controller, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(get(t, c.ops+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// decodeAll reads the objects of a YAML stream.
func decodeAll(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// kustomize renders a kustomization as kubectl kustomize does, with the
// same library.
func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
