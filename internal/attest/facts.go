package attest

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/githubctx"
)

// ErrPrivateRepository is matched by the error attest returns, before
// anything is signed, when a repository that is not public would be named in
// a public transparency log without the caller's consent.
var ErrPrivateRepository = errors.New("private repository")

// LoadTrust reads the signing config and trusted root at the paths given,
// else at $HALLMARK_SIGNING_CONFIG and $HALLMARK_TRUSTED_ROOT, else fetches
// the public-good ones through TUF. A signing config without its trusted
// root is refused: a bundle is checked before it is written.
func LoadTrust(signingConfig, trustedRoot string, getenv func(string) string) (*root.SigningConfig, *root.TrustedRoot, error) {
	scPath := cmp.Or(signingConfig, getenv("HALLMARK_SIGNING_CONFIG"))
	trPath := cmp.Or(trustedRoot, getenv("HALLMARK_TRUSTED_ROOT"))
	var sc *root.SigningConfig
	var tr *root.TrustedRoot
	var err error
	if scPath != "" {
		if sc, err = root.NewSigningConfigFromPath(scPath); err != nil {
			return nil, nil, fmt.Errorf("--signing-config %s: %w", scPath, err)
		}
	} else if sc, err = root.FetchSigningConfig(); err != nil {
		return nil, nil, fmt.Errorf("fetching the public-good signing config (pass --signing-config for a private Sigstore): %w", err)
	}
	if trPath != "" {
		if tr, err = root.NewTrustedRootFromPath(trPath); err != nil {
			return nil, nil, fmt.Errorf("--trusted-root %s: %w", trPath, err)
		}
	} else if scPath == "" {
		if tr, err = root.FetchTrustedRoot(); err != nil {
			return nil, nil, fmt.Errorf("fetching the public-good trusted root (pass --trusted-root): %w", err)
		}
	} else {
		return nil, nil, errors.New("--signing-config without --trusted-root: give the trusted root of the same Sigstore, so the bundle is checked before it is written")
	}
	return sc, tr, nil
}

// buildContext finds the build facts: the runner's environment, a facts
// file, or the token's claims. Facts that name no GitHub server are on the
// server of the token's issuer (tokenServer).
func buildContext(r Request, getenv func(string) string, claims map[string]any) (*githubctx.Context, error) {
	switch {
	case r.FactsFile != "":
		data, err := os.ReadFile(r.FactsFile)
		if err != nil {
			return nil, fmt.Errorf("--facts: %w", err)
		}
		c, err := githubctx.ParseFacts(data)
		if err != nil {
			return nil, fmt.Errorf("--facts %s: %w (see docs/facts.schema.json)", r.FactsFile, err)
		}
		if c, err = c.With(githubctx.Options{DefaultServerURL: tokenServer(claims, getenv)}); err != nil {
			return nil, fmt.Errorf("--facts %s: %w", r.FactsFile, err)
		}
		return c, nil
	case r.FactsFromToken:
		str := func(k string) string { s, _ := claims[k].(string); return s }
		return githubctx.Explicit(githubctx.Facts{
			ServerURL:  tokenServer(claims, getenv),
			Repository: str("repository"), RepositoryID: str("repository_id"), RepositoryOwnerID: str("repository_owner_id"),
			Ref: str("ref"), SHA: str("sha"), WorkflowRef: str("workflow_ref"), JobWorkflowRef: str("job_workflow_ref"),
			EventName: str("event_name"), RunID: str("run_id"), RunAttempt: str("run_attempt"), RunnerEnvironment: str("runner_environment"),
		})
	default:
		c, err := githubctx.FromEnv(getenv, os.ReadFile)
		if errors.Is(err, githubctx.ErrNotGitHubActions) {
			return nil, errors.New("not running in GitHub Actions (GITHUB_ACTIONS is not \"true\"), so the build facts are unknown: " +
				"pass --facts FILE (the run's facts as JSON, see docs/facts.schema.json) or --facts-from-token (the identity token's claims)")
		}
		return c, err
	}
}

// tokenServer is the GitHub server the identity token's issuer names
// (github.com, a ghe.com tenant, a GitHub Enterprise Server), else
// $GITHUB_SERVER_URL, else "" (github.com).
func tokenServer(claims map[string]any, getenv func(string) string) string {
	if iss, _ := claims["iss"].(string); iss != "" {
		if s, ok := githubapi.ServerForIssuer(iss); ok {
			return s
		}
	}
	return getenv("GITHUB_SERVER_URL")
}

// publicGoodHost reports whether u is a server of Sigstore's public-good
// instance, whose logs anyone can read.
func publicGoodHost(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := strings.ToLower(p.Hostname())
	return h == "sigstore.dev" || strings.HasSuffix(h, ".sigstore.dev")
}

// publicRecords lists what signing with sc would publish for anyone to
// read: the public-good Rekor's entry (unless private, timestamp only) and
// the public-good Fulcio's certificate, which Fulcio itself writes to its
// certificate transparency log. Both name the repository, the workflow and
// the commit.
func publicRecords(sc *root.SigningConfig, private bool) []string {
	var out []string
	if !private {
		for _, s := range sc.RekorLogURLs() {
			if publicGoodHost(s.URL) {
				out = append(out, "a transparency log entry at "+s.URL)
				break
			}
		}
	}
	for _, s := range sc.FulcioCertificateAuthorityURLs() {
		if publicGoodHost(s.URL) {
			out = append(out, "the signing certificate in the certificate transparency log of "+s.URL)
			break
		}
	}
	return out
}

// checkVisibility refuses to publish the name, workflow and commit of a
// repository that is not public (the token's repository_visibility claim is
// private or internal) to Sigstore's public-good logs unless the request
// says so (PrivateRepository), as slsa-github-generator's
// private-repository input does. A private Sigstore's signing config
// publishes nothing public and needs no consent.
func checkVisibility(claims map[string]any, sc *root.SigningConfig, r Request) error {
	vis, _ := claims["repository_visibility"].(string)
	if vis == "" || vis == "public" || r.PrivateRepository {
		return nil
	}
	recs := publicRecords(sc, r.Private)
	if len(recs) == 0 {
		return nil
	}
	repo, _ := claims["repository"].(string)
	if repo == "" {
		repo = "this repository"
	}
	fix := "pass --private-repository (the action's and workflows' input private-repository: true) to publish them anyway, " +
		"or sign with a private Sigstore's --signing-config"
	if !r.Private {
		fix += ", or with --private (a timestamp instead of a log entry) if its Fulcio is not public-good's"
	}
	return fmt.Errorf("%w: %s is %s, and signing would publish its name, workflow and commit for anyone to read: %s; %s (nothing was signed)",
		ErrPrivateRepository, repo, vis, strings.Join(recs, " and "), fix)
}

// checkFacts refuses build facts that contradict the identity token before
// anything is signed: the certificate carries the token's claims, and
// provenance that disagrees with them never verifies.
func checkFacts(bctx *githubctx.Context, claims map[string]any, r Request) error {
	err := bctx.CheckClaims(claims)
	if err == nil {
		return nil
	}
	where := "the runner's environment (GITHUB_*)"
	switch {
	case r.FactsFile != "":
		where = "--facts " + r.FactsFile
	case r.FactsFromToken:
		where = "the token itself"
	}
	return fmt.Errorf("%w\nthe facts come from %s; the certificate would carry the token's claims and the provenance would never verify: fix the facts or use the token of the run they describe (nothing was signed)", err, where)
}
