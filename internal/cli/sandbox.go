package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/oidc"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/toolcache"
)

const defaultSandboxDir = ".sandbox"

func newSandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a private Sigstore (Fulcio, Rekor v2, TSA) and a GitHub-shaped OIDC issuer on loopback",
		Long: `The sandbox runs the real Sigstore servers on this machine, so the whole
keyless flow (token, certificate, log entry, timestamp, verification) works
without GitHub or the internet.

  hallmark sandbox up                 start it (installs the servers once)
  eval "$(hallmark sandbox env)"      point hallmark and the action at it
  hallmark sandbox token              print a GitHub Actions-shaped ID token
  hallmark sandbox status             check each server
  hallmark sandbox down               stop it`,
	}
	cmd.AddCommand(newSandboxInstallCmd(), newSandboxUpCmd(), newSandboxDownCmd(), newSandboxStatusCmd(),
		newSandboxTokenCmd(), newSandboxEnvCmd(), newSandboxServeIssuerCmd())
	return cmd
}

func addDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "dir", defaultSandboxDir, "sandbox folder (state, trust files, logs)")
}

func addFormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVar(format, "format", "text", "output format: text or json")
}

func checkFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--format %q: want text or json", format)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSandboxInstallCmd() *cobra.Command {
	var cache string
	cmd := &cobra.Command{
		Use:   "install [TOOL...]",
		Short: "Build the sandbox's servers (and, by name, cosign) into the tool cache",
		Long: `Build the servers sandbox up runs into the tool cache, so the first up is
fast. Name tools to install others as well: fulcio, rekor-tiles,
timestamp-authority, cosign, act, actionlint. Already cached tools are
skipped.`,
		Example: `  hallmark sandbox install
  hallmark sandbox install fulcio rekor-tiles timestamp-authority cosign`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cache == "" {
				var err error
				if cache, err = toolcache.DefaultDir(); err != nil {
					return err
				}
			}
			known := map[string]toolcache.Tool{}
			for _, t := range append(append(append([]toolcache.Tool(nil), toolcache.SandboxServers...), toolcache.Cosign), toolcache.GitHubTools...) {
				known[t.Name] = t
			}
			tools := toolcache.SandboxServers
			if len(args) > 0 {
				tools = nil
				for _, a := range args {
					t, ok := known[a]
					if !ok {
						return fmt.Errorf("unknown tool %q: want fulcio, rekor-tiles, timestamp-authority, cosign, act or actionlint", a)
					}
					tools = append(tools, t)
				}
			}
			for _, t := range tools {
				bin, err := t.Ensure(cmd.Context(), cache, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\t%s\n", t.Name, t.Version, bin)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cache, "cache", "", "tool cache folder (default $HALLMARK_CACHE/tools or the user cache folder)")
	return cmd
}

func newSandboxUpCmd() *cobra.Command {
	var dir, format, cache string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the sandbox's servers and write trusted_root.json and signing_config.json",
		Long: `Start Fulcio, Rekor v2, the timestamp authority and the OIDC issuer on free
loopback ports, wait until each answers, and write into --dir:

  trusted_root.json    Sigstore trusted root for exactly these servers (one line:
                       gh attestation verify --custom-trusted-root reads it too)
  signing_config.json  Sigstore signing config (v0.2) listing them
  trusted_root.tsa-only.json    the same without the Rekor log, for verifiers
                       that demand a log entry of every bundle when the root
                       lists a log (gh) and so refuse a timestamp-only bundle
  signing_config.tsa-only.json  the same without Rekor, for signers that
                       cannot write a Rekor v2 entry (cosign v2.6.5)
  fulcio_chain.pem, tsa_chain.pem  the certificate authorities as PEM, for
                       cosign's checks outside a bundle (legacy .att tags):
                       SIGSTORE_ROOT_FILE and --timestamp-certificate-chain
  sandbox.json         state: URLs, pids, logs (used by down and status)
  logs/                one log per server

The servers are built with 'go install' on first use and cached by version
(in $HALLMARK_CACHE/tools, or the user cache folder). Each up starts fresh
keys and certificates. A sandbox already running in --dir is an error; the
leftovers of a crashed one are cleaned up first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			start := time.Now()
			s, err := sandbox.Up(cmd.Context(), dir, sandbox.Options{CacheDir: cache, Progress: cmd.ErrOrStderr(), StartTimeout: timeout})
			if err != nil {
				return err
			}
			if format == "json" {
				return writeJSON(cmd.OutOrStdout(), upSummary(s, time.Since(start)))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sandbox up in %s (%s)\n  trusted root    %s\n  signing config  %s\nNext: eval \"$(hallmark sandbox env --dir %s)\"\n",
				time.Since(start).Round(10*time.Millisecond), s.Dir, s.TrustedRootPath(), s.SigningConfigPath(), dir)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	addFormatFlag(cmd, &format)
	cmd.Flags().StringVar(&cache, "cache", "", "tool cache folder (default $HALLMARK_CACHE/tools or the user cache folder)")
	cmd.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long each server may take to answer")
	return cmd
}

func upSummary(s *sandbox.Sandbox, took time.Duration) map[string]any {
	return map[string]any{
		"dir":           s.Dir,
		"issuer":        s.IssuerURL,
		"fulcio":        s.FulcioURL,
		"rekor":         s.RekorURL,
		"tsa":           s.TSAURL,
		"trustedRoot":   s.TrustedRootPath(),
		"signingConfig": s.SigningConfigPath(),
		"seconds":       took.Seconds(),
	}
}

func newSandboxDownCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the sandbox's servers (trust files and logs stay)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			s, err := sandbox.Down(cmd.Context(), dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sandbox down in %s: stopped %d processes\n", time.Since(start).Round(10*time.Millisecond), len(s.Processes))
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newSandboxStatusCmd() *cobra.Command {
	var dir, format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Report whether each sandbox server runs and answers (exit 1 if any does not)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			s, err := sandbox.Load(dir)
			if err != nil {
				return err
			}
			hs := s.Status(cmd.Context())
			healthy := s.Ready
			for _, h := range hs {
				healthy = healthy && h.Healthy
			}
			if format == "json" {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"dir": s.Dir, "healthy": healthy, "ready": s.Ready, "servers": hs}); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVER\tPID\tSTATE\tURL")
				for _, h := range hs {
					state := "healthy"
					if !h.Healthy {
						state = "DOWN: " + h.Error
					}
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", h.Name, h.PID, state, h.URL)
				}
				tw.Flush()
				if !s.Ready {
					fmt.Fprintln(cmd.OutOrStdout(), "start-up did not finish: run hallmark sandbox up again")
				}
			}
			if !healthy {
				return &ExitError{Code: 1, Err: errors.New("sandbox is not healthy")}
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	addFormatFlag(cmd, &format)
	return cmd
}

func newSandboxTokenCmd() *cobra.Command {
	var dir, audience string
	var claims []string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a GitHub Actions-shaped ID token from the sandbox issuer",
		Long: `Print an ID token signed by the sandbox's issuer, with every claim GitHub's
token service sets. Use it as SIGSTORE_ID_TOKEN or --identity-token.

` + oidc.ClaimsHelp,
		Example: `  hallmark sandbox token --claim repository=acme/app --claim ref=refs/tags/v1.0.0
  hallmark sandbox token --audience other --claim exp=1700000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides, err := oidc.ParseClaimFlags(claims)
			if err != nil {
				return err
			}
			s, err := sandbox.Load(dir)
			if err != nil {
				return err
			}
			tok, err := s.Token(audience, overrides)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&audience, "audience", oidc.DefaultAudience, "aud claim")
	cmd.Flags().StringArrayVar(&claims, "claim", nil, "override a claim: key=value (repeatable)")
	return cmd
}

func newSandboxEnvCmd() *cobra.Command {
	var dir string
	var claims []string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print export lines that point the action and hallmark at the sandbox",
		Long: `Print shell export lines for a job with 'id-token: write' on this sandbox:

  ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN
      the Actions token-request protocol, served by the sandbox issuer; each
      call of env registers a new request token whose ID tokens carry the
      --claim overrides (like one job's token)
  HALLMARK_TRUSTED_ROOT, HALLMARK_SIGNING_CONFIG
      the sandbox's trusted_root.json and signing_config.json

` + oidc.ClaimsHelp,
		Example: `  eval "$(hallmark sandbox env --claim repository=acme/app)"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides, err := oidc.ParseClaimFlags(claims)
			if err != nil {
				return err
			}
			s, err := sandbox.Load(dir)
			if err != nil {
				return err
			}
			env, err := s.ActionsEnv(overrides)
			if err != nil {
				return err
			}
			for _, k := range oidc.SortedKeys(env) {
				fmt.Fprintf(cmd.OutOrStdout(), "export %s=%s\n", k, shellQuote(env[k]))
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringArrayVar(&claims, "claim", nil, "override a claim of the tokens this request token buys: key=value (repeatable)")
	return cmd
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, `'\''`...)
		} else {
			out = append(out, s[i])
		}
	}
	return string(append(out, '\''))
}

// newSandboxServeIssuerCmd runs the issuer in the foreground; sandbox up
// starts it this way, handing it its listening socket.
func newSandboxServeIssuerCmd() *cobra.Command {
	var dir, url, listen string
	var fd int
	cmd := &cobra.Command{
		Use:    "serve-issuer",
		Short:  "Serve the sandbox OIDC issuer in the foreground (sandbox up runs this)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ln net.Listener
			var err error
			switch {
			case fd > 0:
				ln, err = net.FileListener(os.NewFile(uintptr(fd), "listener"))
			case listen != "":
				ln, err = net.Listen("tcp", listen)
			default:
				return errors.New("give --listen-fd or --listen")
			}
			if err != nil {
				return fmt.Errorf("issuer listener: %w", err)
			}
			if url == "" {
				url = "http://" + ln.Addr().String()
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			is := &oidc.Issuer{URL: url, Dir: dir + "/issuer", Log: log}
			srv := &http.Server{Handler: is.Handler(), ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(sctx)
			}()
			log.Info("issuer serving", "url", url)
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultSandboxDir, "sandbox folder")
	cmd.Flags().StringVar(&url, "url", "", "issuer URL (the iss claim)")
	cmd.Flags().IntVar(&fd, "listen-fd", 0, "inherited listening socket")
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on instead of --listen-fd")
	return cmd
}
