package githubctx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	v1 "github.com/in-toto/attestation/go/v1"

	"github.com/hallmark-dev/hallmark/internal/provenance"
)

var (
	// ErrNotGitHubActions is returned by [FromEnv] when GITHUB_ACTIONS is
	// not "true".
	ErrNotGitHubActions = errors.New("not running in GitHub Actions (GITHUB_ACTIONS is not \"true\"): " +
		"run this inside a GitHub Actions job, or pass the build facts explicitly")
	// ErrMissingEnv is matched by a [*MissingEnvError].
	ErrMissingEnv = errors.New("missing GitHub Actions environment variables")
	// ErrInvalidEvent is matched by errors about the event payload file
	// named by GITHUB_EVENT_PATH.
	ErrInvalidEvent = errors.New("invalid event payload")
)

// MissingEnvError lists the runner environment variables FromEnv needs and
// did not find.
type MissingEnvError struct {
	// Names are the missing variables, in a fixed order.
	Names []string
}

func (e *MissingEnvError) Error() string {
	return fmt.Sprintf("%v: %s", ErrMissingEnv, strings.Join(e.Names, ", "))
}

// Is reports whether target is [ErrMissingEnv].
func (e *MissingEnvError) Is(target error) bool { return target == ErrMissingEnv }

// Context holds the facts of one GitHub Actions run and implements
// [provenance.Context]. Make one with [FromEnv] or [Explicit]; it is not
// changed after, [Context.With] returns a new one.
type Context struct {
	facts                 Facts
	workflow              workflowRef
	startedOn, finishedOn time.Time
	// serverDefaulted: the facts named no server, and DefaultServerURL
	// stands in until [Options.DefaultServerURL] names one.
	serverDefaulted bool
}

var _ provenance.Context = (*Context)(nil)

// Options are facts the runner environment does not carry.
type Options struct {
	// JobWorkflowRef is the job_workflow_ref claim of the job's OIDC token,
	// OWNER/REPO/.github/workflows/FILE@REF. It names the builder. Take it
	// from a token whose signature was checked: it is the only source of
	// this fact that a step of the job cannot forge.
	JobWorkflowRef string
	// StartedOn and FinishedOn bound the build; zero leaves them unknown.
	StartedOn, FinishedOn time.Time
	// DefaultServerURL is the GitHub server when the facts named none (a
	// facts file without server_url, or [Explicit] with an empty
	// ServerURL): the server of the identity token's issuer, say
	// (githubapi.ServerForIssuer). Facts that name a server keep it.
	DefaultServerURL string
}

// envVars are the variables FromEnv requires, in the order they are reported.
var envVars = []string{
	"GITHUB_SERVER_URL",
	"GITHUB_REPOSITORY",
	"GITHUB_REPOSITORY_ID",
	"GITHUB_REPOSITORY_OWNER_ID",
	"GITHUB_REF",
	"GITHUB_SHA",
	"GITHUB_WORKFLOW_REF",
	"GITHUB_EVENT_NAME",
	"GITHUB_RUN_ID",
	"GITHUB_RUN_ATTEMPT",
	"RUNNER_ENVIRONMENT",
}

// FromEnv reads the facts of the current run from the runner's environment,
// through getenv (os.Getenv in a real job), and checks them.
//
// Outside GitHub Actions (GITHUB_ACTIONS is not "true") it returns
// [ErrNotGitHubActions]. Each of GITHUB_SERVER_URL, GITHUB_REPOSITORY,
// GITHUB_REPOSITORY_ID, GITHUB_REPOSITORY_OWNER_ID, GITHUB_REF, GITHUB_SHA,
// GITHUB_WORKFLOW_REF, GITHUB_EVENT_NAME, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT
// and RUNNER_ENVIRONMENT is required; those unset are listed together in a
// [*MissingEnvError]. A malformed one is a [*FactError] whose Field is the
// variable's name.
//
// The job workflow ref is not in the environment; until [Context.With] sets
// it, the builder is named after the top-level workflow (GITHUB_WORKFLOW_REF),
// which is right only when the job does not run in a reusable workflow.
//
// When GITHUB_EVENT_PATH names a file it is read through readFile
// (os.ReadFile in a real job) and must be a JSON object; if it names the
// repository, the id must be GITHUB_REPOSITORY_ID, or the environment and the
// payload describe different runs ([ErrInvalidEvent]). A file that does not
// exist, or a nil readFile, skips this check. The payload does not set
// startedOn: it describes what triggered the run (for workflow_run, another
// run and its start time), not this run.
func FromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (*Context, error) {
	if getenv == nil {
		return nil, errors.New("githubctx: nil getenv")
	}
	if getenv("GITHUB_ACTIONS") != "true" {
		return nil, ErrNotGitHubActions
	}
	var missing []string
	for _, name := range envVars {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingEnvError{Names: missing}
	}
	f := Facts{
		ServerURL:         getenv("GITHUB_SERVER_URL"),
		Repository:        getenv("GITHUB_REPOSITORY"),
		RepositoryID:      getenv("GITHUB_REPOSITORY_ID"),
		RepositoryOwnerID: getenv("GITHUB_REPOSITORY_OWNER_ID"),
		Ref:               getenv("GITHUB_REF"),
		SHA:               getenv("GITHUB_SHA"),
		WorkflowRef:       getenv("GITHUB_WORKFLOW_REF"),
		EventName:         getenv("GITHUB_EVENT_NAME"),
		RunID:             getenv("GITHUB_RUN_ID"),
		RunAttempt:        getenv("GITHUB_RUN_ATTEMPT"),
		RunnerEnvironment: getenv("RUNNER_ENVIRONMENT"),
	}
	c, err := newContext(f, func(field string) string { return envNames[field] })
	if err != nil {
		return nil, err
	}
	if path := getenv("GITHUB_EVENT_PATH"); path != "" && readFile != nil {
		if err := checkEvent(path, readFile, f.RepositoryID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Explicit makes a Context from facts given by the caller, for use outside
// GitHub Actions. Every field but JobWorkflowRef is required, except that an
// empty ServerURL means [DefaultServerURL]. All problems are reported at once,
// joined, each a [*FactError] whose Field is the Facts field's name.
func Explicit(f Facts) (*Context, error) {
	defaulted := f.ServerURL == ""
	if defaulted {
		f.ServerURL = DefaultServerURL
	}
	c, err := newContext(f, func(field string) string { return field })
	if err != nil {
		return nil, err
	}
	c.serverDefaulted = defaulted
	return c, nil
}

func newContext(f Facts, name func(string) string) (*Context, error) {
	f.ServerURL = strings.TrimSuffix(f.ServerURL, "/")
	if err := f.validate(name); err != nil {
		return nil, err
	}
	wf, _ := parseWorkflowRef(f.WorkflowRef) // checked by validate
	return &Context{facts: f, workflow: wf}, nil
}

// With returns a copy of c with the facts in o added; empty fields of o
// leave c's as they are. A malformed JobWorkflowRef is a [*FactError].
func (c *Context) With(o Options) (*Context, error) {
	n := *c
	if o.JobWorkflowRef != "" {
		if _, err := parseWorkflowRef(o.JobWorkflowRef); err != nil {
			return nil, &FactError{Field: "JobWorkflowRef", Value: o.JobWorkflowRef, Err: fmt.Errorf("%w: %v", ErrInvalidFact, err)}
		}
		n.facts.JobWorkflowRef = o.JobWorkflowRef
	}
	if !o.StartedOn.IsZero() {
		n.startedOn = o.StartedOn
	}
	if !o.FinishedOn.IsZero() {
		n.finishedOn = o.FinishedOn
	}
	if o.DefaultServerURL != "" && n.serverDefaulted {
		if err := checkServerURL(o.DefaultServerURL); err != nil {
			return nil, &FactError{Field: "ServerURL", Value: o.DefaultServerURL, Err: fmt.Errorf("%w: %v", ErrInvalidFact, err)}
		}
		n.facts.ServerURL = strings.TrimSuffix(o.DefaultServerURL, "/")
		n.serverDefaulted = false
	}
	return &n, nil
}

// Facts returns the facts c describes. ServerURL has no trailing slash.
func (c *Context) Facts() Facts { return c.facts }

// Build returns the run's facts laid out as actions/attest-build-provenance
// lays them out; see the package documentation.
func (c *Context) Build(ctx context.Context) (*provenance.Build, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f := c.facts
	job := f.JobWorkflowRef
	if job == "" {
		job = f.WorkflowRef
	}
	return &provenance.Build{
		BuildType: BuildType,
		ExternalParameters: map[string]any{
			"workflow": map[string]any{
				"ref":        c.workflow.ref,
				"repository": f.ServerURL + "/" + c.workflow.repository,
				"path":       c.workflow.path,
			},
		},
		InternalParameters: map[string]any{
			"github": map[string]any{
				"event_name":          f.EventName,
				"repository_id":       f.RepositoryID,
				"repository_owner_id": f.RepositoryOwnerID,
				"runner_environment":  f.RunnerEnvironment,
			},
		},
		ResolvedDependencies: []*v1.ResourceDescriptor{{
			Uri:    "git+" + f.ServerURL + "/" + f.Repository + "@" + f.Ref,
			Digest: map[string]string{"gitCommit": f.SHA},
		}},
		BuilderID:    f.ServerURL + "/" + job,
		InvocationID: f.ServerURL + "/" + f.Repository + "/actions/runs/" + f.RunID + "/attempts/" + f.RunAttempt,
		StartedOn:    c.startedOn,
		FinishedOn:   c.finishedOn,
	}, nil
}

// checkEvent reads the event payload and checks it belongs to the repository
// the environment names.
func checkEvent(path string, readFile func(string) ([]byte, error), repositoryID string) error {
	raw, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading event payload (GITHUB_EVENT_PATH): %w", err)
	}
	var payload struct {
		Repository *struct {
			ID json.Number `json:"id"`
		} `json:"repository"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&payload); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidEvent, path, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s: data after the JSON object", ErrInvalidEvent, path)
	}
	if payload.Repository != nil && payload.Repository.ID != "" && payload.Repository.ID.String() != repositoryID {
		return fmt.Errorf("%w: %s: repository.id is %s but GITHUB_REPOSITORY_ID is %s", ErrInvalidEvent, path, payload.Repository.ID, repositoryID)
	}
	return nil
}
