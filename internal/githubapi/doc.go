// Package githubapi speaks the parts of GitHub's REST API that GitHub mode
// needs: the repository attestation store (create an attestation, list the
// attestations of a subject digest, following the Link header's cursors),
// and the URLs of a GitHub instance (github.com, GitHub Enterprise Server,
// or a data-residency tenant under ghe.com) derived from the runner's
// GITHUB_SERVER_URL and GITHUB_API_URL.
//
// Errors from the API are [*APIError]s carrying the status and GitHub's
// message; they match [ErrForbidden] (401, 403), [ErrNotFound] (404) and
// [ErrInvalid] (422) with errors.Is. A token is sent only to the API URL it
// was given for and never appears in an error.
package githubapi
