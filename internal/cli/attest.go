package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/digest"
	"github.com/hallmark-dev/hallmark/internal/ghaction"
	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/githubctx"
	"github.com/hallmark-dev/hallmark/internal/provenance"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// DefaultBundlePath is where attest writes its bundle unless told otherwise.
const DefaultBundlePath = "provenance.sigstore.json"

type attestFlags struct {
	subjectPaths     []string
	digestAlgorithms []string
	subjectChecksums []string
	subjectNames     []string
	subjectDigests   []string
	subjectImages    []string
	// subjectImagesEach are --subject-images: images each attested on
	// its own; attest moves them to subjectImages and sets perImage.
	subjectImagesEach []string
	perImage          bool
	// pushImages are more images the bundles are pushed to: the action's
	// subject-name@subject-digest.
	pushImages    []string
	registryToken githubRegistryToken
	bundlePath    string
	bundlePaths   []string // push's bundles
	perSubject    bool
	format        string
	signingConfig string
	trustedRoot   string
	identityToken string
	private       bool
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
	fl.StringVar(&f.bundlePath, "bundle-path", DefaultBundlePath, "where to write the bundle")
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
	fl.DurationVar(&f.pushDeadline, "push-deadline", defaultPushDeadline, "deadline of the registry work, before signing (image and write access) and again after it (the pushes)")
	fl.BoolVar(&f.pushToRegistry, "push-to-registry", false, "attach each bundle to the images it is about (--subject-image, --subject-images) as an OCI 1.1 referrer (the referrers tag on registries without the API); credentials from the docker config")
	fl.BoolVar(&f.pushLegacyTag, "push-legacy-tag", false, "with --push-to-registry, also push under cosign's legacy tag sha256-HEX.att for older consumers")
	fl.BoolVar(&f.attestPlatforms, "attest-platforms", false, "with --push-to-registry, also attest and push each platform image of a multi-platform index")
	fl.BoolVar(&f.allowInsecureRegistry, "allow-insecure-registry", false, "allow plain HTTP to the registry (local registries)")
	f.sbom.register(fl)
	return cmd
}

// collectSubjects gathers and merges every subject flag.
func collectSubjects(ctx context.Context, f attestFlags, stdin io.Reader) ([]subject.Subject, error) {
	var lists [][]subject.Subject
	if len(f.subjectPaths) > 0 {
		algs := f.digestAlgorithms
		if len(algs) == 0 {
			algs = []string{subject.SHA256}
		}
		s, err := subject.FromPaths(ctx, f.subjectPaths, subject.WithAlgorithms(algs...))
		if err != nil {
			return nil, err
		}
		lists = append(lists, s)
	}
	for _, c := range f.subjectChecksums {
		var r io.Reader
		if c == "-" {
			r = stdin
		} else {
			fh, err := os.Open(c)
			if err != nil {
				return nil, fmt.Errorf("--subject-checksums: %w", err)
			}
			defer fh.Close()
			r = fh
		}
		s, err := subject.ParseChecksums(r)
		if err != nil {
			return nil, fmt.Errorf("--subject-checksums %s: %w", c, err)
		}
		if len(s) == 0 {
			return nil, fmt.Errorf("--subject-checksums %s lists no file: want sha256sum output, one \"HEX  NAME\" a line (did the build produce its files, and hash them?)", c)
		}
		lists = append(lists, s)
	}
	if len(f.subjectNames) != len(f.subjectDigests) {
		return nil, fmt.Errorf("--subject-name and --subject-digest come in pairs: got %d names and %d digests", len(f.subjectNames), len(f.subjectDigests))
	}
	for i := range f.subjectNames {
		s, err := subject.FromNameDigest(f.subjectNames[i], f.subjectDigests[i])
		if err != nil {
			return nil, err
		}
		lists = append(lists, []subject.Subject{s})
	}
	for _, ref := range f.subjectImages {
		s, err := subject.FromImageRef(ref)
		if err != nil {
			return nil, err
		}
		lists = append(lists, []subject.Subject{s})
	}
	if len(lists) == 0 {
		return nil, errors.New("nothing to attest: give --subject-path, --subject-checksums, --subject-name/--subject-digest or --subject-image")
	}
	return subject.Merge(lists...)
}

// expandImages moves --subject-images into the image list, one image an
// item, and marks the run as one attestation per image.
func expandImages(f attestFlags) (attestFlags, error) {
	if len(f.subjectImagesEach) == 0 {
		return f, nil
	}
	if len(f.subjectPaths)+len(f.subjectChecksums)+len(f.subjectNames)+len(f.subjectDigests)+len(f.subjectImages) > 0 {
		return f, errors.New("--subject-images attests each image on its own: give --subject-path, --subject-checksums, --subject-name or --subject-image in another attest")
	}
	var refs []string
	for _, v := range f.subjectImagesEach {
		for _, item := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' }) {
			if item = strings.TrimSpace(item); item != "" {
				refs = append(refs, item)
			}
		}
	}
	if len(refs) == 0 {
		return f, errors.New("--subject-images lists no image: want REGISTRY/REPO@sha256:HEX, one a line or comma-separated")
	}
	f.subjectImages, f.subjectImagesEach, f.perImage = refs, nil, true
	return f, nil
}

// subjectGroups gathers the subjects and groups them into statements: up
// to provenance.MaxSubjects a statement, one a subject with --per-subject,
// one a digest with --subject-images.
func subjectGroups(ctx context.Context, f attestFlags, stdin io.Reader) ([][]subject.Subject, error) {
	if f.perImage {
		return imageGroups(f.subjectImages)
	}
	subjects, err := collectSubjects(ctx, f, stdin)
	if err != nil {
		return nil, err
	}
	if !f.perSubject {
		return subject.Split(subjects, provenance.MaxSubjects), nil
	}
	groups := make([][]subject.Subject, len(subjects))
	for i, s := range subjects {
		groups[i] = []subject.Subject{s}
	}
	return groups, nil
}

// imageGroups makes one group a digest of the images refs: an image named
// twice, or in two repositories (mirrors), is one statement with a
// subject for each name.
func imageGroups(refs []string) ([][]subject.Subject, error) {
	var groups [][]subject.Subject
	at := map[string]int{}
	for _, ref := range refs {
		s, err := subject.FromImageRef(ref)
		if err != nil {
			return nil, fmt.Errorf("--subject-images: %w", err)
		}
		d := digest.Set(s.Digest).String()
		i, ok := at[d]
		if !ok {
			i, at[d] = len(groups), len(groups)
			groups = append(groups, nil)
		}
		if !slices.ContainsFunc(groups[i], func(o subject.Subject) bool { return o.Name == s.Name }) {
			groups[i] = append(groups[i], s)
		}
	}
	return groups, nil
}

// groupLabel names a group's subjects for a message: NAME@DIGEST, ...
func groupLabel(g []subject.Subject) string {
	parts := make([]string, len(g))
	for i, s := range g {
		parts[i] = s.Name + "@" + digest.Set(s.Digest).String()
	}
	return strings.Join(parts, ", ")
}

// loadTrust reads the signing config and trusted root named by flags or
// environment, or fetches the public-good ones.
func loadTrust(f attestFlags, getenv func(string) string) (*root.SigningConfig, *root.TrustedRoot, error) {
	scPath := firstNonEmpty(f.signingConfig, getenv("HALLMARK_SIGNING_CONFIG"))
	trPath := firstNonEmpty(f.trustedRoot, getenv("HALLMARK_TRUSTED_ROOT"))
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

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// buildContext finds the build facts: the runner's environment, a facts
// file, or the token's claims. Facts that name no GitHub server are on the
// server of the token's issuer (tokenServer).
func buildContext(f attestFlags, getenv func(string) string, claims map[string]any) (*githubctx.Context, error) {
	switch {
	case f.factsFile != "":
		data, err := os.ReadFile(f.factsFile)
		if err != nil {
			return nil, fmt.Errorf("--facts: %w", err)
		}
		c, err := githubctx.ParseFacts(data)
		if err != nil {
			return nil, fmt.Errorf("--facts %s: %w (see docs/facts.schema.json)", f.factsFile, err)
		}
		if c, err = c.With(githubctx.Options{DefaultServerURL: tokenServer(claims, getenv)}); err != nil {
			return nil, fmt.Errorf("--facts %s: %w", f.factsFile, err)
		}
		return c, nil
	case f.factsFromToken:
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

// attestSummary is what attest prints with --format json: the action's
// result (the action reads it as one), registry pushes included.
type attestSummary = ghaction.AttestResult

func runAttest(ctx context.Context, f attestFlags, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	summary, err := attest(ctx, f, stdin, stderr, getenv)
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

// defaultPushDeadline bounds the registry work of attest and push.
const defaultPushDeadline = 30 * time.Second

// withTimeDefaults fills in the default of each deadline and timeout left
// zero (callers that build flags in code).
func (f attestFlags) withTimeDefaults() attestFlags {
	if f.deadline == 0 {
		f.deadline = signer.DefaultDeadline
	}
	if f.timeout == 0 {
		f.timeout = signer.DefaultTimeout
	}
	if f.pushDeadline == 0 {
		f.pushDeadline = defaultPushDeadline
	}
	return f
}

// checkTimes rejects deadlines and timeouts that cannot work. A --timeout
// longer than a deadline is not one of them: no try runs past its deadline.
func checkTimes(f attestFlags) error {
	if f.deadline <= 0 || f.timeout <= 0 || f.pushDeadline <= 0 {
		return errors.New("--deadline, --timeout and --push-deadline must be positive")
	}
	return nil
}

// attest signs provenance for the subjects f names and writes the bundles.
//
// Whatever can fail without spending a log entry is tried first: the
// inputs, the identity token, room for every bundle file, and with
// --push-to-registry the images and the registry's write access. Signing
// has its own deadline; the bundles are written only when all are signed
// (into the room reserved for them), and a push that fails afterwards
// leaves them in place with the command that finishes the job.
func attest(ctx context.Context, f attestFlags, stdin io.Reader, stderr io.Writer, getenv func(string) string) (*attestSummary, error) {
	if f.bundlePath == "" {
		return nil, errors.New("--bundle-path is empty")
	}
	if f.factsFile != "" && f.factsFromToken {
		return nil, errors.New("--facts and --facts-from-token contradict each other: give one")
	}
	f, err := expandImages(f)
	if err != nil {
		return nil, err
	}
	if err := checkPushFlags(f); err != nil {
		return nil, err
	}
	sbomFormats, err := checkSBOMFlags(f)
	if err != nil {
		return nil, err
	}
	f = f.withTimeDefaults()
	if err := checkTimes(f); err != nil {
		return nil, err
	}
	started := time.Now().UTC().Truncate(time.Second)
	groups, err := subjectGroups(ctx, f, stdin)
	if err != nil {
		return nil, err
	}
	sboms, err := makeSBOMs(ctx, f, sbomFormats, slices.Concat(groups...), stderr)
	if err != nil {
		return nil, err
	}
	sc, tr, err := loadTrust(f, getenv)
	if err != nil {
		return nil, err
	}
	token, source, err := signer.IdentityToken(ctx, f.identityToken, getenv, &http.Client{Timeout: f.timeout})
	if err != nil {
		return nil, err
	}
	claims, err := signer.CheckToken(token, signer.DefaultAudience, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%w (the token came from %s)", err, source)
	}
	if err := checkVisibility(claims, sc, f); err != nil {
		return nil, err
	}
	bctx, err := buildContext(f, getenv, claims)
	if err != nil {
		return nil, err
	}
	if err := checkFacts(bctx, claims, f); err != nil {
		return nil, err
	}
	if jwr, _ := claims["job_workflow_ref"].(string); jwr != "" {
		if bctx, err = bctx.With(githubctx.Options{JobWorkflowRef: jwr}); err != nil {
			return nil, err
		}
	}
	build, err := bctx.Build(ctx)
	if err != nil {
		return nil, err
	}
	if build.StartedOn.IsZero() {
		build.StartedOn = started
	}

	paths := bundlePaths(f.bundlePath, groups, f.perSubject, f.perImage)
	build.FinishedOn = time.Now().UTC().Truncate(time.Second)
	payloads := make([][]byte, len(groups))
	for i, g := range groups {
		st, err := provenance.Statement(g, build)
		if err != nil {
			return nil, err
		}
		if payloads[i], err = provenance.MarshalStatement(st); err != nil {
			return nil, err
		}
	}
	// The SBOM statements follow the provenance's, each signed in the
	// session (under the certificate) of the provenance of its subjects.
	units := make([]int, len(groups))
	predicateTypes := make([]string, len(groups))
	for i := range units {
		units[i] = i
	}
	sessions := make([]*signer.Session, len(groups))
	extra, err := sbomBundles(sboms, groups, paths, f.bundlePath)
	if err != nil {
		return nil, err
	}
	for _, b := range extra {
		groups, paths, payloads = append(groups, b.subjects), append(paths, b.path), append(payloads, b.payload)
		units, predicateTypes = append(units, b.unit), append(predicateTypes, b.format.PredicateType())
	}

	// Room for every bundle, before anything is signed: a log entry for a
	// bundle that cannot be written helps no one.
	outs := make([]*atomicfile.Reservation, len(paths))
	defer func() {
		for _, o := range outs {
			if o != nil {
				o.Discard()
			}
		}
	}()
	for i, p := range paths {
		size := bundleSizeEstimate(payloads[i])
		if len(paths) > maxReservations {
			// As many open files as bundles would run out of file
			// descriptors: the first file holds room for all of them
			// (they share its folder), the others are written at the end.
			if i > 0 {
				break
			}
			size = 0
			for _, pl := range payloads {
				size += bundleSizeEstimate(pl)
			}
		}
		if outs[i], err = atomicfile.Reserve(p, size, 0o644); err != nil {
			return nil, fmt.Errorf("--bundle-path: %w: give a folder this user can write to, with room for the bundle (nothing was signed)", err)
		}
	}
	platforms, err := checkRegistries(ctx, f)
	if err != nil {
		return nil, err
	}

	for i := range sessions {
		if sessions[i], err = signer.NewSession(signer.Options{
			SigningConfig: sc, TrustedRoot: tr, IdentityToken: token, Private: f.private,
			Deadline: f.deadline, Timeout: f.timeout, Retries: retriesOption(f.retries),
		}); err != nil {
			return nil, signingError(err, f)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, f.deadline)
	defer cancel()
	// Bundles are signed side by side: each waits on the log's next
	// checkpoint (about a second on Rekor v2), and one after another
	// 10,000 subjects in 10 bundles would wait 10 s.
	type signedBundle struct {
		sum  ghaction.Bundle
		data []byte
		err  error
	}
	results := make([]signedBundle, len(groups))
	sem := make(chan struct{}, attestConcurrency)
	var wg sync.WaitGroup
	var failed atomic.Bool
	var progress sync.Mutex
	for i, g := range groups {
		if failed.Load() {
			break // no more entries spent once one bundle failed
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := sessions[units[i]].Sign(sctx, payloads[i], signer.PayloadTypeInToto)
			var data []byte
			if err == nil {
				data, err = protojson.Marshal(res.Bundle)
			}
			if err != nil {
				failed.Store(true)
				results[i].err = err
				return
			}
			sum := ghaction.Bundle{Path: paths[i], Subjects: subjectsJSON(g), Identity: res.Identity, Issuer: res.Issuer, LogURL: res.LogURL, Timestamped: res.Timestamped,
				PredicateType: predicateTypes[i]}
			if res.LogIndex >= 0 {
				idx := res.LogIndex
				sum.LogIndex = &idx
			}
			results[i] = signedBundle{sum: sum, data: data}
			if len(groups) > 1 {
				progress.Lock()
				fmt.Fprintf(stderr, "signed bundle %d of %d (%d subjects)\n", i+1, len(groups), len(g))
				progress.Unlock()
			}
		}()
	}
	wg.Wait()
	var out []ghaction.Bundle
	var datas [][]byte
	var keptPaths []string
	var keptOuts []*atomicfile.Reservation
	firstErr, failedAt := error(nil), 0
	for i, r := range results {
		switch {
		case r.err != nil && firstErr == nil:
			firstErr, failedAt = r.err, i
		case r.data != nil:
			out, datas = append(out, r.sum), append(datas, r.data)
			keptPaths, keptOuts = append(keptPaths, paths[i]), append(keptOuts, outs[i])
		}
	}
	if firstErr != nil {
		err := signingError(firstErr, f)
		switch {
		case f.perImage && len(groups) > 1:
			err = fmt.Errorf("signing the attestation of %s (bundle %d of %d): %w", groupLabel(groups[failedAt]), failedAt+1, len(groups), err)
		case len(groups) > 1:
			err = fmt.Errorf("signing bundle %d of %d: %w", failedAt+1, len(groups), err)
		}
		if len(datas) > 0 {
			// The bundles signed spent their entries: keep them, and
			// say how to push them without signing again.
			kept, kerr := commitBundles(keptPaths, keptOuts, datas, out)
			ke := &keptError{err: err, kept: kept, keepErr: kerr, result: &attestSummary{BuilderID: build.BuilderID, Bundles: out}}
			if f.pushToRegistry && len(kept) > 0 {
				ke.next = pushCommand(f, kept, &pushError{images: imagesOf(f, out)})
			}
			return nil, ke
		}
		return nil, err
	}
	written, err := commitBundles(paths, outs, datas, out)
	if err != nil {
		return nil, err
	}
	summary := &attestSummary{BuilderID: build.BuilderID, Bundles: out}
	summary.Pushes, err = pushAttestations(ctx, f, written, platforms, legacyStamp(f, sc, tr), stderr, getenv)
	if err != nil {
		ke := &keptError{err: err, kept: written, result: summary}
		var pe *pushError
		if errors.As(err, &pe) {
			ke.next = pushCommand(f, written, pe)
		}
		return nil, ke
	}
	return summary, nil
}

// imagesOf are the images among f's push targets that the bundles are
// about.
func imagesOf(f attestFlags, bundles []ghaction.Bundle) []string {
	var out []string
	for _, ref := range f.pushTargets() {
		img, err := f.image(ref)
		if err != nil {
			continue
		}
		for _, b := range bundles {
			if slices.ContainsFunc(b.Subjects, func(s ghaction.Subject) bool { return "sha256:"+s.Digest["sha256"] == img.DigestStr() }) {
				out = append(out, ref)
				break
			}
		}
	}
	return out
}

// bundleSizeEstimate is room enough for the bundle of payload: the
// payload in base64 and, generously, the certificate, timestamp and log
// entry.
func bundleSizeEstimate(payload []byte) int64 {
	return int64(len(payload))*4/3 + 64<<10
}

// attestConcurrency is how many bundles are signed at once.
const attestConcurrency = 16

// maxReservations is the most bundle files reserved one by one.
const maxReservations = 64

// commitBundles writes each signed bundle into its reserved file (or,
// past maxReservations, as a new file). A bundle whose file cannot be
// written after all is saved in the temporary folder instead, and the
// error says where: it is signed, and logged, and must not be lost.
func commitBundles(paths []string, outs []*atomicfile.Reservation, datas [][]byte, sums []ghaction.Bundle) ([]string, error) {
	var written []string
	var errs []error
	for i, path := range paths {
		var err error
		if outs[i] != nil {
			err = outs[i].Commit(datas[i])
		} else {
			err = atomicfile.Write(path, datas[i], 0o644)
		}
		if err != nil {
			rescue, rerr := rescueBundle(path, datas[i])
			if rerr != nil {
				errs = append(errs, fmt.Errorf("%w; saving it elsewhere failed too (%v): the signed bundle%s is lost", err, rerr, logNote(sums[i])))
				continue
			}
			errs = append(errs, fmt.Errorf("%w; the signed bundle%s is saved at %s instead: move it into place, do not sign again", err, logNote(sums[i]), rescue))
			continue
		}
		written = append(written, path)
	}
	return written, errors.Join(errs...)
}

func rescueBundle(path string, data []byte) (string, error) {
	f, err := os.CreateTemp("", "hallmark-"+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	if err := atomicfile.Write(name, data, 0o644); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func logNote(b ghaction.Bundle) string {
	if b.LogIndex == nil {
		return ""
	}
	return fmt.Sprintf(" (log entry %d at %s)", *b.LogIndex, b.LogURL)
}

// keptError is a failure after some bundles were signed and written: they
// are kept, and next, if any, is the command that finishes the job without
// signing again.
type keptError struct {
	err     error
	kept    []string
	keepErr error
	next    string
	// result is what was done: the bundles signed, the pushes made.
	result *attestSummary
}

func (e *keptError) Error() string {
	var b strings.Builder
	b.WriteString(e.err.Error())
	if e.result != nil {
		var done []string
		for _, p := range e.result.Pushes {
			if p.Error == "" {
				done = append(done, p.Image)
			}
		}
		if len(done) > 0 {
			fmt.Fprintf(&b, "\nattached already: %s", strings.Join(done, ", "))
		}
	}
	switch {
	case len(e.kept) == 1:
		fmt.Fprintf(&b, "\nthe signed bundle is kept: %s", e.kept[0])
	case len(e.kept) > 1:
		fmt.Fprintf(&b, "\nthe signed bundles are kept: %s", strings.Join(e.kept, ", "))
	}
	if e.keepErr != nil {
		fmt.Fprintf(&b, "\n%v", e.keepErr)
	}
	if e.next != "" {
		fmt.Fprintf(&b, "\npush %s without signing again:\n  %s", map[bool]string{true: "it", false: "them"}[strings.Count(e.next, "--bundle-path ") == 1], e.next)
	}
	return b.String()
}

func (e *keptError) Unwrap() []error { return []error{e.err, e.keepErr} }

// signingError adds to a signing failure what the flags can change.
func signingError(err error, f attestFlags) error {
	switch {
	case errors.Is(err, signer.ErrTimeout):
		return fmt.Errorf("%w\ncheck that the server is up and reachable, or allow more time: --deadline (now %s), --timeout (now %s)", err, f.deadline, f.timeout)
	case errors.Is(err, signer.ErrIdentity):
		return fmt.Errorf("%w\nnothing was timestamped or logged; something between this job and Fulcio, or Fulcio itself, certifies identities it should not: check --signing-config", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w\nnothing listens there: check that the server is up and that --signing-config names it", err)
	}
	var se *signer.ServerError
	if errors.As(err, &se) {
		return fmt.Errorf("%w\ntry again when %s answers again, or name another server in --signing-config", err, se.URL)
	}
	return err
}

func subjectsJSON(ss []subject.Subject) []ghaction.Subject {
	out := make([]ghaction.Subject, len(ss))
	for i, s := range ss {
		out[i] = ghaction.Subject{Name: s.Name, Digest: s.Digest}
	}
	return out
}

func retriesOption(n int) int {
	if n == 0 {
		return -1 // signer: zero means default; the flag's 0 means none
	}
	return n
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// bundlePaths names the bundle files: the path itself for one bundle,
// BASE.N.sigstore.json for split statements, BASE.<subject>.sigstore.json
// per subject, BASE.<repository>-<12 digits of the digest>.sigstore.json
// per image.
func bundlePaths(path string, groups [][]subject.Subject, perSubject, perImage bool) []string {
	if len(groups) == 1 && (!perSubject || perImage) {
		return []string{path}
	}
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".json"), ".sigstore")
	seen := map[string]bool{}
	paths := make([]string, len(groups))
	for i, g := range groups {
		tag := fmt.Sprint(i + 1)
		switch {
		case perImage:
			hex := g[0].Digest["sha256"]
			tag = strings.Trim(unsafeName.ReplaceAllString(filepath.Base(g[0].Name), "_"), "._") + "-" + hex[:min(12, len(hex))]
			if seen[tag] {
				tag = fmt.Sprintf("%s-%d", tag, i+1)
			}
		case perSubject:
			tag = strings.Trim(unsafeName.ReplaceAllString(filepath.Base(g[0].Name), "_"), "._")
			if tag == "" || seen[tag] {
				tag = fmt.Sprintf("%s%d", tag, i+1)
			}
		}
		seen[tag] = true
		paths[i] = base + "." + tag + ".sigstore.json"
	}
	return paths
}
