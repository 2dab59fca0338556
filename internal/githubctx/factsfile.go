package githubctx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
)

// ErrFactsFile is matched by errors about a facts file that is not one JSON
// object of the documented fields.
var ErrFactsFile = errors.New("facts file")

// maxFactsFile bounds a facts file: the facts of one run are a few hundred
// bytes.
const maxFactsFile = 64 << 10

// jsonNames maps each Facts field to its name in a facts file.
var jsonNames = func() map[string]string {
	m := map[string]string{}
	t := reflect.TypeFor[Facts]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[t.Field(i).Name] = name
	}
	return m
}()

// FactNames lists the names a facts file may use, in the order of [Facts].
func FactNames() []string {
	t := reflect.TypeFor[Facts]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = jsonNames[t.Field(i).Name]
	}
	return out
}

// ParseFacts reads a facts file, the build facts of a run made outside
// GitHub Actions: one JSON object whose members are named as
// docs/facts.schema.json names them (repository, repository_id, ref, sha,
// workflow_ref, ...; see [Facts]), every value a string. A member of another
// name, a value of another type, a second object or more than 64 KiB is an
// error matching [ErrFactsFile]; missing or malformed facts are
// [*FactError]s naming the member, as [Explicit] reports them.
func ParseFacts(data []byte) (*Context, error) {
	if len(data) > maxFactsFile {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a run's facts take", ErrFactsFile, len(data), maxFactsFile)
	}
	f, err := decodeFacts(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (want one JSON object of the string fields %s)", ErrFactsFile, err, strings.Join(FactNames(), ", "))
	}
	defaulted := f.ServerURL == ""
	if defaulted {
		f.ServerURL = DefaultServerURL
	}
	c, err := newContext(f, func(field string) string { return jsonNames[field] })
	if err != nil {
		return nil, err
	}
	c.serverDefaulted = defaulted
	return c, nil
}

// ErrContradictsToken is matched by a [*ContradictionError].
var ErrContradictsToken = errors.New("contradicts the identity token")

// ContradictionError is a build fact that differs from the identity
// token's claim of the same meaning. Fulcio writes the token's claims into
// the certificate, and a verifier checks the provenance against them: such
// provenance could never verify.
type ContradictionError struct {
	// Fact is the fact's name in a facts file, Claim the token's claim.
	Fact, Claim string
	// Value is the fact, TokenValue the claim.
	Value, TokenValue string
	// Note, if set, says what the claim means.
	Note string
}

func (e *ContradictionError) Error() string {
	msg := fmt.Sprintf("build fact %s is %q, but the identity token's %s claim is %q", e.Fact, e.Value, e.Claim, e.TokenValue)
	if e.Note != "" {
		msg += " (" + e.Note + ")"
	}
	return msg
}

// Is reports whether target is [ErrContradictsToken].
func (e *ContradictionError) Is(target error) bool { return target == ErrContradictsToken }

// CheckClaims compares c's facts with the identity token's claims of the
// same meaning (repository, repository_id, repository_owner_id, ref, sha,
// workflow_ref, job_workflow_ref, event_name, run_id, run_attempt,
// runner_environment) and returns every difference, each a
// [*ContradictionError]. A claim the token does not carry is not compared:
// tokens of other issuers carry none of them. The server is compared with
// the one the token's issuer names (iss https://token.actions.
// githubusercontent.com is github.com's; a GitHub Enterprise Server's is
// https://HOST/_services/token, a ghe.com tenant's
// https://token.actions.SUB.ghe.com).
func (c *Context) CheckClaims(claims map[string]any) error {
	f := c.facts
	var errs []error
	for _, x := range []struct{ field, value string }{
		{"Repository", f.Repository}, {"RepositoryID", f.RepositoryID}, {"RepositoryOwnerID", f.RepositoryOwnerID},
		{"Ref", f.Ref}, {"SHA", f.SHA}, {"WorkflowRef", f.WorkflowRef}, {"JobWorkflowRef", f.JobWorkflowRef},
		{"EventName", f.EventName}, {"RunID", f.RunID}, {"RunAttempt", f.RunAttempt}, {"RunnerEnvironment", f.RunnerEnvironment},
	} {
		name := jsonNames[x.field]
		claim, _ := claims[name].(string)
		if claim == "" || x.value == "" || claim == x.value {
			continue
		}
		errs = append(errs, &ContradictionError{Fact: name, Claim: name, Value: x.value, TokenValue: claim})
	}
	// The token's issuer names the GitHub it comes from; the certificate's
	// URIs are on that server.
	if iss, _ := claims["iss"].(string); iss != "" {
		if server, ok := githubapi.ServerForIssuer(iss); ok && !strings.EqualFold(server, f.ServerURL) {
			errs = append(errs, &ContradictionError{Fact: jsonNames["ServerURL"], Claim: "iss", Value: f.ServerURL, TokenValue: iss,
				Note: "the token comes from the GitHub at " + server})
		}
	}
	return errors.Join(errs...)
}

// decodeFacts reads one JSON object of string members with exactly the
// names of jsonNames, each at most once. encoding/json alone would match
// names regardless of case and keep the last of duplicates.
func decodeFacts(data []byte) (Facts, error) {
	var f Facts
	fields := map[string]reflect.Value{}
	v := reflect.ValueOf(&f).Elem()
	for field, name := range jsonNames {
		fields[name] = v.FieldByName(field)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return f, err
	} else if tok != json.Delim('{') {
		return f, fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return f, err
		}
		name, _ := tok.(string)
		field, ok := fields[name]
		switch {
		case !ok:
			return f, fmt.Errorf("unknown field %q", name)
		case seen[name]:
			return f, fmt.Errorf("field %q given twice", name)
		}
		seen[name] = true
		tok, err = dec.Token()
		if err != nil {
			return f, err
		}
		s, ok := tok.(string)
		if !ok {
			return f, fmt.Errorf("field %q is not a string", name)
		}
		field.SetString(s)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return f, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return f, errors.New("data after the JSON object")
	}
	return f, nil
}
