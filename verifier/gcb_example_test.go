package verifier_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hallmark-dev/hallmark/verifier"
)

// Verify Google Cloud Build provenance for an image, as `slsa-verifier
// verify-image IMAGE@sha256:... --provenance-path build.json --source-uri
// ... --builder-id https://cloudbuild.googleapis.com/GoogleHostedWorker`
// would, offline, with Cloud Build's attestor keys.
func ExampleGCBVerifier_Verify() {
	dir := filepath.Join("..", "testdata", "realworld", "keys", "gcb")
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	files := map[string][]byte{}
	for _, e := range entries {
		files[e.Name()] = mustRead(filepath.Join(dir, e.Name()))
	}
	keys, err := verifier.LoadGCBKeys(files)
	if err != nil {
		fmt.Println(err)
		return
	}
	policy, err := verifier.DefaultPolicyWith(verifier.Flags{
		Source:    "github.com/khalkie/gcb-prod-prov",
		BuilderID: verifier.GCBBuilderID,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := verifier.NewGCB(keys, policy)
	if err != nil {
		fmt.Println(err)
		return
	}
	prov, err := verifier.ParseGCBProvenance(mustRead("testdata/gcb/v1.0-gcloud-container-github.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := v.Verify(prov, verifier.MustParseDigest("sha256:7e9b6e7ba2842c91cf49f3e214d04a7a496f8214356f41d81a6e6dcad11f11e3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("builder:", res.BuilderID)
	fmt.Println("level:", res.Level, res.TrustedBuilder)
	fmt.Println("source:", res.Identity.Extensions.SourceRepositoryURI, res.Identity.Extensions.SourceRepositoryRef)
	fmt.Println("signed by:", res.Identity.SAN)
	// Output:
	// builder: https://cloudbuild.googleapis.com/GoogleHostedWorker
	// level: 3 google-cloud-build
	// source: https://github.com/khalkie/gcb-prod-prov refs/heads/main
	// signed by: gcpkms://projects/verified-builder/locations/global/keyRings/attestor/cryptoKeys/google-hosted-worker/cryptoKeyVersions/1
}
