package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/tufroot"
	"github.com/hallmark-dev/hallmark/verifier"
)

type trustedRootFlags struct {
	tufURL, tufRoot, out, format string
	offline                      bool
	timeout                      time.Duration
}

func newTrustedRootCmd() *cobra.Command {
	var f trustedRootFlags
	cmd := &cobra.Command{
		Use:   "trusted-root [--tuf-url URL --tuf-root ROOT.json] [--offline] [--out FILE]",
		Short: "Fetch a Sigstore trusted root through TUF, verified, and cache it",
		Long: `trusted-root gets the trusted_root.json of a Sigstore instance from its TUF
repository with sigstore-go's TUF client and prints it, or writes it to --out.

By default the repository is the public-good instance's, verified from the
root.json that sigstore-go embeds. For another instance (a private Sigstore,
GitHub's) give --tuf-url and, the first time, --tuf-root: that repository's
initial root.json, obtained out of band. Every metadata file is checked
against the keys the root delegates to, for expiry and for rollback, and the
target against the hash the signed metadata records.

The metadata is cached in $HALLMARK_CACHE/tuf, or hallmark/tuf in the user
cache folder; a failed refresh leaves the cache as it was. --offline reads
the cache only and checks it again (signatures, expiry, the target's hash).

verify-artifact, verify-image and verify-vsa use, when neither --trusted-root
nor $HALLMARK_TRUSTED_ROOT names a file, the trusted root this command last
cached, read offline: they never fetch it themselves.

Exit status: 0 on success; 2 when the repository is unreachable, its metadata
expired or does not verify, or (with --offline) nothing is cached.`,
		Example: `  hallmark trusted-root --out trusted_root.json
  hallmark trusted-root --offline --format json
  hallmark trusted-root --tuf-url https://tuf.example.com --tuf-root root.json --out example-root.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTrustedRoot(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.tufURL, "tuf-url", "", "TUF repository to fetch from (default: the public-good instance's, "+tufroot.PublicGoodURL+")")
	fl.StringVar(&f.tufRoot, "tuf-root", "", "initial root.json of the --tuf-url repository, the trust anchor (needed the first time; later the cached, verified root is used)")
	fl.BoolVar(&f.offline, "offline", false, "fetch nothing: read and check the cached metadata and trusted root")
	fl.StringVar(&f.out, "out", "", "write the trusted root to this file (atomically) instead of standard output")
	fl.StringVar(&f.format, "format", "text", "output format: text, or json for a summary on standard output")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "give up on a repository request after this long")
	return cmd
}

// trustedRootSummary is what --format json prints.
type trustedRootSummary struct {
	Repository             string   `json:"repository"`
	Offline                bool     `json:"offline"`
	RootVersion            int64    `json:"tufRootVersion"`
	Expires                string   `json:"metadataExpires"`
	SHA256                 string   `json:"sha256"`
	Out                    string   `json:"out,omitempty"`
	Cache                  string   `json:"cache"`
	CertificateAuthorities []string `json:"certificateAuthorities"`
	TransparencyLogs       []string `json:"transparencyLogs"`
	TimestampAuthorities   []string `json:"timestampAuthorities"`
}

func runTrustedRoot(ctx context.Context, f trustedRootFlags, stdout, stderr io.Writer) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	if f.offline && f.tufRoot != "" {
		return errors.New("--tuf-root starts a refresh from the network; --offline reads the cache the last refresh verified: give one")
	}
	cache, err := tufroot.DefaultCacheDir()
	if err != nil {
		return err
	}
	o := tufroot.Options{URL: f.tufURL, CacheDir: cache}
	if f.tufRoot != "" {
		if o.Root, err = os.ReadFile(f.tufRoot); err != nil {
			return fmt.Errorf("--tuf-root: %w", err)
		}
	}
	var res *tufroot.Result
	if f.offline {
		res, err = tufroot.Load(o)
	} else {
		if f.timeout <= 0 {
			return fmt.Errorf("--timeout %v: want a positive duration", f.timeout)
		}
		o.HTTPClient = &http.Client{Timeout: f.timeout}
		res, err = tufroot.Fetch(ctx, o)
	}
	if err != nil {
		return trustedRootError(f, err)
	}
	tr, err := verifier.LoadTrustedRoot(res.TrustedRoot)
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := atomicfile.Write(f.out, res.TrustedRoot, 0o644); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(res.TrustedRoot)
	s := trustedRootSummary{
		Repository: res.URL, Offline: f.offline, RootVersion: res.RootVersion,
		Expires: res.Expires.UTC().Format(time.RFC3339), SHA256: hex.EncodeToString(sum[:]),
		Out: f.out, Cache: res.Dir,
		CertificateAuthorities: []string{}, TransparencyLogs: []string{}, TimestampAuthorities: []string{},
	}
	for _, ca := range tr.FulcioCertificateAuthorities() {
		s.CertificateAuthorities = append(s.CertificateAuthorities, authorityName(ca))
	}
	for _, l := range tr.RekorLogs() {
		s.TransparencyLogs = append(s.TransparencyLogs, l.BaseURL)
	}
	for _, ta := range tr.TimestampingAuthorities() {
		s.TimestampAuthorities = append(s.TimestampAuthorities, authorityName(ta))
	}
	switch {
	case f.format == "json":
		return writeJSON(stdout, s)
	case f.out == "":
		if _, err := stdout.Write(res.TrustedRoot); err != nil {
			return err
		}
	}
	what := "fetched"
	if f.offline {
		what = "read from the cache"
	}
	dest := "standard output"
	if f.out != "" {
		dest = f.out
	}
	fmt.Fprintf(stderr, "trusted root of %s %s (TUF root version %d, metadata valid until %s; %d certificate authorities, %d transparency logs, %d timestamp authorities) to %s\n",
		res.URL, what, res.RootVersion, s.Expires, len(s.CertificateAuthorities), len(s.TransparencyLogs), len(s.TimestampAuthorities), dest)
	return nil
}

// authorityName is a CA's or TSA's URI, else its root's subject.
func authorityName(a any) string {
	switch a := a.(type) {
	case *root.FulcioCertificateAuthority:
		return firstNonEmpty(a.URI, a.Root.Subject.String())
	case *root.SigstoreTimestampingAuthority:
		return firstNonEmpty(a.URI, a.Root.Subject.String())
	}
	return fmt.Sprintf("%T", a)
}

// trustedRootError says what to do about a failure.
func trustedRootError(f trustedRootFlags, err error) error {
	switch {
	case errors.Is(err, tufroot.ErrNoCache) && f.offline:
		return fmt.Errorf("%w; run hallmark trusted-root without --offline once, with network access to the repository", err)
	case errors.Is(err, tufroot.ErrNoCache):
		return fmt.Errorf("%w; give --tuf-root", err)
	case errors.Is(err, tufroot.ErrUnreachable):
		return fmt.Errorf("%w; check --tuf-url and the network, or use --offline to read the cache", err)
	case errors.Is(err, tufroot.ErrExpired) && f.offline:
		return fmt.Errorf("%w; run hallmark trusted-root without --offline to refresh it", err)
	case errors.Is(err, tufroot.ErrExpired):
		return fmt.Errorf("%w; try again later, or another mirror with --tuf-url", err)
	case errors.Is(err, tufroot.ErrInvalid) && f.tufRoot != "":
		return fmt.Errorf("%w; is --tuf-root %s the root.json of %s?", err, f.tufRoot, firstNonEmpty(f.tufURL, tufroot.PublicGoodURL))
	}
	return err
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
