package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/signer"
)

// pushFlags are push's flags.
type pushFlags struct {
	subjectImages         []string
	bundlePaths           []string
	pushLegacyTag         bool
	signingConfig         string
	trustedRoot           string
	allowInsecureRegistry bool
	pushDeadline          time.Duration
	timeout               time.Duration
	format                string
}

func newPushCmd() *cobra.Command {
	var f pushFlags
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Attach signed bundles to their images in the registry, without signing again",
		Long: `push attaches Sigstore bundles that attest already signed to the images they
are about, exactly as attest --push-to-registry does: as an OCI 1.1 referrer
(the referrers tag schema on registries without the referrers API) and, with
--push-legacy-tag, under cosign's sha256-HEX.att tag too (with
--signing-config, its timestamp authority timestamps the legacy layer's
envelope, which cosign checks; that spends no log entry).

Use it when attest signed and wrote a bundle but could not push it (attest
prints this command then): pushing again spends no log entry. Each bundle is
pushed to every --subject-image among its subjects, four images at a time;
an image no bundle is about is an error, and one that fails is named and
stops no other. Credentials come from the docker config (docker login, its
credHelpers and credsStore); inside GitHub Actions, $GITHUB_TOKEN logs in to
GitHub's container registry when the config has nothing for it.`,
		Example: `  hallmark push --subject-image ghcr.io/acme/app@sha256:... --bundle-path provenance.sigstore.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPush(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.subjectImages, "subject-image", nil, "image to attach the bundles to, REGISTRY/REPO@sha256:HEX (repeatable)")
	fl.StringArrayVar(&f.bundlePaths, "bundle-path", nil, "Sigstore bundle written by hallmark attest (repeatable)")
	fl.BoolVar(&f.pushLegacyTag, "push-legacy-tag", false, "also push under cosign's legacy tag sha256-HEX.att for older consumers")
	fl.StringVar(&f.signingConfig, "signing-config", "", "with --push-legacy-tag: Sigstore signing_config.json whose timestamp authority timestamps the legacy layer, as cosign wants (without it the layer has no timestamp)")
	fl.StringVar(&f.trustedRoot, "trusted-root", "", "with --signing-config: Sigstore trusted_root.json to check that timestamp with")
	fl.BoolVar(&f.allowInsecureRegistry, "allow-insecure-registry", false, "allow plain HTTP to the registry (local registries)")
	fl.DurationVar(&f.pushDeadline, "push-deadline", attest.DefaultPushDeadline, "deadline of all the pushes, retries included")
	fl.DurationVar(&f.timeout, "timeout", signer.DefaultTimeout, "timeout of each try of a request to the registry")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	return cmd
}

// pushSummary is what push prints with --format json.
type pushSummary struct {
	Pushes []result.Push `json:"pushes"`
}

func runPush(ctx context.Context, f pushFlags, stdout io.Writer) error {
	if err := checkFormat(f.format); err != nil {
		return err
	}
	if len(f.subjectImages) == 0 || len(f.bundlePaths) == 0 {
		return errors.New("push needs --subject-image and --bundle-path")
	}
	records, err := attest.Push(ctx, attest.PushRequest{
		Images: f.subjectImages, BundlePaths: f.bundlePaths,
		LegacyTag: f.pushLegacyTag, SigningConfig: f.signingConfig, TrustedRoot: f.trustedRoot,
		AllowInsecureRegistry: f.allowInsecureRegistry, PushDeadline: f.pushDeadline, Timeout: f.timeout,
	}, nil)
	if err != nil {
		return err
	}
	if f.format == "json" {
		return writeJSON(stdout, pushSummary{Pushes: records})
	}
	for _, r := range records {
		where := r.Via
		if r.Tag != "" {
			where += " " + r.Tag
		}
		fmt.Fprintf(stdout, "pushed %s to %s as %s (%s)", r.Bundle, r.Image, r.Manifest, where)
		if r.LegacyTag != "" {
			fmt.Fprintf(stdout, ", legacy tag %s", r.LegacyTag)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
