package factory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestFactorySBOM: a tenant whose policy asks for SBOMs gets, for each
// image its runs build, an SPDX and a CycloneDX SBOM of the image, read
// from its registry, signed under the controller's identity beside the
// provenance and attached to the image; a verifier whose policy requires
// an SBOM from the provenance's builder accepts them. A tenant that asks
// for none gets none.
func TestFactorySBOM(t *testing.T) {
	w := setup(t)
	reg := ocitest.Referrers(t)
	files := t.TempDir()
	policy := testPolicy("sbom", "nosbom") + "    sbom: [spdx, cyclonedx]\n" + `  - name: plain
    namespaces: ["nosbom"]
    sources: ["github.com/acme/*"]
    maxLevel: 3
`
	policy = strings.Replace(policy, `namespaces: ["sbom", "nosbom"]`, `namespaces: ["sbom"]`, 1)
	w.api.Namespace(t, "sbom")
	w.api.Namespace(t, "nosbom")
	w.controller(t, "sbom", w.agent, func(c *factory.Config) {
		c.Namespaces = []string{"sbom", "nosbom"}
		c.TenancyPolicy = w.policy(t, "sbom", policy)
		c.Stores = []factory.Store{factory.FileStore{Dir: files}, factory.OCIStore{Options: []oci.Option{oci.WithInsecureRegistry(true)}}}
		c.SBOMGenerator, c.SBOMInsecureRegistry = sandboxtest.SBOMGenerator(t), true
	})

	// An image of this machine's Debian package database.
	firstPackage := ""
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Fatalf("this test builds its image from a Debian system's package database: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if p, ok := strings.CutPrefix(line, "Package: "); ok {
			firstPackage = p
			break
		}
	}
	img := reg.Write(t, "acme/app", "v1", ocitest.FilesImage(t, map[string]string{
		"/etc/os-release": "/etc/os-release", "/var/lib/dpkg/status": "/var/lib/dpkg/status",
	}))
	build := func(ns, name string) *pipelinev1.TaskRun {
		tr := factorytest.TaskRun(ns, name)
		factorytest.Succeeded(tr,
			factorytest.StringResult("IMAGE_URL", img.Context().String()+":v1"),
			factorytest.StringResult("IMAGE_DIGEST", img.DigestStr()))
		w.api.Create(t, tr)
		return tr
	}

	tr := build("sbom", "build-app")
	ann := w.waitState(t, tr)
	if sb := ann[factory.AnnotationSBOM]; ann[factory.AnnotationState] != factory.StateSigned || !strings.HasPrefix(sb, "2 signed: ") ||
		!strings.Contains(sb, "spdx oci:"+img.Context().String()+"@sha256:") || !strings.Contains(sb, "cyclonedx oci:") {
		t.Fatalf("annotations %v", ann)
	}
	prov := &bundle.Bundle{}
	if err := prov.UnmarshalJSON(signedBundle(t, ann)); err != nil {
		t.Fatal(err)
	}
	v, err := verifier.NewSPIFFE(w.trusted, []*x509bundle.Bundle{w.spireBundle}, &verifier.Policy{
		SPIFFE:       &verifier.SPIFFEPolicy{IDs: []string{factoryID}},
		Builders:     []verifier.TrustedBuilder{{Name: "hallmark-factory", Signer: factoryID, MaxLevel: 3}},
		Attestations: verifier.AttestationPolicy{Require: []string{verifier.PredicateSPDX, verifier.PredicateCycloneDX}},
	}, verifier.WithoutSourceUnsafe())
	if err != nil {
		t.Fatal(err)
	}
	d := digestOf(t, img)
	res, err := v.Verify(prov, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range v.RequiredAttestations() {
		found, err := oci.Discover(t.Context(), img, pt, oci.WithInsecureRegistry(true))
		if err != nil || len(found.Attestations) != 1 {
			t.Fatalf("%s attached to the image: %v, %v", pt, found, err)
		}
		b, err := verifier.ParseBundleLimit(found.Attestations[0].Bundle, verifier.DefaultMaxAttestationBundleSize)
		if err != nil {
			t.Fatal(err)
		}
		att, err := v.VerifyAttestationOf(res, []*bundle.Bundle{b}, pt, d)
		if err != nil {
			t.Fatalf("%s: %v", pt, err)
		}
		if att.Identity.SAN != factoryID {
			t.Errorf("%s signed by %s", pt, att.Identity.SAN)
		}
		doc, err := att.PredicateJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(doc), `"`+firstPackage+`"`) {
			t.Errorf("the %s SBOM names no %s", pt, firstPackage)
		}
		// Another image is not what it describes.
		if _, err := v.VerifyAttestationOf(res, []*bundle.Bundle{b}, pt, digestOf(t, reg.Image(t, "acme/other", "v1"))); err == nil {
			t.Errorf("%s passes for another image", pt)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(files, "sbom", "TaskRun-build-app-*.sigstore.json")); len(names) != 3 {
		t.Errorf("file store holds %v, want the provenance and two SBOMs", names)
	}

	// A tenant without sbom: provenance only.
	plain := build("nosbom", "build-plain")
	if ann := w.waitState(t, plain); ann[factory.AnnotationState] != factory.StateSigned || ann[factory.AnnotationSBOM] != "" {
		t.Fatalf("annotations %v", ann)
	}
}
