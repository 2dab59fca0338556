package interop_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

var update = flag.Bool("update", false, "rewrite testdata/matrix.txt and README's works-with table from this run")

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const (
	slsaV1 = "https://slsa.dev/provenance/v1"
	vsaV1  = "https://slsa.dev/verification_summary/v1"
	// The build's signer: Hallmark's reusable workflow at a release tag,
	// called from acme/app, as GitHub's OIDC token names it.
	jobRef = "hallmark-dev/hallmark/.github/workflows/generic.yml@refs/tags/v1.0.0"
	// The verifier that signs VSAs: a workflow of acme/app.
	verifierRef = "acme/app/.github/workflows/deploy.yml@refs/heads/main"
	source      = "github.com/acme/app"
)

var buildClaims = map[string]string{"repository": "acme/app", "ref": "refs/tags/v1.4.2", "job_workflow_ref": jobRef}

// world is what every case shares: one sandbox, two registries, the
// clients and the bundles made once.
type world struct {
	sb         *sandbox.Sandbox
	tl         tools
	r          *runner
	dir        string
	issuer     string
	san        string // the build signer's certificate identity
	verSAN     string // the VSA signer's
	refReg     *ocitest.Registry
	tagReg     *ocitest.Registry
	artifact   string // what Hallmark attested
	tampered   string // a file that is not it
	policyTSA  string // Hallmark policy accepting a timestamp without a log entry
	cells      []cell
	tamperedOK []string // tampered cells a client accepted
}

func TestMatrix(t *testing.T) {
	start := time.Now()
	sb := sandboxtest.Start(t)
	w := &world{
		sb: sb, tl: findTools(t, sandboxtest.Binary(t)), r: newRunner(t), dir: t.TempDir(),
		issuer: sb.IssuerURL, san: "https://github.com/" + jobRef, verSAN: "https://github.com/" + verifierRef,
		refReg: ocitest.Referrers(t), tagReg: ocitest.Distribution(t),
	}
	w.artifact = w.write(t, "app", randomBytes(t))
	w.tampered = w.write(t, "app-tampered", randomBytes(t))
	w.policyTSA = w.write(t, "policy-tsa.yaml", []byte(`issuers: [`+sb.IssuerURL+`]
builders:
  - {name: hallmark, signer: "glob:https://github.com/hallmark-dev/hallmark/.github/workflows/{generic,container,go}.yml@refs/tags/v*", maxLevel: 3}
source: `+source+`
thresholds: {transparencyLog: 0, signedTimestamps: 1}
`))

	w.hallmarkArtifacts(t)
	w.hallmarkImages(t)
	w.cosignMade(t)
	w.actionsAttest(t)

	sortCells(w.cells, clientOrder)
	t.Logf("interop matrix (%d cells, %s):\n%s", len(w.cells), time.Since(start).Round(time.Second), printMatrix(w.cells))
	for _, c := range w.tamperedOK {
		t.Errorf("a client accepted a tampered case: %s", c)
	}

	table := worksWithTable(w.cells, clientVersions, clientOrder)
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	newReadme, err := spliceReadme(string(readme), table)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := writeMatrix(matrixFile, w.cells); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(readmeFile, []byte(newReadme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := readMatrix(matrixFile)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	if d := diffMatrix(want, w.cells); len(d) > 0 {
		t.Errorf("the matrix differs from %s in %d cells (after a deliberate change: go test ./internal/interop -run TestMatrix -update):\n  %s",
			matrixFile, len(d), strings.Join(d, "\n  "))
	}
	if newReadme != string(readme) {
		t.Errorf("README's works-with table is not the one the matrix gives; rewrite it with go test ./internal/interop -run TestMatrix -update. Want:\n%s", table)
	}
}

// record adds a cell for client on a case.
func (w *world) record(caseName, client string, tampered bool, o outcome) {
	c := cell{Case: caseName, Client: client}
	switch {
	case tampered && o.ok:
		c.Outcome = accepts
		w.tamperedOK = append(w.tamperedOK, caseName+" × "+client)
	case tampered:
		c.Outcome, c.Detail = rejects, o.reason
	case o.ok:
		c.Outcome, c.Detail = works, strings.Join(o.flags, flagSep)
	default:
		c.Outcome, c.Detail = fails, o.reason
	}
	w.cells = append(w.cells, c)
}

func (w *world) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 4096)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) token(t *testing.T, claims map[string]string) string {
	t.Helper()
	tok, err := w.sb.Token(oidc.DefaultAudience, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// hallmarkRun runs the hallmark CLI and fails the test if it fails: for
// making what the clients verify.
func (w *world) hallmarkRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := w.r.run(t, w.tl.hallmark, args...)
	if code != 0 {
		t.Fatalf("hallmark %s: exit %d\n%s%s", strings.Join(redactTokens(args), " "), code, stdout, stderr)
	}
	return stdout + stderr
}

// redactTokens is args with the value of --identity-token hidden: tokens
// stay out of test logs too.
func redactTokens(args []string) []string {
	out := slices.Clone(args)
	for i := range out {
		if out[i] == "--identity-token" && i+1 < len(out) {
			out[i+1] = "REDACTED"
		}
	}
	return out
}

// attest signs provenance for the artifact (or, with image flags, an
// image) with Hallmark as a build would.
func (w *world) attest(t *testing.T, bundle string, extra ...string) {
	t.Helper()
	args := append([]string{"attest", "--bundle-path", bundle,
		"--signing-config", w.sb.SigningConfigPath(), "--trusted-root", w.sb.TrustedRootPath(),
		"--identity-token", w.token(t, buildClaims), "--facts-from-token"}, extra...)
	w.hallmarkRun(t, args...)
}

// artifactCase is a bundle about a file.
type artifactCase struct {
	name, bundle, artifact, predicateType string
	tsaOnly                               bool
	signerSAN                             string
}

// hallmarkArtifacts: Hallmark's artifact bundles (Rekor v2 and a
// timestamp; a timestamp only) and a VSA, verified by every client, and
// each against a tampered artifact.
func (w *world) hallmarkArtifacts(t *testing.T) {
	rekor := filepath.Join(w.dir, "app.rekor.sigstore.json")
	w.attest(t, rekor, "--subject-path", w.artifact)
	tsa := filepath.Join(w.dir, "app.tsa.sigstore.json")
	w.attest(t, tsa, "--subject-path", w.artifact, "--private")
	vsa := filepath.Join(w.dir, "app.vsa.sigstore.json")
	w.hallmarkRun(t, "verify-artifact", w.artifact, "--provenance-path", rekor, "--source-uri", source,
		"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.issuer,
		"--vsa-out", vsa, "--vsa-resource-uri", "pkg:generic/app@1.0.0", "--vsa-signing-config", w.sb.SigningConfigPath(),
		"--identity-token", w.token(t, map[string]string{"repository": "acme/app", "ref": "refs/heads/main", "job_workflow_ref": verifierRef}))

	for _, c := range []artifactCase{
		{name: "hallmark artifact, Rekor v2 + TSA", bundle: rekor, predicateType: slsaV1, signerSAN: w.san},
		{name: "hallmark artifact, TSA only", bundle: tsa, predicateType: slsaV1, tsaOnly: true, signerSAN: w.san},
		{name: "hallmark VSA", bundle: vsa, predicateType: vsaV1, signerSAN: w.verSAN},
	} {
		for _, tampered := range []bool{false, true} {
			name := c.name
			c.artifact = w.artifact
			if tampered {
				c.artifact, name = w.tampered, c.name+", tampered artifact"
			}
			w.record(name, hallmark, tampered, w.hallmarkVerifyArtifact(t, c))
			w.record(name, cosign, tampered, w.cosignVerifyBlob(t, c))
			w.record(name, gh, tampered, w.ghVerify(t, c.artifact, c))
			w.record(name, sigstoreGo, tampered, w.sigstoreGoVerify(t, c))
			w.record(name, sigstoreJS, tampered, w.sigstoreJSVerify(t, c))
		}
	}
}

func (w *world) hallmarkVerifyArtifact(t *testing.T, c artifactCase) outcome {
	var args, flags []string
	switch {
	case c.predicateType == vsaV1:
		args = []string{"verify-vsa", c.artifact, "--vsa-path", c.bundle, "--trusted-root", w.sb.TrustedRootPath(),
			"--verifier-issuer", w.issuer, "--verifier-identity", c.signerSAN}
	case c.tsaOnly:
		flags = []string{policyTSAFlag}
		args = []string{"verify-artifact", c.artifact, "--provenance-path", c.bundle, "--trusted-root", w.sb.TrustedRootPath(),
			"--policy", w.policyTSA}
	default:
		args = []string{"verify-artifact", c.artifact, "--provenance-path", c.bundle, "--source-uri", source,
			"--trusted-root", w.sb.TrustedRootPath(), "--cert-oidc-issuer", w.issuer}
	}
	stdout, stderr, code := w.r.run(t, w.tl.hallmark, args...)
	return verdict(stdout, stderr, code, hallmarkReason, flags)
}

func cosignType(predicateType string) string {
	if predicateType == slsaV1 {
		return "slsaprovenance1"
	}
	return predicateType
}

func (w *world) cosignVerifyBlob(t *testing.T, c artifactCase) outcome {
	flags := []string{"--new-bundle-format", "--use-signed-timestamps", "--insecure-ignore-sct"}
	if c.tsaOnly {
		flags = append(flags, "--insecure-ignore-tlog")
	}
	args := append([]string{"verify-blob-attestation", "--bundle", c.bundle, "--trusted-root", w.sb.TrustedRootPath(),
		"--certificate-identity", c.signerSAN, "--certificate-oidc-issuer", w.issuer, "--type", cosignType(c.predicateType)}, flags...)
	stdout, stderr, code := w.r.run(t, w.tl.cosign, append(args, c.artifact)...)
	return verdict(stdout, stderr, code, cosignReason, flags)
}

// ghVerify runs gh attestation verify on subject (a file or oci://image).
func (w *world) ghVerify(t *testing.T, subject string, c artifactCase, extra ...string) outcome {
	var flags []string
	root := w.sb.TrustedRootPath()
	if c.tsaOnly {
		root = w.sb.TrustedRootTSAOnlyPath()
		flags = append(flags, "--custom-trusted-root "+sandbox.TrustedRootTSAOnlyFile)
	}
	args := []string{"attestation", "verify", subject, "--custom-trusted-root", root, "--owner", "acme",
		"--cert-oidc-issuer", w.issuer, "--predicate-type", c.predicateType}
	if c.signerSAN == w.san {
		flags = append(flags, "--signer-workflow hallmark-dev/hallmark/.github/workflows/generic.yml")
		args = append(args, "--signer-workflow", "hallmark-dev/hallmark/.github/workflows/generic.yml")
	}
	if c.bundle != "" {
		args = append(args, "--bundle", c.bundle)
	}
	flags = append(flags, extra...)
	var env []string
	if strings.HasPrefix(subject, "oci://") {
		// gh reads images only when logged in to GitHub, though it asks
		// GitHub nothing here: a token that reaches no one.
		env = []string{"GH_TOKEN=gho_interop-test-not-a-token"}
		flags = append(flags, "GH_TOKEN (a login)")
	}
	stdout, stderr, code := w.r.runEnv(t, env, w.tl.gh, append(args, extra...)...)
	return verdict(stdout, stderr, code, ghReason, flags)
}

func (w *world) sigstoreGoVerify(t *testing.T, c artifactCase) outcome {
	flags := []string{"--requireCTlog=false"}
	if c.tsaOnly {
		flags = append(flags, "--requireTlog=false")
	}
	args := append([]string{"--trustedrootJSONpath", w.sb.TrustedRootPath(), "--expectedIssuer", w.issuer, "--expectedSAN", c.signerSAN},
		flags...)
	stdout, stderr, code := w.r.run(t, w.tl.sigstoreGo, append(args, "--artifact", c.artifact, c.bundle)...)
	return verdict(stdout, stderr, code, plainReason, flags)
}

func (w *world) sigstoreJSVerify(t *testing.T, c artifactCase) outcome {
	flags := []string{"ctlogThreshold: 0"}
	if c.tsaOnly {
		flags = append(flags, "tlogThreshold: 0")
	}
	args := []string{w.tl.sigstoreJS, "--bundle", c.bundle, "--trusted-root", w.sb.TrustedRootPath(), "--artifact", c.artifact,
		"--san-regexp", "^" + strings.ReplaceAll(c.signerSAN, ".", `\.`) + "$", "--issuer", w.issuer,
		"--predicate-type", c.predicateType, "--ctlog-threshold", "0"}
	if c.tsaOnly {
		args = append(args, "--tlog-threshold", "0")
	}
	stdout, stderr, code := w.r.run(t, "node", args...)
	return verdict(stdout, stderr, code, plainReason, flags)
}

// imageCase is an attestation attached to an image.
type imageCase struct {
	name   string
	image  name.Digest
	legacy bool // only cosign's legacy tag holds it
}

// hallmarkImages: Hallmark's image attestations, as an OCI 1.1 referrer
// on a registry with the referrers API and on one without (the referrers
// tag schema), and under cosign's legacy tag; each also attached by an
// attacker to another image.
func (w *world) hallmarkImages(t *testing.T) {
	ctx := context.Background()
	refImg := w.refReg.Image(t, "acme/app", "v1")
	refBundle := filepath.Join(w.dir, "image-referrers.sigstore.json")
	w.attest(t, refBundle, "--subject-image", refImg.String(), "--push-to-registry")
	tagImg := w.tagReg.Image(t, "acme/app", "v1")
	tagBundle := filepath.Join(w.dir, "image-tag.sigstore.json")
	w.attest(t, tagBundle, "--subject-image", tagImg.String(), "--push-to-registry")
	legacyImg := w.tagReg.Image(t, "acme/legacy", "v1")
	legacyBundle := filepath.Join(w.dir, "image-legacy.sigstore.json")
	w.attest(t, legacyBundle, "--subject-image", legacyImg.String(), "--push-to-registry", "--push-legacy-tag")
	// Only the legacy tag is left: the referrers tag's index goes.
	deleteTag(t, legacyImg.Context().Tag(strings.Replace(legacyImg.DigestStr(), ":", "-", 1)))

	// An attacker attaches each attestation to another image.
	refOther := w.refReg.Image(t, "acme/app", "other")
	tagOther := w.tagReg.Image(t, "acme/app", "other")
	legacyOther := w.tagReg.Image(t, "acme/legacy", "other")
	for _, x := range []struct {
		img    name.Digest
		bundle string
	}{{refOther, refBundle}, {tagOther, tagBundle}} {
		data, err := os.ReadFile(x.bundle)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := oci.Push(ctx, x.img, oci.Attestation{Bundle: data, PredicateType: slsaV1}); err != nil {
			t.Fatal(err)
		}
	}
	copyTag(t, legacyImg.Context().Tag(strings.Replace(legacyImg.DigestStr(), ":", "-", 1)+".att"),
		legacyOther.Context().Tag(strings.Replace(legacyOther.DigestStr(), ":", "-", 1)+".att"))

	for _, c := range []struct {
		imageCase
		other name.Digest
	}{
		{imageCase{name: "hallmark image, referrers API", image: refImg}, refOther},
		{imageCase{name: "hallmark image, referrers tag schema", image: tagImg}, tagOther},
		{imageCase{name: "hallmark image, cosign legacy tag", image: legacyImg, legacy: true}, legacyOther},
	} {
		for _, tampered := range []bool{false, true} {
			ic := c.imageCase
			if tampered {
				ic.image, ic.name = c.other, ic.name+", attached to another image"
			}
			w.imageClients(t, ic, tampered)
		}
	}
}

// imageClients runs every client that reads attestations from registries
// on one image case.
func (w *world) imageClients(t *testing.T, c imageCase, tampered bool) {
	ac := artifactCase{predicateType: slsaV1, signerSAN: w.san}
	w.record(c.name, hallmark, tampered, w.hallmarkVerifyImage(t, c.image.String(), false))
	w.record(c.name, cosign, tampered, w.cosignVerifyImage(t, c))
	if c.legacy {
		// gh, oras and the library verifiers read OCI 1.1 referrers only.
		return
	}
	w.record(c.name, gh, tampered, w.ghVerify(t, "oci://"+c.image.String(), ac, "--bundle-from-oci"))
	dir := t.TempDir()
	bundle, manifest, found := w.r.orasReferrer(t, w.tl, c.image.String(), dir, true)
	if !tampered {
		w.record(c.name, oras, false, found)
	}
	ac.bundle, ac.artifact = bundle, manifest
	for _, v := range []struct {
		client string
		verify func(*testing.T, artifactCase) outcome
	}{{sigstoreGo, w.sigstoreGoVerify}, {sigstoreJS, w.sigstoreJSVerify}} {
		o := found
		if found.ok {
			o = v.verify(t, ac)
		}
		o.flags = append([]string{"(bundle and manifest fetched with oras)"}, o.flags...)
		w.record(c.name, v.client, tampered, o)
	}
}

// hallmarkVerifyImage runs verify-image; tsaOnly verifies with the policy
// that takes a timestamp without a log entry.
func (w *world) hallmarkVerifyImage(t *testing.T, img string, tsaOnly bool) outcome {
	args := []string{"verify-image", img, "--trusted-root", w.sb.TrustedRootPath()}
	var flags []string
	if tsaOnly {
		args = append(args, "--policy", w.policyTSA)
		flags = []string{policyTSAFlag}
	} else {
		args = append(args, "--source-uri", source, "--cert-oidc-issuer", w.issuer)
	}
	stdout, stderr, code := w.r.run(t, w.tl.hallmark, args...)
	return verdict(stdout, stderr, code, hallmarkReason, flags)
}

// policyTSAFlag is how the matrix names the policy that takes a signed
// timestamp without a log entry.
const policyTSAFlag = "--policy (thresholds: {transparencyLog: 0})"

func (w *world) cosignVerifyImage(t *testing.T, c imageCase) outcome {
	args := []string{"verify-attestation", "--certificate-identity", w.san, "--certificate-oidc-issuer", w.issuer,
		"--type", "slsaprovenance1", "--insecure-ignore-sct", "--use-signed-timestamps", "--allow-insecure-registry"}
	flags := []string{"--new-bundle-format", "--use-signed-timestamps", "--insecure-ignore-sct", "--allow-insecure-registry"}
	var env []string
	if c.legacy {
		// cosign reads no trusted root outside a bundle: the sandbox's
		// certificate authorities as PEM, and no log (Rekor v2 entries
		// have no form in the legacy annotations).
		env = []string{"SIGSTORE_ROOT_FILE=" + w.sb.FulcioChainPath()}
		args = append(args, "--timestamp-certificate-chain", w.sb.TSAChainPath(), "--insecure-ignore-tlog")
		flags = []string{"SIGSTORE_ROOT_FILE=" + sandbox.FulcioChainFile, "--timestamp-certificate-chain " + sandbox.TSAChainFile,
			"--use-signed-timestamps", "--insecure-ignore-tlog", "--insecure-ignore-sct", "--allow-insecure-registry"}
	} else {
		args = append(args, "--new-bundle-format", "--trusted-root", w.sb.TrustedRootPath())
	}
	stdout, stderr, code := w.r.runEnv(t, env, w.tl.cosign, append(args, c.image.String())...)
	return verdict(stdout, stderr, code, cosignReason, flags)
}

// deleteTag removes the manifest a tag names from a distribution registry.
func deleteTag(t *testing.T, tag name.Tag) {
	t.Helper()
	desc, err := remote.Head(tag)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://%s/v2/%s/manifests/%s", tag.RegistryStr(), tag.RepositoryStr(), desc.Digest), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting %s: %s", tag, resp.Status)
	}
}

// copyTag points to at the manifest from names, as an attacker moving an
// attestation would.
func copyTag(t *testing.T, from, to name.Tag) {
	t.Helper()
	d, err := remote.Get(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(to, rawManifest{raw: d.Manifest, mediaType: d.MediaType}); err != nil {
		t.Fatal(err)
	}
}

type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// predicateOf is the predicate of the statement in a bundle.
func predicateOf(t *testing.T, bundle string) []byte {
	t.Helper()
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		DSSEEnvelope struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	return st.Predicate
}
