package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/verifier"
)

// newVerifyNpmPackageCmd is slsa-verifier's verify-npm-package: an npm
// tarball against the attestations file the registry serves for it.
func newVerifyNpmPackageCmd() *cobra.Command {
	var f verifyFlags
	var attestationsPath, npmKeys, name, version string
	cmd := &cobra.Command{
		Use:   "verify-npm-package TARBALL --attestations-path FILE --builder-id ID --source-uri URI --trusted-root FILE --npm-keys FILE",
		Short: "Verify an npm package tarball against its SLSA provenance and the registry's publish attestation",
		Long: `verify-npm-package checks an npm package tarball as slsa-verifier's command of
the same name does, offline: the SLSA provenance of the attestations file
through the same checks as verify-artifact, with the tarball's sha512 as its
subject; then that it is of the builder --builder-id names; then the npm
registry's publish attestation, signed by a key of npm's keys.json (--npm-keys)
and logged while that key was valid, for the same tarball and package; then
the package name and version, when given.

The attestations file is what the registry serves at
https://registry.npmjs.org/-/npm/v1/attestations/NAME@VERSION; keys.json is the
registry.npmjs.org/keys.json target of Sigstore's TUF repository. Nothing is
fetched.

--builder-id is required. For the npm CLI (npm publish --provenance) it names
the runner: https://github.com/actions/runner/github-hosted (or, for SLSA v0.2
provenance, https://github.com/actions/runner) or .../self-hosted. A runner is
no trusted builder: the provenance proves SLSA build level 2 on a
GitHub-hosted runner and 1 on a self-hosted one, unless you name the workflow
that signed (--signer-workflow) or a policy does. For a builder on
slsa-github-generator's BYOB framework, such as its Node.js builder, give the
builder's workflow, as for verify-artifact: it is trusted for level 3 at
release tags vX.Y.Z, or at the ref given.

Exit status: 0 when the package passed; 1 when it failed (the line names the
failed check with what was wanted and what was found); 2 on usage errors.`,
		Example: `  curl -o sigstore-2.3.1.json https://registry.npmjs.org/-/npm/v1/attestations/sigstore@2.3.1
  npm pack sigstore@2.3.1
  hallmark verify-npm-package sigstore-2.3.1.tgz --attestations-path sigstore-2.3.1.json \
    --builder-id https://github.com/actions/runner/github-hosted \
    --source-uri github.com/sigstore/sigstore-js --package-name sigstore --package-version 2.3.1 \
    --trusted-root trusted_root.json --npm-keys keys.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attestationsPath == "" {
				return errors.New("--attestations-path is required: the attestations file the registry serves for the package")
			}
			if npmKeys == "" {
				return errors.New("--npm-keys is required: npm's keys.json, the registry.npmjs.org/keys.json target of Sigstore's TUF repository")
			}
			if len(f.spiffeBundles) > 0 || len(f.spiffeIDs) > 0 {
				return errors.New("--spiffe-trust-bundle and --spiffe-id do not apply to npm packages: they are built on GitHub Actions")
			}
			pkg := verifier.NpmPackage{BuilderID: f.builderID, Name: name, Version: version}
			id, err := pkg.PolicyBuilderID()
			if err != nil {
				return err
			}
			// A runner names no builder: the policy is built without it
			// and the npm verifier checks it.
			f.builderID = id
			v, _, _, err := f.newVerifier()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(npmKeys)
			if err != nil {
				return fmt.Errorf("--npm-keys: %w", err)
			}
			keys, err := verifier.LoadNpmKeys(data)
			if err != nil {
				return fmt.Errorf("--npm-keys %s: %w", npmKeys, err)
			}
			nv, err := verifier.NewNpmVerifier(v, keys, pkg)
			if err != nil {
				return err
			}
			data, err = os.ReadFile(attestationsPath)
			if err != nil {
				return fmt.Errorf("--attestations-path: %w", err)
			}
			ds, err := digestFile(args[0], []string{"sha512"})
			if err != nil {
				return err
			}
			var res *verifier.Result
			att, err := verifier.ParseNpmAttestations(data)
			if err == nil {
				var nr *verifier.NpmResult
				if nr, err = nv.Verify(att, ds[0]); err == nil {
					res = nr.Result
				}
			}
			return reportTo(cmd.OutOrStdout(), cmd.ErrOrStderr(), f.format, f.printProvenance, []verdict{newVerdict(args[0], ds[0], res, err)})
		},
	}
	f.register(cmd.Flags())
	fl := cmd.Flags()
	fl.Lookup("builder-id").Usage = "expected builder (required): https://github.com/actions/runner/github-hosted or .../self-hosted for the npm CLI, or a BYOB builder's workflow ID[@REF] (trusted at release tags vX.Y.Z without a ref)"
	for _, name := range []string{"spiffe-trust-bundle", "spiffe-trust-domain", "spiffe-id"} {
		_ = fl.MarkHidden(name)
	}
	fl.StringVar(&attestationsPath, "attestations-path", "", "the package's attestations file, as the registry serves it at /-/npm/v1/attestations/NAME@VERSION (required)")
	fl.StringVar(&npmKeys, "npm-keys", "", "npm's keys.json: the keys the registry signs publish attestations with (required)")
	fl.StringVar(&name, "package-name", "", "expected package name, e.g. @scope/name")
	fl.StringVar(&version, "package-version", "", "expected package version")
	return cmd
}
