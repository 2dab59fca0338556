package verifier_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/hallmark-dev/hallmark/verifier"
)

const artifactHex = "3333333333333333333333333333333333333333333333333333333333333333"

func acmePolicy() *verifier.Policy {
	return &verifier.Policy{
		Issuers: []string{verifier.GitHubIssuer},
		Builders: []verifier.TrustedBuilder{{
			Name: "acme-build", Signer: "glob:https://github.com/acme/build/.github/workflows/build.yml@refs/tags/v*", MaxLevel: 3,
		}},
		Source:             "github.com/acme/app",
		SourceVersionedTag: "v1.2",
	}
}

func intp(n int) *int { return &n }

// TestHostileInputs feeds the verifier forged, swapped and mismatched
// bundles and checks each is rejected by the check that should catch it.
func TestHostileInputs(t *testing.T) {
	ss := newTestSigstore(t)
	f := defaultFacts()
	good := ss.sign(t, ss.fulcio, f, ghStatement(t, f, artifactHex, nil))
	other := ss.sign(t, ss.fulcio, f, ghStatement(t, f, strings.Repeat("4", 64), nil))
	later := func() time.Time { return time.Now().Add(time.Hour) }
	expired := ss.sign(t, ss.fulcio, func() ghFacts {
		g := f
		g.notBefore, g.notAfter = time.Now().Add(-time.Hour), time.Now().Add(-50*time.Minute)
		return g
	}(), ghStatement(t, f, artifactHex, nil))

	tsaOnly := acmePolicy()
	tsaOnly.Thresholds = verifier.Thresholds{TransparencyLog: intp(0), SignedTimestamps: intp(1)}

	withFacts := func(edit func(*ghFacts)) ghFacts { g := f; edit(&g); return g }
	dispatched := withFacts(func(g *ghFacts) { g.trigger = "workflow_dispatch" })
	signWith := func(g ghFacts, edit func(map[string]any)) *bundle.Bundle {
		return ss.sign(t, ss.fulcio, g, ghStatement(t, g, artifactHex, edit)).bundle(t)
	}
	rebuild := func(base *signed, edit func(*signed)) *bundle.Bundle {
		c := *base
		edit(&c)
		return c.bundle(t)
	}

	cases := []struct {
		name    string
		bundle  *bundle.Bundle
		policy  *verifier.Policy
		opts    []verifier.Option
		digest  string
		trusted func() *testSigstore
		err     error
		check   verifier.Check
	}{
		{name: "baseline verifies", bundle: good.bundle(t)},
		{name: "payload edited after signing", bundle: rebuild(good, func(s *signed) {
			s.payload = []byte(strings.Replace(string(s.payload), "acme/app", "acme/evil", 1))
		}), err: nil, check: verifier.CheckTlog},
		{name: "payload edited after signing, timestamp only", policy: tsaOnly, bundle: rebuild(good, func(s *signed) {
			s.payload = []byte(strings.Replace(string(s.payload), "acme/app", "acme/evil", 1))
			s.tlog = nil
		}), check: verifier.CheckSignature},
		{name: "envelope swapped between bundles", bundle: rebuild(good, func(s *signed) {
			s.payload, s.sig = other.payload, other.sig
		}), check: verifier.CheckTlog},
		{name: "tlog entry of another payload", bundle: rebuild(good, func(s *signed) { s.tlog = other.tlog }), check: verifier.CheckTlog},
		{name: "no tlog entry", bundle: rebuild(good, func(s *signed) { s.tlog = nil }), check: verifier.CheckTlog},
		{name: "wrong subject digest", bundle: good.bundle(t), digest: strings.Repeat("5", 64), err: verifier.ErrSubjectMismatch, check: verifier.CheckSubject},
		{name: "certificate from another CA", bundle: ss.sign(t, newTestCA(t), f, ghStatement(t, f, artifactHex, nil)).bundle(t), check: verifier.CheckSignature},
		{name: "wrong issuer", bundle: signWith(withFacts(func(g *ghFacts) { g.issuer = "https://issuer.evil.example" }), nil), err: verifier.ErrIssuer, check: verifier.CheckIdentity},
		{name: "expired certificate without a timestamp", policy: tsaOnly, bundle: rebuild(ss.sign(t, ss.fulcio, withFacts(func(g *ghFacts) {
			g.notBefore, g.notAfter = time.Now().Add(-time.Hour), time.Now().Add(-50*time.Minute)
		}), ghStatement(t, f, artifactHex, nil)), func(s *signed) { s.tlog, s.timestamp = nil, nil }), check: verifier.CheckTimestamp},
		{name: "certificate expired at log time", bundle: expired.bundle(t), check: verifier.CheckTlog},
		{name: "certificate expired at timestamp time", policy: tsaOnly, bundle: rebuild(expired, func(s *signed) { s.tlog = nil }), check: verifier.CheckSignature},
		{name: "SCT required by a root with CT logs", bundle: good.bundle(t), trusted: func() *testSigstore { c := *ss; c.withCTLog = true; return &c }, check: verifier.CheckSignature},
		{name: "SCT requirement lifted by policy", bundle: good.bundle(t), trusted: func() *testSigstore { c := *ss; c.withCTLog = true; return &c }, policy: func() *verifier.Policy { p := acmePolicy(); p.Thresholds.SCTs = intp(0); return p }()},
		{name: "timestamp in the future of the clock", bundle: good.bundle(t), opts: []verifier.Option{verifier.WithClock(func() time.Time { return time.Now().Add(-time.Hour) })}, err: verifier.ErrFutureTimestamp, check: verifier.CheckTimestamp},
		{name: "predicate type verification summary", bundle: signWith(f, func(st map[string]any) { st["predicateType"] = "https://slsa.dev/verification_summary/v1" }), err: verifier.ErrPredicateType, check: verifier.CheckPredicateType},
		{name: "predicate type v0.2 over a v1 predicate", bundle: signWith(f, func(st map[string]any) { st["predicateType"] = verifier.PredicateSLSAv02 }), err: verifier.ErrMalformed, check: verifier.CheckStatement},
		{name: "duplicate signatures", bundle: func() *bundle.Bundle {
			b := good.bundle(t)
			sigs := b.GetDsseEnvelope().Signatures
			b.GetDsseEnvelope().Signatures = append(sigs, sigs[0])
			return b
		}(), err: verifier.ErrSignatureCount, check: verifier.CheckInput},
		{name: "extra signature of another key", bundle: func() *bundle.Bundle {
			b := good.bundle(t)
			env := b.GetDsseEnvelope()
			env.Signatures = append(env.Signatures, other.bundle(t).GetDsseEnvelope().Signatures[0])
			return b
		}(), err: verifier.ErrSignatureCount, check: verifier.CheckInput},
		{name: "more subjects than the limit", bundle: signWith(f, func(st map[string]any) {
			s := st["subject"].([]any)
			st["subject"] = append(s, s[0], s[0])
		}), opts: []verifier.Option{verifier.WithMaxSubjects(2)}, err: verifier.ErrTooManySubjects, check: verifier.CheckSubject},
		{name: "forged builder id", bundle: signWith(f, func(st map[string]any) {
			pred(st, "runDetails", "builder")["id"] = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0"
		}), err: verifier.ErrPayloadCertificateMismatch, check: verifier.CheckPayloadMatchesCertificate},
		{name: "forged source commit", bundle: signWith(f, func(st map[string]any) {
			pred(st, "buildDefinition")["resolvedDependencies"] = []any{map[string]any{"uri": "git+" + f.repo + "@" + f.ref, "digest": map[string]any{"gitCommit": strings.Repeat("6", 40)}}}
		}), err: verifier.ErrPayloadCertificateMismatch, check: verifier.CheckPayloadMatchesCertificate},
		{name: "forged workflow path", bundle: signWith(f, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters", "workflow")["path"] = ".github/workflows/other.yml"
		}), err: verifier.ErrPayloadCertificateMismatch, check: verifier.CheckPayloadMatchesCertificate},
		{name: "forged invocation id", bundle: signWith(f, func(st map[string]any) {
			pred(st, "runDetails", "metadata")["invocationId"] = "https://github.com/acme/app/actions/runs/1/attempts/1"
		}), err: verifier.ErrPayloadCertificateMismatch, check: verifier.CheckPayloadMatchesCertificate},
		{name: "forged runner environment", bundle: signWith(withFacts(func(g *ghFacts) { g.runner = "self-hosted" }), func(st map[string]any) {
			pred(st, "buildDefinition", "internalParameters", "github")["runner_environment"] = "github-hosted"
		}), err: verifier.ErrPayloadCertificateMismatch, check: verifier.CheckPayloadMatchesCertificate},
		{name: "untrusted signer workflow", bundle: signWith(withFacts(func(g *ghFacts) {
			g.signer = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3"
		}), nil), err: verifier.ErrUntrustedBuilder, check: verifier.CheckBuilder},
		{name: "self-hosted runner denied", bundle: signWith(withFacts(func(g *ghFacts) { g.runner = "self-hosted" }), nil), policy: func() *verifier.Policy { p := acmePolicy(); p.DenySelfHostedRunners = true; return p }(), err: verifier.ErrSelfHostedRunner, check: verifier.CheckIdentity},
		{name: "self-hosted runner below min level", bundle: signWith(withFacts(func(g *ghFacts) { g.runner = "self-hosted" }), nil), policy: func() *verifier.Policy { p := acmePolicy(); p.MinLevel = 2; return p }(), err: verifier.ErrLevelTooLow, check: verifier.CheckBuilder},
		{name: "wrong source", bundle: good.bundle(t), policy: func() *verifier.Policy { p := acmePolicy(); p.Source = "github.com/acme/other"; return p }(), err: verifier.ErrSourceMismatch, check: verifier.CheckSource},
		{name: "wrong build type", bundle: good.bundle(t), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.BuildTypes = []string{"https://example.com/other"}
			return p
		}(), err: verifier.ErrBuildType, check: verifier.CheckBuildType},
		{name: "unknown external parameter, strict", bundle: signWith(f, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters")["debug"] = true
		}), policy: func() *verifier.Policy { p := acmePolicy(); p.StrictExternalParameters = true; return p }(), err: verifier.ErrUnknownExternalParameter, check: verifier.CheckExternalParameters},
		{name: "unknown external parameter, lenient", bundle: signWith(f, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters")["debug"] = true
		})},
		{name: "unknown workflow input, strict", bundle: signWith(dispatched, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters")["inputs"] = map[string]any{"version": "1.2.3", "extra": "x"}
		}), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.StrictExternalParameters, p.WorkflowInputs = true, map[string]string{"version": "1.2.3"}
			return p
		}(), err: verifier.ErrUnknownExternalParameter, check: verifier.CheckExternalParameters},
		{name: "workflow input mismatch", bundle: signWith(dispatched, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters")["inputs"] = map[string]any{"version": "1.2.4"}
		}), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.WorkflowInputs = map[string]string{"version": "1.2.3"}
			return p
		}(), err: verifier.ErrWorkflowInput, check: verifier.CheckExternalParameters},
		{name: "expected external parameter differs", bundle: signWith(f, func(st map[string]any) {
			pred(st, "buildDefinition", "externalParameters")["debug"] = true
		}), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.ExternalParameters = map[string]any{"debug": false}
			return p
		}(), err: verifier.ErrExternalParameter, check: verifier.CheckExternalParameters},
		{name: "policy expression false", bundle: good.bundle(t), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.Expressions = []string{`statement.predicate.runDetails.metadata.invocationId.endsWith("/attempts/2")`}
			return p
		}(), err: verifier.ErrExpressionFalse, check: verifier.CheckPolicyExpression},
		{name: "policy expression true", bundle: good.bundle(t), policy: func() *verifier.Policy {
			p := acmePolicy()
			p.Expressions = []string{`statement.subject.size() == 1`, `statement.predicate.buildDefinition.externalParameters.workflow.path == ".github/workflows/release.yml"`}
			return p
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.policy
			if p == nil {
				p = acmePolicy()
			}
			tm := ss
			if tc.trusted != nil {
				tm = tc.trusted()
			}
			opts := append([]verifier.Option{verifier.WithClock(later)}, tc.opts...)
			v, err := verifier.New(tm, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			digest := tc.digest
			if digest == "" {
				digest = artifactHex
			}
			res, err := v.Verify(tc.bundle, verifier.MustParseDigest(digest))
			if tc.check == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if res.Level != 3 || res.Identity.Extensions.SourceRepositoryURI != "https://github.com/acme/app" || len(res.Timestamps) == 0 {
					t.Errorf("unexpected result %+v", res)
				}
				return
			}
			wantErr := tc.err
			assertCheck(t, res, err, wantErr, tc.check)
		})
	}
}

// assertCheck is assertVerdict for cases that may name only the check.
func assertCheck(t *testing.T, res *verifier.Result, err, wantErr error, check verifier.Check) {
	t.Helper()
	if wantErr != nil {
		assertVerdict(t, res, err, wantErr, check)
		return
	}
	assertVerdict(t, res, err, err, check)
	if err == nil {
		t.Fatalf("want %s failure, got success", check)
	}
}
