package verifier

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
)

// CertificateIdentity is what the verified signing certificate says: its
// issuer, subject alternative name and Fulcio extensions.
type CertificateIdentity struct {
	// Issuer is the OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8).
	Issuer string
	// SAN is the subject alternative name: for GitHub Actions,
	// https://github.com/ + job_workflow_ref.
	SAN string
	// Extensions holds every Fulcio extension of the certificate.
	Extensions certificate.Extensions
}

// certFields is the certificate as the checks read it.
type certFields = certificate.Summary

func compileIdentity(id Identity) ([]identityMatch, error) {
	type field struct {
		name string
		pat  string
		get  func(*Identity, *certFields) string
	}
	fields := []field{
		{"san", id.SAN, func(_ *Identity, c *certFields) string { return c.SubjectAlternativeName }},
		{"signerWorkflow", id.SignerWorkflow, func(_ *Identity, c *certFields) string {
			uri, _, _ := strings.Cut(c.BuildSignerURI, "@")
			return strings.TrimPrefix(uri, "https://")
		}},
		{"sourceRepositoryURI", id.SourceRepositoryURI, func(_ *Identity, c *certFields) string { return c.SourceRepositoryURI }},
		{"sourceRepositoryDigest", id.SourceRepositoryDigest, func(_ *Identity, c *certFields) string { return c.SourceRepositoryDigest }},
		{"sourceRepositoryRef", id.SourceRepositoryRef, func(_ *Identity, c *certFields) string { return c.SourceRepositoryRef }},
		{"sourceRepositoryOwnerURI", id.SourceRepositoryOwner, func(_ *Identity, c *certFields) string { return c.SourceRepositoryOwnerURI }},
		{"buildSignerURI", id.BuildSignerURI, func(_ *Identity, c *certFields) string { return c.BuildSignerURI }},
		{"buildSignerDigest", id.BuildSignerDigest, func(_ *Identity, c *certFields) string { return c.BuildSignerDigest }},
		{"runnerEnvironment", id.RunnerEnvironment, func(_ *Identity, c *certFields) string { return c.RunnerEnvironment }},
	}
	var out []identityMatch
	for _, f := range fields {
		if f.pat == "" {
			continue
		}
		pat := f.pat
		if f.name == "signerWorkflow" && !strings.HasPrefix(pat, "regexp:") && !strings.HasPrefix(pat, "glob:") {
			pat = strings.TrimPrefix(pat, "https://")
		}
		p, err := ParsePattern(pat)
		if err != nil {
			return nil, fmt.Errorf("identity.%s: %w", f.name, err)
		}
		out = append(out, identityMatch{field: f.name, get: f.get, want: p})
	}
	return out, nil
}

// checkIdentity checks the certificate's issuer, SAN, extensions and runner.
func (p *Policy) checkIdentity(c *certFields) error {
	if !slices.Contains(p.Issuers, c.Extensions.Issuer) {
		return fail(CheckIdentity, "issuer in "+strings.Join(p.Issuers, ", "), c.Extensions.Issuer, ErrIssuer)
	}
	for _, m := range p.compiled.identity {
		if got := m.get(&p.Identity, c); !m.want.Match(got) {
			return fail(CheckIdentity, m.field+" "+m.want.String(), got, ErrCertificateIdentity)
		}
	}
	if p.DenySelfHostedRunners && c.RunnerEnvironment != "github-hosted" {
		return fail(CheckIdentity, "runnerEnvironment github-hosted", c.RunnerEnvironment, ErrSelfHostedRunner)
	}
	return nil
}

// evidenceLevel is the SLSA build level the certificate supports on its
// own: 1 for a self-hosted runner (the platform does not host the build);
// 3 when the signing workflow lives in another repository than the source,
// so the source repository's steps cannot reach the signing identity's
// definition; 2 otherwise.
func evidenceLevel(c *certFields) int {
	if c.RunnerEnvironment == "self-hosted" {
		return 1
	}
	signerRepo := repoOfWorkflowURI(c.BuildSignerURI)
	if signerRepo == "" || c.SourceRepositoryURI == "" {
		return 2
	}
	if !strings.EqualFold(signerRepo, c.SourceRepositoryURI) {
		return 3
	}
	return 2
}

// repoOfWorkflowURI returns "https://github.com/OWNER/REPO" from
// "https://github.com/OWNER/REPO/.github/workflows/x.yml@ref".
func repoOfWorkflowURI(uri string) string {
	uri, _, _ = strings.Cut(uri, "@")
	i := strings.Index(uri, "/.github/workflows/")
	if i < 0 {
		return ""
	}
	return uri[:i]
}
