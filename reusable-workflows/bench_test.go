package workflows_test

import (
	"os"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

// BenchmarkAttestActionUnderAct measures, under act, the attest action's
// wall time from its first step to the bundle written (act's duration of
// the composite step), with a prebuilt release binary served locally and
// with the build-from-source fallback. Run with -benchtime=1x:
//
//	go test -run '^$' -bench AttestActionUnderAct -benchtime=1x ./reusable-workflows
func BenchmarkAttestActionUnderAct(b *testing.B) {
	sb := sandboxtest.Start(b)
	bin := sandboxtest.Binary(b)
	pol := policy(sb.IssuerURL)
	trusted, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"prebuilt", "source"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				caller, sha := newCaller(b, "examples/generic.yml", map[string]string{
					".github/hallmark-policy.yaml": pol,
					".github/trusted_root.json":    string(trusted),
				})
				env := map[string]string{}
				repo := actionRepo(b, "")
				if mode == "prebuilt" {
					repo = actionRepo(b, bin)
					env["HALLMARK_RELEASE_BASE_URL"] = releaseServer(b, bin)
				}
				b.StartTimer()
				jobWorkflow, _ := hallmarkWorkflow("generic.yml")
				run := runAct(b, sb, caller, sha, actCase{workflow: "generic.yml", jobWorkflow: jobWorkflow, env: env}, repo)
				b.ReportMetric(run.ActionTime.Seconds(), "action-s")
			}
		})
	}
}
