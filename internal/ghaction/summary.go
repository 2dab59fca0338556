package ghaction

import (
	"fmt"
	"sort"
	"strings"
)

// AttestSummary renders the step summary of the attest action: a table of
// subjects and digests, the builder, the signer, the log entry, and the
// `hallmark verify-artifact` command that checks the result. repository is
// OWNER/REPO; trustedRoot the private trusted root the action was given, if
// any; pushed where bundles were attached in a registry.
func AttestSummary(res *AttestResult, repository, trustedRoot string, pushed []string) string {
	var b strings.Builder
	b.WriteString("### Hallmark: SLSA provenance\n\n")
	b.WriteString("| Subject | Digest |\n|---|---|\n")
	for _, bu := range res.Bundles {
		for _, s := range bu.Subjects {
			fmt.Fprintf(&b, "| %s | %s |\n", code(s.Name), code(digestString(s.Digest)))
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- **Builder:** %s\n", code(res.BuilderID))
	for _, bu := range res.Bundles {
		fmt.Fprintf(&b, "- **Bundle:** %s, signed by %s (issuer %s)\n", code(bu.Path), code(bu.Identity), code(bu.Issuer))
		switch {
		case bu.LogIndex != nil:
			fmt.Fprintf(&b, "- **Log entry:** %d in %s\n", *bu.LogIndex, code(bu.LogURL))
		default:
			b.WriteString("- **Log entry:** none (private: the signing time comes from a timestamp authority)\n")
		}
	}
	for _, p := range pushed {
		fmt.Fprintf(&b, "- **Pushed to:** %s\n", code(p))
	}
	b.WriteString("\nVerify with:\n\n```sh\n")
	for _, bu := range res.Bundles {
		for _, s := range bu.Subjects {
			b.WriteString(VerifyCommand(s.Name, bu.Path, repository, res.BuilderID, bu.Issuer, trustedRoot))
			b.WriteString("\n")
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// VerifyCommand is the `hallmark verify-artifact` command line that checks
// artifact against bundle: the source repository, the exact builder, and
// the issuer when it is not GitHub's.
func VerifyCommand(artifact, bundle, repository, builderID, issuer, trustedRoot string) string {
	if trustedRoot == "" {
		trustedRoot = "trusted_root.json"
	}
	args := []string{"hallmark", "verify-artifact", shellQuote(artifact),
		"--provenance-path", shellQuote(bundle),
		"--source-uri", shellQuote("github.com/" + repository),
		"--builder-id", shellQuote(builderID)}
	if issuer != "" && issuer != GitHubIssuer {
		args = append(args, "--cert-oidc-issuer", shellQuote(issuer))
	}
	args = append(args, "--trusted-root", shellQuote(trustedRoot))
	return strings.Join(args, " ")
}

func digestString(d map[string]string) string {
	algs := make([]string, 0, len(d))
	for k := range d {
		algs = append(algs, k)
	}
	sort.Strings(algs)
	var parts []string
	for _, a := range algs {
		parts = append(parts, a+":"+d[a])
	}
	return strings.Join(parts, " ")
}

// code renders s as inline code in a table cell: subject names come from
// the build and may hold any character.
func code(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
