package ghaction

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
)

// StoreUploader is the [Uploader] of a real job: it stores a bundle in the
// repository's attestation store through the API of the runner's GitHub
// (GITHUB_API_URL, else derived from GITHUB_SERVER_URL: github.com, a
// ghe.com tenant or a GitHub Enterprise Server), as actions/attest does. A
// refusal for want of access (401, 403, 404) matches [ErrNoStoreAccess].
func StoreUploader(getenv func(string) string) Uploader {
	return func(ctx context.Context, repository, token string, data []byte) (string, string, error) {
		in, err := githubapi.InstanceFor(getenv("GITHUB_SERVER_URL"), getenv("GITHUB_API_URL"))
		if err != nil {
			return "", "", err
		}
		c, err := githubapi.New(in.APIURL, token, nil)
		if err != nil {
			return "", "", err
		}
		created, err := c.CreateAttestation(ctx, repository, data)
		if errors.Is(err, githubapi.ErrForbidden) || errors.Is(err, githubapi.ErrNotFound) {
			return "", "", fmt.Errorf("%w: %w", ErrNoStoreAccess, err)
		}
		if err != nil {
			return "", "", err
		}
		return strconv.FormatInt(created.ID, 10), created.URL(in.ServerURL, repository), nil
	}
}
