package ghaction

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/digest"
)

// SummaryContext is what the attest summary says besides the result.
type SummaryContext struct {
	// Repository is OWNER/REPO, the source the verify command expects.
	Repository string
	// Server is GITHUB_SERVER_URL, the GitHub the repository is on;
	// empty means github.com.
	Server string
	// TrustedRoot is the private trusted root the action was given, if any.
	TrustedRoot string
	// Pushes are the bundles attached to images in their registries: the
	// verify commands are then verify-image, one for each image.
	Pushes []Push
	// Stored are the pages of the attestations in GitHub's store.
	Stored []string
}

// sourceURI is the repository as --source-uri names it: HOST/OWNER/REPO.
func (sc SummaryContext) sourceURI() string {
	host := "github.com"
	if u, err := url.Parse(sc.Server); err == nil && u.Host != "" {
		host = u.Host
	}
	return host + "/" + sc.Repository
}

// AttestSummary renders the step summary of the attest action: a table of
// subjects and digests, the builder, the signer, the log entry, and the
// command that checks the result: `hallmark verify-image` for a pushed
// image, else `hallmark verify-artifact`. Everything that came from the
// build (subject names, paths) is rendered so that it cannot break out of
// its table cell or code block.
func AttestSummary(res *AttestResult, sc SummaryContext) string {
	var b strings.Builder
	b.WriteString("### Hallmark: SLSA provenance\n\n")
	b.WriteString("| Subject | Digest |\n|---|---|\n")
	for _, bu := range res.Bundles {
		if bu.PredicateType != "" {
			continue // an SBOM about the same subjects
		}
		for _, s := range bu.Subjects {
			fmt.Fprintf(&b, "| %s | %s |\n", code(s.Name), code(digest.Set(s.Digest).String()))
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- **Builder:** %s\n", code(res.BuilderID))
	for _, bu := range res.Bundles {
		what := "Bundle"
		if bu.PredicateType != "" {
			what = "SBOM bundle (" + code(bu.PredicateType) + ")"
		}
		fmt.Fprintf(&b, "- **%s:** %s, signed by %s (issuer %s)\n", what, code(bu.Path), code(bu.Identity), code(bu.Issuer))
		switch {
		case bu.LogIndex != nil:
			fmt.Fprintf(&b, "- **Log entry:** %d in %s\n", *bu.LogIndex, code(bu.LogURL))
		default:
			b.WriteString("- **Log entry:** none (private: the signing time comes from a timestamp authority)\n")
		}
	}
	for _, u := range sc.Stored {
		fmt.Fprintf(&b, "- **Attestation:** %s\n", code(u))
	}
	if len(sc.Pushes) > 0 {
		b.WriteString("\n" + pushTable(sc.Pushes))
	}
	var cmds []string
	issuer := ""
	if len(res.Bundles) > 0 {
		issuer = res.Bundles[0].Issuer
	}
	sboms := map[string]Bundle{}
	for _, bu := range res.Bundles {
		if bu.PredicateType != "" {
			sboms[bu.Path] = bu
		}
	}
	seen := map[string]bool{}
	for _, p := range sc.Pushes {
		sb, isSBOM := sboms[p.Bundle]
		key := p.Image + " " + sb.PredicateType
		if p.Error != "" || seen[key] {
			continue
		}
		seen[key] = true
		if isSBOM {
			cmds = append(cmds, sbomVerifyImageCommand(p.Image, sb, sc))
			continue
		}
		cmds = append(cmds, VerifyImageCommand(p.Image, sc.sourceURI(), res.BuilderID, issuer, sc.TrustedRoot))
	}
	for _, bu := range res.Bundles {
		if len(sc.Pushes) > 0 {
			break
		}
		if bu.PredicateType != "" {
			cmds = append(cmds, sbomVerifyCommands(bu, sc)...)
			continue
		}
		for _, s := range bu.Subjects {
			cmds = append(cmds, VerifyCommand(s.Name, bu.Path, sc.sourceURI(), res.BuilderID, bu.Issuer, sc.TrustedRoot))
		}
	}
	b.WriteString("\nVerify with:\n\n")
	b.WriteString(fenced("sh", strings.Join(cmds, "\n")))
	return b.String()
}

// pushTable lists each image, its bundle and where the bundle went in its
// registry, or why it did not.
func pushTable(ps []Push) string {
	var b strings.Builder
	b.WriteString("| Image | Bundle | Attached as |\n|---|---|---|\n")
	for _, p := range ps {
		where := code(p.Manifest) + " (" + p.Via
		if p.Tag != "" {
			where += ", tag " + code(p.Tag)
		}
		if p.LegacyTag != "" {
			where += ", legacy tag " + code(p.LegacyTag)
		}
		where += ")"
		if p.Error != "" {
			where = "**not pushed:** " + code(p.Error)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(p.Image), code(p.Bundle), where)
	}
	return b.String()
}

// VerifyCommand is the `hallmark verify-artifact` command line that checks
// artifact against bundle: the source repository (HOST/OWNER/REPO), the
// exact builder, and the issuer when it is not GitHub's.
func VerifyCommand(artifact, bundle, source, builderID, issuer, trustedRoot string) string {
	return verifyCommand("verify-artifact", artifact, []string{"--provenance-path", shellQuote(bundle)}, source, builderID, issuer, trustedRoot)
}

// VerifyImageCommand is the `hallmark verify-image` command line that finds
// image's provenance in its registry and checks it.
func VerifyImageCommand(image, source, builderID, issuer, trustedRoot string) string {
	return verifyCommand("verify-image", image, nil, source, builderID, issuer, trustedRoot)
}

// verifyCommand is the command line of a verify command for what, with
// flags after it, pinning the source, the exact builder, the issuer when it
// is not GitHub's, and the trusted root.
func verifyCommand(command, what string, flags []string, source, builderID, issuer, trustedRoot string) string {
	if trustedRoot == "" {
		trustedRoot = "trusted_root.json"
	}
	args := append([]string{"hallmark", command, shellQuote(what)}, flags...)
	args = append(args, "--source-uri", shellQuote(source), "--builder-id", shellQuote(builderID))
	if issuer != "" && issuer != GitHubIssuer {
		args = append(args, "--cert-oidc-issuer", shellQuote(issuer))
	}
	args = append(args, "--trusted-root", shellQuote(trustedRoot))
	return strings.Join(args, " ")
}

// sbomVerifyCommands check an SBOM bundle: verify-artifact of each subject
// with --predicate-type. An SBOM has no builder id: the workflow that
// signed is named instead.
func sbomVerifyCommands(bu Bundle, sc SummaryContext) []string {
	var cmds []string
	for _, s := range bu.Subjects {
		args := append([]string{"hallmark", "verify-artifact", shellQuote(s.Name), "--provenance-path", shellQuote(bu.Path)}, sbomVerifyTail(bu, sc)...)
		cmds = append(cmds, strings.Join(args, " "))
	}
	return cmds
}

// sbomVerifyImageCommand checks the SBOM bundle bu pushed beside image.
func sbomVerifyImageCommand(image string, bu Bundle, sc SummaryContext) string {
	return strings.Join(append([]string{"hallmark", "verify-image", shellQuote(image)}, sbomVerifyTail(bu, sc)...), " ")
}

// sbomVerifyTail are the flags that check an SBOM bundle's type and signer.
func sbomVerifyTail(bu Bundle, sc SummaryContext) []string {
	trustedRoot := sc.TrustedRoot
	if trustedRoot == "" {
		trustedRoot = "trusted_root.json"
	}
	tail := []string{"--predicate-type", shellQuote(bu.PredicateType), "--source-uri", shellQuote(sc.sourceURI()),
		"--signer-workflow", shellQuote(strings.TrimPrefix(bu.Identity, "https://"))}
	if bu.Issuer != "" && bu.Issuer != GitHubIssuer {
		tail = append(tail, "--cert-oidc-issuer", shellQuote(bu.Issuer))
	}
	return append(tail, "--trusted-root", shellQuote(trustedRoot))
}

// fenced renders body as a fenced code block whose fence is longer than
// any run of backticks in body, so no line of it can close the block.
func fenced(lang, body string) string {
	fence := "```"
	for strings.Contains(body, fence) {
		fence += "`"
	}
	return fence + lang + "\n" + body + "\n" + fence + "\n"
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
