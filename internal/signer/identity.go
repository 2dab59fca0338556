package signer

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// expectation is the identity a certificate must name: what Fulcio
// certifies for the identity token, read from the token's claims. Check it
// before a certificate is used, so a Fulcio (or anything between it and us)
// that certifies someone else never gets a signature timestamped or logged.
type expectation struct {
	// issuer is the certificate's OIDC issuer extension; "" means the
	// certificate carries none (an X.509-SVID).
	issuer string
	// sans are the subject alternative names the certificate may name.
	sans []string
	// github holds the token's claims when it is a GitHub Actions token:
	// the certificate's extensions must repeat them.
	github map[string]string
	// describe says where sans come from, for messages.
	describe string
}

// githubClaims are the claims Fulcio's github-workflow templates read.
var githubClaims = []string{"job_workflow_ref", "job_workflow_sha", "repository", "repository_id",
	"repository_owner", "repository_owner_id", "repository_visibility", "ref", "sha", "workflow",
	"workflow_ref", "workflow_sha", "event_name", "run_id", "run_attempt", "runner_environment"}

// expectFromClaims derives the expected identity of a token's certificate
// the way Fulcio's issuer types do: GitHub Actions (SAN
// https://github.com/{job_workflow_ref} and the workflow extensions),
// GitLab CI, Buildkite, SPIFFE and Kubernetes subjects, e-mail addresses,
// and otherwise the subject itself (Fulcio's uri and username types).
func expectFromClaims(claims map[string]any) (expectation, error) {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	iss, sub := str("iss"), str("sub")
	e := expectation{issuer: iss}
	switch {
	case str("job_workflow_ref") != "":
		jwr := str("job_workflow_ref")
		e.github = map[string]string{}
		for _, k := range githubClaims {
			e.github[k] = str(k)
		}
		for _, base := range githubBases(iss) {
			e.sans = append(e.sans, base+"/"+jwr)
		}
		e.describe = "job_workflow_ref " + jwr
	case str("ci_config_ref_uri") != "":
		e.sans = []string{"https://" + str("ci_config_ref_uri")}
		e.describe = "ci_config_ref_uri " + str("ci_config_ref_uri")
	case str("organization_slug") != "" && str("pipeline_slug") != "":
		e.sans = []string{"https://buildkite.com/" + str("organization_slug") + "/" + str("pipeline_slug")}
		e.describe = "Buildkite pipeline " + str("organization_slug") + "/" + str("pipeline_slug")
	case str("email") != "":
		e.sans = []string{str("email")}
		e.describe = "email " + str("email")
	case strings.HasPrefix(sub, "system:serviceaccount:"):
		parts := strings.Split(strings.TrimPrefix(sub, "system:serviceaccount:"), ":")
		if len(parts) != 2 {
			return e, fmt.Errorf("%w: Kubernetes subject %q is not system:serviceaccount:NAMESPACE:NAME", ErrToken, sub)
		}
		e.sans = []string{"https://kubernetes.io/namespaces/" + parts[0] + "/serviceaccounts/" + parts[1]}
		e.describe = "subject " + sub
	default:
		// spiffe://, uri and username issuers: the subject, or for the
		// username type subject!domain.
		e.sans = []string{sub}
		e.describe = "subject " + sub
	}
	return e, nil
}

// githubBases are the server URLs a GitHub Actions certificate may be
// under: github.com, and the server of a GHE.com or GitHub Enterprise
// Server issuer (token.actions.HOST or HOST/_services/token).
func githubBases(iss string) []string {
	bases := []string{"https://github.com"}
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Host == "token.actions.githubusercontent.com" {
		return bases
	}
	host := strings.TrimPrefix(u.Host, "token.actions.")
	if b := "https://" + host; !slices.Contains(bases, b) {
		bases = append(bases, b)
	}
	return bases
}

// check compares a certificate's summary with the expectation and returns
// the identity the finished bundle must verify with.
func (e expectation) check(s certificate.Summary) (verify.CertificateIdentity, error) {
	if s.Extensions.Issuer != e.issuer {
		want := fmt.Sprintf("%q", e.issuer)
		if e.issuer == "" {
			want = "none"
		}
		return verify.CertificateIdentity{}, fmt.Errorf("%w: its issuer is %q, the token's is %s", ErrIdentity, s.Extensions.Issuer, want)
	}
	i := slices.Index(e.sans, s.SubjectAlternativeName)
	if i < 0 && len(e.sans) == 1 && strings.HasPrefix(s.SubjectAlternativeName, e.sans[0]+"!") && e.github == nil {
		i = 0 // Fulcio's username type: subject!domain
	}
	if i < 0 {
		return verify.CertificateIdentity{}, fmt.Errorf("%w: it certifies %q, but the token's %s calls for %q",
			ErrIdentity, s.SubjectAlternativeName, e.describe, strings.Join(e.sans, `" or "`))
	}
	want := certificate.Extensions{}
	if e.github != nil {
		base := strings.TrimSuffix(e.sans[i], "/"+e.github["job_workflow_ref"])
		var err error
		if want, err = e.githubExtensions(base, s.Extensions); err != nil {
			return verify.CertificateIdentity{}, err
		}
	}
	issuer, err := verify.NewIssuerMatcher(e.issuer, "")
	if e.issuer == "" {
		issuer, err = verify.NewIssuerMatcher("", "^$")
	}
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	san, err := verify.NewSANMatcher(s.SubjectAlternativeName, "")
	if err != nil {
		return verify.CertificateIdentity{}, err
	}
	return verify.CertificateIdentity{SubjectAlternativeName: san, Issuer: issuer, Extensions: want}, nil
}

// githubExtensions compares the GitHub workflow extensions the certificate
// carries with the token's claims under the server URL base, and returns
// the ones it carries as the expected extensions. An extension the
// certificate lacks is not compared: the SAN and issuer already name the
// workflow, and a verifier that needs an extension finds it missing.
func (e expectation) githubExtensions(base string, got certificate.Extensions) (certificate.Extensions, error) {
	c := e.github
	join := func(parts ...string) string {
		for _, p := range parts {
			if p == "" {
				return ""
			}
		}
		return base + "/" + strings.Join(parts, "/")
	}
	runURI := ""
	if c["repository"] != "" && c["run_id"] != "" && c["run_attempt"] != "" {
		runURI = base + "/" + c["repository"] + "/actions/runs/" + c["run_id"] + "/attempts/" + c["run_attempt"]
	}
	var want certificate.Extensions
	fields := []struct {
		name     string
		want     string
		got      string
		expected *string
	}{
		{"build signer URI", join(c["job_workflow_ref"]), got.BuildSignerURI, &want.BuildSignerURI},
		{"build signer digest", c["job_workflow_sha"], got.BuildSignerDigest, &want.BuildSignerDigest},
		{"runner environment", c["runner_environment"], got.RunnerEnvironment, &want.RunnerEnvironment},
		{"source repository URI", join(c["repository"]), got.SourceRepositoryURI, &want.SourceRepositoryURI},
		{"source repository digest", c["sha"], got.SourceRepositoryDigest, &want.SourceRepositoryDigest},
		{"source repository ref", c["ref"], got.SourceRepositoryRef, &want.SourceRepositoryRef},
		{"source repository identifier", c["repository_id"], got.SourceRepositoryIdentifier, &want.SourceRepositoryIdentifier},
		{"source repository owner URI", join(c["repository_owner"]), got.SourceRepositoryOwnerURI, &want.SourceRepositoryOwnerURI},
		{"source repository owner identifier", c["repository_owner_id"], got.SourceRepositoryOwnerIdentifier, &want.SourceRepositoryOwnerIdentifier},
		{"build config URI", join(c["workflow_ref"]), got.BuildConfigURI, &want.BuildConfigURI},
		{"build config digest", c["workflow_sha"], got.BuildConfigDigest, &want.BuildConfigDigest},
		{"build trigger", c["event_name"], got.BuildTrigger, &want.BuildTrigger},
		{"run invocation URI", runURI, got.RunInvocationURI, &want.RunInvocationURI},
		{"source repository visibility", c["repository_visibility"], got.SourceRepositoryVisibilityAtSigning, &want.SourceRepositoryVisibilityAtSigning},
		{"GitHub workflow trigger", c["event_name"], got.GithubWorkflowTrigger, &want.GithubWorkflowTrigger},
		{"GitHub workflow SHA", c["sha"], got.GithubWorkflowSHA, &want.GithubWorkflowSHA},
		{"GitHub workflow name", c["workflow"], got.GithubWorkflowName, &want.GithubWorkflowName},
		{"GitHub workflow repository", c["repository"], got.GithubWorkflowRepository, &want.GithubWorkflowRepository},
		{"GitHub workflow ref", c["ref"], got.GithubWorkflowRef, &want.GithubWorkflowRef},
	}
	for _, f := range fields {
		if f.got == "" {
			continue
		}
		if f.got != f.want {
			return want, fmt.Errorf("%w: its %s is %q, the token's claims call for %q", ErrIdentity, f.name, f.got, f.want)
		}
		*f.expected = f.got
	}
	return want, nil
}
