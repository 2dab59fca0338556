package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/internal/rekorv1"
	"github.com/hallmark-dev/hallmark/verifier"
)

// rekorURLHelp is --rekor-url's help.
const rekorURLHelp = "Rekor v1 log in which to look up the entry of a bare DSSE envelope (slsa-github-generator up to v2.0.0), e.g. " +
	rekorv1.PublicGoodURL + "; asked only for such files (default: none, and such files are refused offline)"

// rekorURLFlag is --rekor-url: the URL is checked as the flag is parsed,
// before anything is read, and holds the log's client.
type rekorURLFlag struct {
	url    string
	client *rekorv1.Client
}

func (f *rekorURLFlag) String() string { return f.url }
func (f *rekorURLFlag) Type() string   { return "URL" }

func (f *rekorURLFlag) Set(s string) error {
	c, err := rekorv1.New(s, rekorv1.WithUserAgent("hallmark/"+version()))
	if err != nil {
		return err
	}
	f.url, f.client = s, c
	return nil
}

// bareEnvelopeBundles finds, on the Rekor v1 log, the entry of each bare
// DSSE envelope in data and returns the bundles they make, for the same
// verification as any bundle. A log without an entry for an envelope
// gives a verdict (perr), as an unreadable file does; a log that cannot be
// asked gives an error.
func bareEnvelopeBundles(ctx context.Context, c *rekorv1.Client, data []byte, stderr io.Writer) (bundles []*bundle.Bundle, perr, err error) {
	envs, err := rekorv1.ParseEnvelopes(data)
	if err != nil {
		return nil, &verifier.CheckError{Check: verifier.CheckInput, Want: "bare DSSE envelopes with one signature each", Got: "not", Err: err}, nil
	}
	var missing error
	for i, env := range envs {
		found, err := c.Find(ctx, env)
		var ce *verifier.CheckError
		if errors.As(err, &ce) {
			// As with a file of bundles, any envelope may be the one
			// that passes: one without an entry is left out.
			if len(envs) > 1 {
				ce.Got += fmt.Sprintf(" (envelope %d)", i+1)
				fmt.Fprintf(stderr, "rekor: envelope %d: no entry on %s\n", i+1, c.URL())
			}
			if missing == nil {
				missing = ce
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		for _, e := range found {
			fmt.Fprintf(stderr, "rekor: envelope %d: %s on %s\n", i+1, e, c.URL())
			bundles = append(bundles, e.Bundle)
		}
	}
	if len(bundles) == 0 {
		return nil, missing, nil
	}
	return bundles, nil, nil
}
