package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

type attestFlags struct {
	subjectPaths     []string
	digestAlgorithms []string
	subjectChecksums []string
	subjectNames     []string
	subjectDigests   []string
	subjectImages    []string
	// subjectImagesEach are --subject-images: images each attested on
	// its own.
	subjectImagesEach []string
	bundlePath        string
	perSubject        bool
	format            string
	signingConfig     string
	trustedRoot       string
	identityToken     string
	private           bool
	// privateRepository consents to naming a repository that is not
	// public in Sigstore's public-good logs.
	privateRepository bool
	factsFile         string
	factsFromToken    bool
	deadline          time.Duration
	timeout           time.Duration
	retries           int
	pushDeadline      time.Duration

	pushToRegistry        bool
	pushLegacyTag         bool
	attestPlatforms       bool
	allowInsecureRegistry bool

	sbom sbomFlags
}

func newAttestCmd() *cobra.Command {
	var f attestFlags
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Make SLSA v1.0 provenance for build outputs and sign it keylessly into a Sigstore bundle",
		Long: `attest writes an in-toto Statement v1 with an SLSA v1.0 provenance predicate about
the given subjects, signs it as a DSSE envelope with a short-lived Fulcio
certificate bought with the job's OIDC token, logs it in Rekor and/or gets an
RFC 3161 timestamp, checks the new bundle against the trusted root, and writes
it as a Sigstore bundle v0.3.

Subjects (any mix; the same name with two digests is an error):
  --subject-path       files by glob (** for any depth); each value may be a
                       newline- or comma-separated list. Directories matched
                       by a glob are skipped; symlinks to files are hashed
                       under the link's name.
  --subject-checksums  sha256sum/sha512sum output, a file or - for stdin
  --subject-name/--subject-digest   a name and sha256:HEX, in pairs
  --subject-image      REGISTRY/REPO@sha256:HEX
  --subject-images     images each attested on its own: one statement and
                       bundle per digest (alone; not with the flags above);
                       each value may be a newline- or comma-separated list

Build facts: inside GitHub Actions they come from the runner environment and
the job's token (builder.id is the token's job_workflow_ref). Elsewhere pass
--facts FILE (JSON, the facts of a GitHub run named as the token's claims:
repository, repository_id, repository_owner_id, ref, sha, workflow_ref,
event_name, run_id, run_attempt, runner_environment, and optionally
server_url and job_workflow_ref; see docs/facts.schema.json) or
--facts-from-token. Facts that contradict the token's claims are refused.
The GitHub server (for GitHub Enterprise Server or a ghe.com tenant) is the
facts file's server_url, else the one the token's issuer names
(https://HOST/_services/token, https://token.actions.SUB.ghe.com), else
$GITHUB_SERVER_URL, else github.com.

Private repositories: when the token says the repository is private or
internal (claim repository_visibility), attest refuses to name it in
Sigstore's public-good logs unless --private-repository is given; a private
Sigstore's --signing-config needs no such consent.

Identity token: --identity-token, $SIGSTORE_ID_TOKEN, or the Actions
token-request protocol (needs permissions: id-token: write).

Servers: --signing-config (default $HALLMARK_SIGNING_CONFIG) names Fulcio,
Rekor and the TSA; --trusted-root (default $HALLMARK_TRUSTED_ROOT) checks the
bundle before it is written. With neither set and no such variables, the
public-good Sigstore's are fetched through TUF.

Output: --bundle-path (default provenance.sigstore.json). More than 1,024
subjects are split into BASE.1.sigstore.json, BASE.2.sigstore.json, ...;
--per-subject writes BASE.<subject>.sigstore.json for each subject;
--subject-images with more than one digest writes
BASE.<repository>-<first 12 digits of the digest>.sigstore.json for each. Files are
written only after every bundle is signed and checked, each atomically; if a
later bundle fails, those already signed (and logged) are still written, and
the error says which.

Nothing is spent on a failure that can be foreseen: before Fulcio is asked,
the token's expiry and audience are checked, room for each bundle is
reserved in its folder, and with --push-to-registry each image is looked up
and the registry's write access probed. The certificate must name the
token's identity and each timestamp must be over this signature before
anything is written to the log. If pushing fails after signing, the bundle
is kept and the message says how to push it with 'hallmark push'. Several
images are checked and pushed side by side; one that fails is named, and
does not stop the others.

Registry credentials come from the docker config (docker login, its auths,
credHelpers and credsStore); inside GitHub Actions the job's GITHUB_TOKEN, if
set, logs in to GitHub's container registry when the config has nothing for
it.

SBOMs: --sbom also makes an SBOM of each subject (a file, looked into when
it is an archive, or an image read from its registry) with hallmark-sbom,
in each --sbom-format (spdx, cyclonedx), and signs it as an attestation of
its own about that subject, under the provenance's certificate, beside the
provenance: BASE.spdx.sigstore.json, or BASE.SUBJECT.spdx.sigstore.json
when there are several subjects. --sbom-source DIR makes one SBOM of a
directory about every subject; --sbom-path FILE attests an SBOM you have.
Every SBOM is made and checked before the identity token is asked for.

Time: signing ends within --deadline (default 45s): every request to Fulcio,
the TSA and Rekor, each try at most --timeout (default 10s), failed tries
retried --retries times with a doubling backoff or the server's Retry-After.
Registry work gets --push-deadline (default 30s) before signing (the write
check) and again after it (the pushes).`,
		Example: `  hallmark attest --subject-path 'dist/*' --bundle-path dist/provenance.sigstore.json
  sha256sum dist/* | hallmark attest --subject-checksums -
  hallmark attest --subject-image ghcr.io/acme/app@sha256:... --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAttest(cmd.Context(), f, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), os.Getenv)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.subjectPaths, "subject-path", nil, "files to attest: globs, or newline/comma-separated lists of globs (repeatable)")
	fl.StringSliceVar(&f.digestAlgorithms, "digest-algorithm", []string{subject.SHA256}, "digests of each --subject-path file: sha256 and/or sha512 (npm names packages by sha512); each file is read once")
	fl.StringArrayVar(&f.subjectChecksums, "subject-checksums", nil, "sha256sum/sha512sum output file, or - for stdin (repeatable)")
	fl.StringArrayVar(&f.subjectNames, "subject-name", nil, "subject name, paired with --subject-digest (repeatable)")
	fl.StringArrayVar(&f.subjectDigests, "subject-digest", nil, "subject digest sha256:HEX or sha512:HEX, paired with --subject-name (repeatable)")
	fl.StringArrayVar(&f.subjectImages, "subject-image", nil, "container image by digest, REGISTRY/REPO@sha256:HEX (repeatable)")
	fl.StringArrayVar(&f.subjectImagesEach, "subject-images", nil, "container images by digest, each attested on its own (one statement and bundle per digest): newline/comma-separated REGISTRY/REPO@sha256:HEX lists (repeatable)")
	fl.StringVar(&f.bundlePath, "bundle-path", attest.DefaultBundlePath, "where to write the bundle")
	fl.BoolVar(&f.perSubject, "per-subject", false, "write one bundle per subject")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	fl.StringVar(&f.signingConfig, "signing-config", "", "Sigstore signing_config.json (default $HALLMARK_SIGNING_CONFIG)")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "Sigstore trusted_root.json to check the bundle with (default $HALLMARK_TRUSTED_ROOT)")
	fl.StringVar(&f.identityToken, "identity-token", "", "OIDC identity token (default $SIGSTORE_ID_TOKEN or the Actions token request)")
	fl.BoolVar(&f.private, "private", false, "sign with a timestamp only: publish nothing to a transparency log")
	fl.BoolVar(&f.privateRepository, "private-repository", false, "sign for a private or internal repository with Sigstore's public-good instance, publishing its name, workflow and commit in the public logs (refused without it)")
	fl.StringVar(&f.factsFile, "facts", "", "JSON file of build facts, for use outside GitHub Actions (members named as the token's claims: docs/facts.schema.json)")
	fl.BoolVar(&f.factsFromToken, "facts-from-token", false, "take the build facts from the identity token's claims (outside GitHub Actions)")
	fl.DurationVar(&f.deadline, "deadline", signer.DefaultDeadline, "deadline of the signing: every certificate, timestamp and log request with its retries")
	fl.DurationVar(&f.timeout, "timeout", signer.DefaultTimeout, "timeout of each try of a request to a Sigstore server or the registry")
	fl.IntVar(&f.retries, "retries", signer.DefaultRetries, "retries of a failed request within the deadline (backoff doubles from 1s; a longer Retry-After is honoured)")
	fl.DurationVar(&f.pushDeadline, "push-deadline", attest.DefaultPushDeadline, "deadline of the registry work, before signing (image and write access) and again after it (the pushes)")
	fl.BoolVar(&f.pushToRegistry, "push-to-registry", false, "attach each bundle to the images it is about (--subject-image, --subject-images) as an OCI 1.1 referrer (the referrers tag on registries without the API); credentials from the docker config")
	fl.BoolVar(&f.pushLegacyTag, "push-legacy-tag", false, "with --push-to-registry, also push under cosign's legacy tag sha256-HEX.att for older consumers")
	fl.BoolVar(&f.attestPlatforms, "attest-platforms", false, "with --push-to-registry, also attest and push each platform image of a multi-platform index")
	fl.BoolVar(&f.allowInsecureRegistry, "allow-insecure-registry", false, "allow plain HTTP to the registry (local registries)")
	f.sbom.register(fl)
	return cmd
}

// request is the attest.Request the flags ask for.
func (f attestFlags) request() attest.Request {
	return attest.Request{
		SubjectPaths: f.subjectPaths, DigestAlgorithms: f.digestAlgorithms, SubjectChecksums: f.subjectChecksums,
		SubjectNames: f.subjectNames, SubjectDigests: f.subjectDigests,
		SubjectImages: f.subjectImages, EachImage: f.subjectImagesEach, PerSubject: f.perSubject,
		BundlePath:    f.bundlePath,
		SigningConfig: f.signingConfig, TrustedRoot: f.trustedRoot, IdentityToken: f.identityToken,
		Private: f.private, PrivateRepository: f.privateRepository,
		FactsFile: f.factsFile, FactsFromToken: f.factsFromToken,
		Deadline: f.deadline, Timeout: f.timeout, Retries: retries(f.retries), PushDeadline: f.pushDeadline,
		PushToRegistry: f.pushToRegistry, PushLegacyTag: f.pushLegacyTag, AttestPlatforms: f.attestPlatforms,
		AllowInsecureRegistry: f.allowInsecureRegistry,
		SBOM:                  f.sbom.request(),
	}
}

// retries is --retries as attest.Request wants it: the flag's 0 is none,
// the request's zero its default.
func retries(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// run runs attest.Run with the flags' request; progress goes to stderr.
func (f attestFlags) run(ctx context.Context, stdin io.Reader, stderr io.Writer, getenv func(string) string) (*attestSummary, error) {
	return attest.Run(ctx, f.request(), attest.Env{Stdin: stdin, Log: stderr, Getenv: getenv})
}

// attestSummary is what attest prints with --format json: the action's
// result (the action reads it as one), registry pushes included.
type attestSummary = result.Attest

func runAttest(ctx context.Context, f attestFlags, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	summary, err := f.run(ctx, stdin, stderr, getenv)
	if err != nil {
		return err
	}
	if f.format == "json" {
		return writeJSON(stdout, summary)
	}
	for _, b := range summary.Bundles {
		where := "no transparency log (private)"
		if b.LogIndex != nil {
			where = fmt.Sprintf("log entry %d at %s", *b.LogIndex, b.LogURL)
		}
		fmt.Fprintf(stdout, "wrote %s%s: %d subject(s), signed by %s (issuer %s), %s", b.Path, sbomNote(b.PredicateType), len(b.Subjects), b.Identity, b.Issuer, where)
		if b.Timestamped {
			fmt.Fprint(stdout, ", timestamped")
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
