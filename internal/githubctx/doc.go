// Package githubctx is GitHub mode's front end: it reads the facts of a
// GitHub Actions run and hands them to
// [github.com/hallmark-dev/hallmark/internal/provenance] as a
// [provenance.Build].
//
// The provenance it describes is exactly what GitHub's own
// actions/attest-build-provenance writes, build type [BuildType]:
//
//   - externalParameters.workflow{ref, repository, path}, split from the
//     top-level workflow ref;
//   - internalParameters.github{event_name, repository_id,
//     repository_owner_id, runner_environment};
//   - resolvedDependencies[{uri: "git+SERVER/OWNER/REPO@REF",
//     digest{gitCommit: SHA}}];
//   - runDetails.builder.id = SERVER/JOB_WORKFLOW_REF;
//   - runDetails.metadata.invocationId =
//     SERVER/OWNER/REPO/actions/runs/RUN_ID/attempts/ATTEMPT.
//
// Inside a job, [FromEnv] reads the runner's environment. The job workflow
// ref that names the builder is not in the environment: the caller takes it
// from the job_workflow_ref claim of the job's OIDC token, the only source a
// step cannot forge, and passes it with [Context.With]. Outside GitHub
// Actions, [Explicit] takes the same facts from the caller.
//
//	c, err := githubctx.FromEnv(os.Getenv, os.ReadFile)
//	if err != nil {
//		return err
//	}
//	c, err = c.With(githubctx.Options{JobWorkflowRef: claims.JobWorkflowRef})
//	if err != nil {
//		return err
//	}
//	b, err := c.Build(ctx)
//
// Errors match the sentinels of this package with [errors.Is]; a bad fact is
// a [*FactError] naming it, and missing variables a [*MissingEnvError] listing
// every one.
package githubctx
