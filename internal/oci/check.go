package oci

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CheckPush finds out, without writing anything, whether an attestation
// could be attached to subject now: the image exists, and the registry
// lets these credentials push to its repository (an upload is started and
// cancelled at once, as go-containerregistry's CheckPushPermission does).
// Call it before spending anything on the attestation; it returns the
// image's descriptor.
func CheckPush(ctx context.Context, subject name.Digest, opts ...Option) (*v1.Descriptor, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	if subject, err = reparse(subject, o); err != nil {
		return nil, err
	}
	desc, err := remote.Head(subject, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, o.explain(classify("image "+subject.String(), err), subject.Registry, false)
	}
	if err := checkWrite(ctx, subject, o); err != nil {
		return nil, o.explain(err, subject.Registry, true)
	}
	o.log.Info("registry accepts pushes", "repository", subject.Repository.String())
	return desc, nil
}

// checkWrite starts an upload to the subject's repository and cancels it.
func checkWrite(ctx context.Context, subject name.Digest, o *options) error {
	repo := subject.Repository
	auth, err := authn.Resolve(ctx, o.auth, repo)
	if err != nil {
		return err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, o.roundTripper(), []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return classify("write access to "+repo.String(), err)
	}
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/uploads/", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		return classify("write access to "+repo.String(), err)
	}
	res.Body.Close()
	if err := transport.CheckError(res, http.StatusAccepted); err != nil {
		return classify("write access to "+repo.String(), err)
	}
	if loc := res.Header.Get("Location"); loc != "" {
		// Cancel the upload; a registry that does not is no reason to fail.
		if lu, err := req.URL.Parse(loc); err == nil {
			if del, err := http.NewRequestWithContext(ctx, http.MethodDelete, lu.String(), nil); err == nil {
				if r, err := client.Do(del); err == nil {
					r.Body.Close()
				}
			}
		}
	}
	return nil
}
