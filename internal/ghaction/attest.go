package ghaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// GitHubIssuer is the OIDC issuer of GitHub Actions tokens; a summary names
// another issuer explicitly in its verify command.
const GitHubIssuer = "https://token.actions.githubusercontent.com"

// AttestResult is the summary `hallmark attest --format json` prints;
// Push, Bundle and Subject are its parts.
type (
	AttestResult = result.Attest
	Push         = result.Push
	Bundle       = result.Bundle
	Subject      = result.Subject
)

// PartialError is a failure after bundles were signed and written, such
// as a push that failed for some images: Result says what was done (the
// bundles, and each push with the error of each that failed); the error
// says what failed and how to finish without signing again.
type PartialError struct {
	Result *AttestResult
	Err    error
}

func (e *PartialError) Error() string { return e.Err.Error() }
func (e *PartialError) Unwrap() error { return e.Err }

// An Attester signs provenance for req, exactly as `hallmark attest` does.
// Progress and warnings go to stderr. A failure after bundles were signed
// is a *PartialError saying what was done.
type Attester func(ctx context.Context, req attest.Request, stderr io.Writer) (*AttestResult, error)

// RunAttest is the Attester of a real job: internal/attest's Run, the flow
// of `hallmark attest`, in the job's environment (getenv). A
// *attest.KeptError becomes a *PartialError.
func RunAttest(getenv func(string) string) Attester {
	return func(ctx context.Context, req attest.Request, stderr io.Writer) (*AttestResult, error) {
		res, err := attest.Run(ctx, req, attest.Env{Log: stderr, Getenv: getenv})
		var ke *attest.KeptError
		if errors.As(err, &ke) && ke.Result != nil {
			return nil, &PartialError{Result: ke.Result, Err: err}
		}
		if err != nil {
			return nil, err
		}
		return res, nil
	}
}

// Uploader stores a signed bundle (its bytes) in the attestation store of
// the repository OWNER/REPO with the GitHub token and returns the
// attestation's id and page.
type Uploader func(ctx context.Context, repository, token string, bundle []byte) (id, url string, err error)

// ErrNoStoreAccess is matched by an [Uploader]'s error when the token may
// not write to the attestation store: with attestation-store: auto the
// action then warns and goes on, as actions/attest's users expect of a job
// without `attestations: write`.
var ErrNoStoreAccess = errors.New("no write access to the attestation store")

// ErrForkPullRequest is returned when a pull_request run has no way to get
// an identity token: GitHub gives none to workflows of pull requests from
// forks. The error names the pull request and the fork when the event
// payload does.
var ErrForkPullRequest = errors.New("no OIDC identity token in this pull_request run: GitHub gives pull requests " +
	"from forks no id-token, so their builds cannot be attested; provenance is made for pushes, releases and " +
	"pull requests from branches of this repository")

// forkPullRequest explains a missing identity token in a pull_request run.
// A pull request whose head is another repository (a fork) gets
// [ErrForkPullRequest], naming the fork; one from a branch of this
// repository gets errNoToken as it is: its job lacks `id-token: write`.
// Without a readable payload the fork is the likely cause.
func forkPullRequest(cfg AttestConfig, errNoToken error) error {
	path := cfg.Getenv("GITHUB_EVENT_PATH")
	if path == "" || cfg.ReadFile == nil {
		return ErrForkPullRequest
	}
	data, err := cfg.ReadFile(path)
	if err != nil {
		return ErrForkPullRequest
	}
	var ev struct {
		Number      int `json:"number"`
		PullRequest struct {
			Head struct {
				Repo *struct {
					FullName string `json:"full_name"`
				} `json:"repo"`
			} `json:"head"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.PullRequest.Head.Repo == nil {
		return ErrForkPullRequest
	}
	head := ev.PullRequest.Head.Repo.FullName
	if strings.EqualFold(head, cfg.Getenv("GITHUB_REPOSITORY")) {
		return errNoToken
	}
	return fmt.Errorf("%w (pull request #%d comes from the fork %s)", ErrForkPullRequest, ev.Number, head)
}

// AttestConfig wires the attest action to the rest of hallmark.
type AttestConfig struct {
	// Attest signs, writes and, with push-to-registry, pushes the bundles:
	// RunAttest(Getenv) when nil.
	Attest Attester
	// Upload stores bundles in the repository's attestation store, per
	// the input attestation-store; nil stores nothing.
	Upload Uploader
	// Getenv reads the environment; os.Getenv in a real job.
	Getenv func(string) string
	// Stdout receives workflow commands (masks, outputs in old runners,
	// annotations); Stderr progress.
	Stdout, Stderr io.Writer
	// HTTPClient requests the identity token; a client with a 30 s timeout
	// when nil.
	HTTPClient *http.Client
	// ReadFile reads the event payload (GITHUB_EVENT_PATH); os.ReadFile in
	// a real job. Nil: the payload is not read.
	ReadFile func(string) ([]byte, error)
}

// Attest runs the attest action: it reads the inputs, gets and masks the
// job's identity token, signs provenance for the subjects, optionally
// pushes the bundle to the image's registry, and sets the outputs and the
// step summary.
//
// Inputs: subject-path, subject-digest, subject-name, subject-checksums,
// subject-images, push-to-registry, show-summary, bundle-path,
// signing-config, trusted-root, private, private-repository,
// attestation-store, github-token. Outputs: bundle-path,
// certificate-identity, certificate-issuer, builder-id, log-index,
// attestation-id, attestation-url.
//
// A failure is also written to the step summary, so the reason stands on
// the run's page next to the failed job, not only in its log.
func Attest(ctx context.Context, cfg AttestConfig) error {
	a := githubactions.New(githubactions.WithGetenv(cfg.Getenv), githubactions.WithWriter(cfg.Stdout))
	err := attestStep(ctx, cfg, a)
	if err != nil {
		summary := "### Hallmark: attestation FAILED\n\n" + fenced("", err.Error())
		var pe *PartialError
		if errors.As(err, &pe) && pe.Result != nil && len(pe.Result.Pushes) > 0 {
			summary += "\n" + pushTable(pe.Result.Pushes)
		}
		a.AddStepSummary(summary)
	}
	return err
}

func attestStep(ctx context.Context, cfg AttestConfig, a *githubactions.Action) error {
	// The request token is a credential of the job: never let it reach a log.
	if rt := cfg.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"); rt != "" {
		a.AddMask(rt)
	}
	ghToken := a.GetInput("github-token")
	if ghToken != "" {
		a.AddMask(ghToken)
	}
	req := attest.Request{
		SubjectPaths:     lines(a.GetInput("subject-path")),
		SubjectChecksums: lines(a.GetInput("subject-checksums")),
		BundlePath:       a.GetInput("bundle-path"),
		SigningConfig:    a.GetInput("signing-config"),
		TrustedRoot:      a.GetInput("trusted-root"),
	}
	if req.BundlePath == "" {
		req.BundlePath = attest.DefaultBundlePath
	}
	name, digest := a.GetInput("subject-name"), a.GetInput("subject-digest")
	switch {
	case name != "" && digest != "":
		req.SubjectNames, req.SubjectDigests = []string{name}, []string{digest}
	case name != "" || digest != "":
		return errors.New("inputs subject-name and subject-digest go together: give both or neither")
	}
	req.EachImage = list(a.GetInput("subject-images"))
	if len(req.EachImage) > 0 && (name != "" || len(req.SubjectPaths) > 0 || len(req.SubjectChecksums) > 0) {
		return errors.New("input subject-images attests each image on its own: give subject-path, subject-checksums or subject-name in another step")
	}
	if len(req.SubjectPaths)+len(req.SubjectChecksums)+len(req.SubjectNames)+len(req.EachImage) == 0 {
		return errors.New("nothing to attest: give the input subject-path, subject-checksums, subject-name with subject-digest, or subject-images")
	}
	var err error
	if req.Private, err = boolInput(a, "private", false); err != nil {
		return err
	}
	if req.PrivateRepository, err = boolInput(a, "private-repository", false); err != nil {
		return err
	}
	if err := sbomInputs(a, &req); err != nil {
		return err
	}
	if req.PushToRegistry, err = boolInput(a, "push-to-registry", false); err != nil {
		return err
	}
	if req.PushToRegistry && name == "" && len(req.EachImage) == 0 {
		return errors.New("input push-to-registry needs subject-images, or subject-name (the image, REGISTRY/REPO) and subject-digest")
	}
	if req.PushToRegistry && name != "" {
		// subject-name is the image (REGISTRY/REPO), subject-digest its
		// digest: the bundle goes to NAME@DIGEST.
		req.PushImages = []string{name + "@" + digest}
	}
	if ghToken != "" {
		// It logs in to the container registry of the runner's GitHub
		// when the docker config has nothing for it.
		if in, err := githubapi.InstanceFor(cfg.Getenv("GITHUB_SERVER_URL"), ""); err == nil {
			req.RegistryToken = attest.RegistryToken{Registry: in.Registry, User: cfg.Getenv("GITHUB_ACTOR"), Token: ghToken}
		}
	}
	show, err := boolInput(a, "show-summary", true)
	if err != nil {
		return err
	}
	store := a.GetInput("attestation-store")
	switch store {
	case "":
		store = "auto"
	case "auto", "true", "false":
	default:
		return fmt.Errorf("input attestation-store: %q is not auto, true or false", store)
	}
	if store == "true" && cfg.Upload == nil {
		return errors.New("input attestation-store: this hallmark cannot store attestations in GitHub")
	}

	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	token, _, err := signer.IdentityToken(ctx, "", cfg.Getenv, client)
	if errors.Is(err, signer.ErrNoIdentityToken) {
		if cfg.Getenv("GITHUB_EVENT_NAME") == "pull_request" {
			return forkPullRequest(cfg, err)
		}
	}
	if err != nil {
		return err
	}
	a.AddMask(token)
	req.IdentityToken = token

	run := cfg.Attest
	if run == nil {
		run = RunAttest(cfg.Getenv)
	}
	res, err := run(ctx, req, cfg.Stderr)
	if err != nil {
		return err
	}
	if len(res.Bundles) == 0 {
		return errors.New("attest wrote no bundle")
	}
	sum := SummaryContext{Repository: cfg.Getenv("GITHUB_REPOSITORY"), TrustedRoot: req.TrustedRoot, Server: cfg.Getenv("GITHUB_SERVER_URL"), Pushes: res.Pushes}

	if store != "false" && cfg.Upload != nil {
		repo := cfg.Getenv("GITHUB_REPOSITORY")
		var ids, urls []string
		for _, b := range res.Bundles {
			id, url, err := cfg.Upload(ctx, repo, ghToken, b.Data)
			if err != nil {
				if store == "auto" && errors.Is(err, ErrNoStoreAccess) {
					a.Warningf("the attestation was not stored in %s's attestation store (%v): give the job `permissions: attestations: write`, or set attestation-store: false", repo, err)
					ids, urls = nil, nil
					break
				}
				return fmt.Errorf("input attestation-store: %w\nthe signed bundle is kept at %s", err, b.Path)
			}
			ids, urls = append(ids, id), append(urls, url)
			fmt.Fprintf(cfg.Stderr, "stored %s in %s's attestation store: %s\n", b.Path, repo, url)
		}
		if len(ids) > 0 {
			a.SetOutput("attestation-id", strings.Join(ids, "\n"))
			a.SetOutput("attestation-url", strings.Join(urls, "\n"))
			sum.Stored = urls
		}
	}

	first := res.Bundles[0]
	var paths, sboms []string
	for _, b := range res.Bundles {
		if b.PredicateType != "" {
			sboms = append(sboms, b.Path)
			continue
		}
		paths = append(paths, b.Path)
	}
	a.SetOutput("bundle-path", strings.Join(paths, "\n"))
	if len(sboms) > 0 {
		a.SetOutput("sbom-bundle-path", strings.Join(sboms, "\n"))
	}
	a.SetOutput("certificate-identity", first.Identity)
	a.SetOutput("certificate-issuer", first.Issuer)
	a.SetOutput("builder-id", res.BuilderID)
	if first.LogIndex != nil {
		a.SetOutput("log-index", strconv.FormatInt(*first.LogIndex, 10))
	}
	for _, b := range res.Bundles {
		fmt.Fprintf(cfg.Stderr, "wrote %s: %d subject(s), signed by %s\n", b.Path, len(b.Subjects), b.Identity)
	}
	if show {
		a.AddStepSummary(AttestSummary(res, sum))
	}
	return nil
}
