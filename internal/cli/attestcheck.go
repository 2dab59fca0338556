package cli

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
)

// ErrPrivateRepository is matched by the error attest returns, before
// anything is signed, when a repository that is not public would be named in
// a public transparency log without the caller's consent.
var ErrPrivateRepository = errors.New("private repository")

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
// private or internal) to Sigstore's public-good logs unless the caller
// said so with --private-repository, as slsa-github-generator's
// private-repository input does. A private Sigstore's signing config
// publishes nothing public and needs no consent.
func checkVisibility(claims map[string]any, sc *root.SigningConfig, f attestFlags) error {
	vis, _ := claims["repository_visibility"].(string)
	if vis == "" || vis == "public" || f.privateRepository {
		return nil
	}
	recs := publicRecords(sc, f.private)
	if len(recs) == 0 {
		return nil
	}
	repo, _ := claims["repository"].(string)
	if repo == "" {
		repo = "this repository"
	}
	fix := "pass --private-repository (the action's and workflows' input private-repository: true) to publish them anyway, " +
		"or sign with a private Sigstore's --signing-config"
	if !f.private {
		fix += ", or with --private (a timestamp instead of a log entry) if its Fulcio is not public-good's"
	}
	return fmt.Errorf("%w: %s is %s, and signing would publish its name, workflow and commit for anyone to read: %s; %s (nothing was signed)",
		ErrPrivateRepository, repo, vis, strings.Join(recs, " and "), fix)
}

// checkFacts refuses build facts that contradict the identity token before
// anything is signed: the certificate carries the token's claims, and
// provenance that disagrees with them never verifies.
func checkFacts(bctx *githubctx.Context, claims map[string]any, f attestFlags) error {
	err := bctx.CheckClaims(claims)
	if err == nil {
		return nil
	}
	where := "the runner's environment (GITHUB_*)"
	switch {
	case f.factsFile != "":
		where = "--facts " + f.factsFile
	case f.factsFromToken:
		where = "the token itself"
	}
	return fmt.Errorf("%w\nthe facts come from %s; the certificate would carry the token's claims and the provenance would never verify: fix the facts or use the token of the run they describe (nothing was signed)", err, where)
}
