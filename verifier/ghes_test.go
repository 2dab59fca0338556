package verifier_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/verifier"
)

// TestGitHubInstanceIssuers: provenance Hallmark makes on GitHub Enterprise
// Server or a ghe.com tenant, signed by a certificate from that GitHub's
// token issuer, verifies at the level its policy grants when the policy
// lists the issuer, and only then: the default policy, and a policy
// listing another GitHub's issuer, refuse it at the identity check, for
// its issuer.
func TestGitHubInstanceIssuers(t *testing.T) {
	ss := newTestSigstore(t)
	instances := []struct{ name, server, issuer string }{
		{"GitHub Enterprise Server", "https://git.acme.example", "https://git.acme.example/_services/token"},
		{"ghe.com tenant", "https://octo.ghe.com", "https://token.actions.octo.ghe.com"},
	}
	for _, in := range instances {
		t.Run(in.name, func(t *testing.T) {
			f := defaultFacts()
			f.issuer = in.issuer
			f.signer = in.server + "/acme/build/.github/workflows/build.yml@refs/tags/v1.0.0"
			f.repo, f.owner = in.server+"/acme/app", in.server+"/acme"
			f.config = in.server + "/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"
			f.run = in.server + "/acme/app/actions/runs/99/attempts/1"
			b := ss.sign(t, ss.fulcio, f, hallmarkStatement(t, in.server, f)).bundle(t)

			policy := func(issuer string) *verifier.Policy {
				p, err := verifier.LoadPolicy([]byte(fmt.Sprintf(`issuers: [%q]
builders:
  - name: acme-build
    signer: "glob:%s/acme/build/.github/workflows/build.yml@refs/tags/v*"
    maxLevel: 3
source: %s
`, issuer, in.server, strings.TrimPrefix(in.server, "https://")+"/acme/app")))
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			later := verifier.WithClock(func() time.Time { return time.Now().Add(time.Hour) })
			v, err := verifier.New(ss, policy(in.issuer), later)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(b, verifier.MustParseDigest(artifactHex))
			if err != nil {
				t.Fatalf("policy listing %s: %v", in.issuer, err)
			}
			if res.Level != 3 || res.Identity.Issuer != in.issuer || res.Identity.Extensions.SourceRepositoryURI != in.server+"/acme/app" {
				t.Errorf("result: level %d, issuer %s, source %s", res.Level, res.Identity.Issuer, res.Identity.Extensions.SourceRepositoryURI)
			}

			for name, p := range map[string]*verifier.Policy{
				"default policy":              verifier.DefaultPolicy(),
				"another GitHub's issuer":     policy(verifier.GitHubIssuer),
				"the other instance's issuer": policy(map[bool]string{true: instances[1].issuer, false: instances[0].issuer}[in == instances[0]]),
			} {
				if p.Source == "" {
					p.Source = strings.TrimPrefix(in.server, "https://") + "/acme/app"
				}
				v, err := verifier.New(ss, p, later)
				if err != nil {
					t.Fatal(err)
				}
				t.Run(name, func(t *testing.T) {
					res, err := v.Verify(b, verifier.MustParseDigest(artifactHex))
					assertCheck(t, res, err, verifier.ErrIssuer, verifier.CheckIdentity)
				})
			}
		})
	}
}

// hallmarkStatement is the provenance Hallmark's GitHub front end makes for
// the run f describes on server: githubctx's facts through the provenance
// core, as attest signs it.
func hallmarkStatement(t *testing.T, server string, f ghFacts) []byte {
	t.Helper()
	c, err := githubctx.Explicit(githubctx.Facts{
		ServerURL: server, Repository: "acme/app", RepositoryID: f.repoID, RepositoryOwnerID: f.ownerID,
		Ref: f.ref, SHA: f.sha, WorkflowRef: "acme/app/.github/workflows/release.yml@" + f.ref,
		JobWorkflowRef: strings.TrimPrefix(f.signer, server+"/"),
		EventName:      f.trigger, RunID: "99", RunAttempt: "1", RunnerEnvironment: f.runner,
	})
	if err != nil {
		t.Fatal(err)
	}
	build, err := c.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := subject.FromNameDigest("app", "sha256:"+artifactHex)
	if err != nil {
		t.Fatal(err)
	}
	st, err := provenance.Statement([]subject.Subject{s}, build)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := provenance.MarshalStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
