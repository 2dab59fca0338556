package githubctx

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// BuildType is the SLSA build type GitHub's actions/attest-build-provenance
// uses for a workflow run.
const BuildType = "https://actions.github.io/buildtypes/workflow/v1"

// DefaultServerURL is the server of github.com, used when [Facts.ServerURL]
// is empty.
const DefaultServerURL = "https://github.com"

// Runner environments, the values of RUNNER_ENVIRONMENT.
const (
	GitHubHosted = "github-hosted"
	SelfHosted   = "self-hosted"
)

var (
	// ErrMissingFact is matched by a [*FactError] for a required fact that
	// is empty.
	ErrMissingFact = errors.New("missing")
	// ErrInvalidFact is matched by a [*FactError] for a fact that is not in
	// the form GitHub uses.
	ErrInvalidFact = errors.New("malformed")
)

// FactError reports a build fact that is missing or malformed.
type FactError struct {
	// Field is the fact's name: the environment variable for facts read by
	// FromEnv, the Facts field otherwise.
	Field string
	// Value is what was given.
	Value string
	// Err is ErrMissingFact or wraps ErrInvalidFact with what was wanted.
	Err error
}

func (e *FactError) Error() string {
	if errors.Is(e.Err, ErrMissingFact) {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Field, e.Value, e.Err)
}

func (e *FactError) Unwrap() error { return e.Err }

// Facts are the facts of one GitHub Actions run, as strings in the form the
// runner and the OIDC token give them. In a facts file ([ParseFacts]) each
// is named as the token's claim of the same meaning (server_url excepted,
// which no claim carries); docs/facts.schema.json is their JSON Schema.
type Facts struct {
	// ServerURL is GITHUB_SERVER_URL, such as https://github.com or a GitHub
	// Enterprise Server; empty means DefaultServerURL.
	ServerURL string `json:"server_url,omitempty"`
	// Repository is OWNER/REPO (GITHUB_REPOSITORY).
	Repository string `json:"repository"`
	// RepositoryID and RepositoryOwnerID are the numeric ids
	// (GITHUB_REPOSITORY_ID, GITHUB_REPOSITORY_OWNER_ID).
	RepositoryID      string `json:"repository_id"`
	RepositoryOwnerID string `json:"repository_owner_id"`
	// Ref is the git ref built, such as refs/heads/main (GITHUB_REF).
	Ref string `json:"ref"`
	// SHA is the 40-digit commit built (GITHUB_SHA).
	SHA string `json:"sha"`
	// WorkflowRef is the top-level workflow,
	// OWNER/REPO/.github/workflows/FILE@REF (GITHUB_WORKFLOW_REF).
	WorkflowRef string `json:"workflow_ref"`
	// JobWorkflowRef is the workflow the job runs, in the same form; it
	// differs from WorkflowRef when the job calls a reusable workflow. Take
	// it from the job_workflow_ref claim of the job's OIDC token. Empty
	// means WorkflowRef, which names the wrong builder for a job in a
	// reusable workflow.
	JobWorkflowRef string `json:"job_workflow_ref,omitempty"`
	// EventName is what triggered the run, such as push (GITHUB_EVENT_NAME).
	EventName string `json:"event_name"`
	// RunID and RunAttempt identify the run (GITHUB_RUN_ID,
	// GITHUB_RUN_ATTEMPT).
	RunID      string `json:"run_id"`
	RunAttempt string `json:"run_attempt"`
	// RunnerEnvironment is GitHubHosted or SelfHosted (RUNNER_ENVIRONMENT).
	RunnerEnvironment string `json:"runner_environment"`
}

// envNames maps each Facts field to the variable FromEnv reads it from.
var envNames = map[string]string{
	"ServerURL":         "GITHUB_SERVER_URL",
	"Repository":        "GITHUB_REPOSITORY",
	"RepositoryID":      "GITHUB_REPOSITORY_ID",
	"RepositoryOwnerID": "GITHUB_REPOSITORY_OWNER_ID",
	"Ref":               "GITHUB_REF",
	"SHA":               "GITHUB_SHA",
	"WorkflowRef":       "GITHUB_WORKFLOW_REF",
	"JobWorkflowRef":    "JobWorkflowRef",
	"EventName":         "GITHUB_EVENT_NAME",
	"RunID":             "GITHUB_RUN_ID",
	"RunAttempt":        "GITHUB_RUN_ATTEMPT",
	"RunnerEnvironment": "RUNNER_ENVIRONMENT",
}

var (
	repositoryRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+$`)
	idRE         = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	shaRE        = regexp.MustCompile(`^[0-9a-f]{40}$`)
	eventRE      = regexp.MustCompile(`^[a-z][a-z_]*$`)
)

// workflowRef is OWNER/REPO/PATH@REF split into its parts.
type workflowRef struct {
	repository, path, ref string
}

// parseWorkflowRef splits a workflow ref the way actions/attest does: the
// repository ends where "/.github/" starts and the ref starts after the last
// "@".
func parseWorkflowRef(s string) (workflowRef, error) {
	pathStart := strings.Index(s, "/.github/")
	refStart := strings.LastIndexByte(s, '@')
	switch {
	case pathStart < 0:
		return workflowRef{}, errors.New(`want OWNER/REPO/.github/workflows/FILE@REF: no "/.github/"`)
	case refStart < pathStart:
		return workflowRef{}, errors.New(`want OWNER/REPO/.github/workflows/FILE@REF: no "@REF" after the path`)
	}
	w := workflowRef{repository: s[:pathStart], path: s[pathStart+1 : refStart], ref: s[refStart+1:]}
	switch {
	case !repositoryRE.MatchString(w.repository) || strings.HasSuffix(w.repository, "/.") || strings.HasSuffix(w.repository, "/.."):
		return workflowRef{}, fmt.Errorf("repository %q is not OWNER/REPO", w.repository)
	case !strings.HasPrefix(w.path, ".github/workflows/") || len(w.path) == len(".github/workflows/"):
		return workflowRef{}, fmt.Errorf("path %q is not under .github/workflows/", w.path)
	case w.ref == "":
		return workflowRef{}, errors.New("empty ref after @")
	case hasSpace(s):
		return workflowRef{}, errors.New("contains whitespace or control characters")
	}
	return w, nil
}

func hasSpace(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// validate checks every fact and returns all problems at once. name turns a
// Facts field into the name the user knows it by.
func (f *Facts) validate(name func(field string) string) error {
	var errs []error
	bad := func(field, value string, err error) {
		errs = append(errs, &FactError{Field: name(field), Value: value, Err: err})
	}
	invalid := func(field, value, format string, args ...any) {
		bad(field, value, fmt.Errorf("%w: "+format, append([]any{ErrInvalidFact}, args...)...))
	}
	type fact struct{ field, value string }
	for _, x := range []fact{
		{"ServerURL", f.ServerURL}, {"Repository", f.Repository}, {"RepositoryID", f.RepositoryID},
		{"RepositoryOwnerID", f.RepositoryOwnerID}, {"Ref", f.Ref}, {"SHA", f.SHA}, {"WorkflowRef", f.WorkflowRef},
		{"EventName", f.EventName}, {"RunID", f.RunID}, {"RunAttempt", f.RunAttempt}, {"RunnerEnvironment", f.RunnerEnvironment},
	} {
		if x.value == "" {
			bad(x.field, "", ErrMissingFact)
		}
	}
	if f.ServerURL != "" {
		if err := checkServerURL(f.ServerURL); err != nil {
			invalid("ServerURL", f.ServerURL, "%v", err)
		}
	}
	if f.Repository != "" && (!repositoryRE.MatchString(f.Repository) || strings.HasSuffix(f.Repository, "/.") || strings.HasSuffix(f.Repository, "/..")) {
		invalid("Repository", f.Repository, "want OWNER/REPO")
	}
	for _, x := range []fact{{"RepositoryID", f.RepositoryID}, {"RepositoryOwnerID", f.RepositoryOwnerID}, {"RunID", f.RunID}, {"RunAttempt", f.RunAttempt}} {
		if x.value != "" && !idRE.MatchString(x.value) {
			invalid(x.field, x.value, "want a positive decimal number")
		}
	}
	if f.Ref != "" && (!strings.HasPrefix(f.Ref, "refs/") || hasSpace(f.Ref)) {
		invalid("Ref", f.Ref, "want a full git ref such as refs/heads/main")
	}
	if f.SHA != "" && !shaRE.MatchString(f.SHA) {
		invalid("SHA", f.SHA, "want 40 lowercase hex digits")
	}
	for _, x := range []fact{{"WorkflowRef", f.WorkflowRef}, {"JobWorkflowRef", f.JobWorkflowRef}} {
		if x.value != "" {
			if _, err := parseWorkflowRef(x.value); err != nil {
				invalid(x.field, x.value, "%v", err)
			}
		}
	}
	if f.EventName != "" && !eventRE.MatchString(f.EventName) {
		invalid("EventName", f.EventName, "want an event name such as push")
	}
	if f.RunnerEnvironment != "" && f.RunnerEnvironment != GitHubHosted && f.RunnerEnvironment != SelfHosted {
		invalid("RunnerEnvironment", f.RunnerEnvironment, "want %s or %s", GitHubHosted, SelfHosted)
	}
	return errors.Join(errs...)
}

func checkServerURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("want an http or https URL")
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return errors.New("want the server's root URL, such as https://github.com")
	}
	return nil
}
