package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
)

// githubSource is verify-artifact's one online mode: the provenance comes
// from a repository's attestation store instead of a file.
type githubSource struct {
	repo, apiURL string
}

func (g *githubSource) register(fl *pflag.FlagSet) {
	fl.StringVar(&g.repo, "from-github", "", "fetch the provenance from the attestation store of OWNER/REPO on GitHub instead of --provenance-path "+
		"(online, the only time verify-artifact reads the network; it verifies as offline; token from $GITHUB_TOKEN or $GH_TOKEN for private repositories)")
	fl.StringVar(&g.apiURL, "github-api-url", "", "GitHub's REST API for --from-github (default $GITHUB_API_URL, else https://api.github.com; for GitHub Enterprise Server https://HOST/api/v3)")
}

// check refuses flags that do not go together.
func (g *githubSource) check(provenancePath string, vsa vsaFlags) error {
	switch {
	case g.repo == "" && g.apiURL != "":
		return errors.New("--github-api-url applies to --from-github: give the repository")
	case g.repo == "" && provenancePath == "":
		return errors.New("--provenance-path is required (or --from-github OWNER/REPO to fetch the provenance from the repository's attestation store)")
	case g.repo != "" && provenancePath != "":
		return errors.New("--provenance-path and --from-github contradict each other: give one source of provenance")
	case g.repo != "" && vsa.out != "":
		return errors.New("--vsa-out needs --provenance-path: a summary names the provenance file it verified")
	}
	if _, _, err := githubapi.SplitRepository(g.repo); g.repo != "" && err != nil {
		return fmt.Errorf("--from-github %q: %w", g.repo, err)
	}
	return nil
}

// fetch returns, as JSON lines for verifier.ParseBundles, the bundles the
// store holds for the artifact's sha256 digest. None is an error naming the
// repository and the digest.
func (g *githubSource) fetch(ctx context.Context, digest string, getenv func(string) string, stderr io.Writer) ([]byte, error) {
	api := firstNonEmpty(g.apiURL, getenv("GITHUB_API_URL"), githubapi.DotComAPI)
	c, err := githubapi.New(api, firstNonEmpty(getenv("GITHUB_TOKEN"), getenv("GH_TOKEN")), nil)
	if err != nil {
		return nil, fmt.Errorf("--github-api-url: %w", err)
	}
	list, err := c.ListAttestations(ctx, g.repo, digest)
	if errors.Is(err, githubapi.ErrNotFound) {
		return nil, fmt.Errorf("--from-github %s: no attestation of %s in its attestation store (or no such repository this token can read: set GITHUB_TOKEN for a private one)", g.repo, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("--from-github: %w", err)
	}
	var out bytes.Buffer
	for _, l := range list {
		if len(l.Bundle) == 0 {
			fmt.Fprintf(stderr, "skipping an attestation of %s that GitHub serves only by URL (%s)\n", g.repo, l.BundleURL)
			continue
		}
		if err := json.Compact(&out, l.Bundle); err != nil {
			return nil, fmt.Errorf("--from-github %s: an attestation that is not JSON: %w", g.repo, err)
		}
		out.WriteByte('\n')
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("--from-github %s: no attestation of %s with a bundle", g.repo, digest)
	}
	fmt.Fprintf(stderr, "fetched %d attestation(s) of %s from %s's attestation store\n", bytes.Count(out.Bytes(), []byte("\n")), digest, g.repo)
	return out.Bytes(), nil
}

// githubGetenv is the environment --from-github reads.
var githubGetenv = os.Getenv
