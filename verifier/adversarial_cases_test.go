package verifier_test

import (
	"crypto/x509"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/proto"

	"github.com/hallmark-dev/hallmark/internal/adversarial"
	"github.com/hallmark-dev/hallmark/verifier"
)

// adversarialCases are the corpus: one case per attack class of the trust
// issue and of the field's published attacks, each beside an honest case
// that passes, so no check passes for want of evidence.
func adversarialCases(g *generator) []genCase {
	gh := func(extra ...string) []string {
		return append([]string{"--source-uri", "github.com/acme/app", "--cert-oidc-issuer", "$ISSUER"}, extra...)
	}
	factory := func(extra ...string) []string {
		return append([]string{"--source-uri", "github.com/team-a/app"}, extra...)
	}
	hallmarkRW := map[string]string{"job_workflow_ref": hallmarkGeneric}
	withRW := func(ref string) map[string]string {
		return map[string]string{"job_workflow_ref": ref}
	}
	attacker := map[string]string{"job_workflow_ref": attackerWorkflow + "@refs/heads/main"}
	c := func(name, class string, expect adversarial.Expect, args ...string) adversarial.Case {
		return adversarial.Case{Name: name, Class: class, Args: args, Expect: expect}
	}
	pass := func(level int) adversarial.Expect { return adversarial.Expect{Level: level} }
	fails := func(check verifier.Check, sentinel, fix string) adversarial.Expect {
		return adversarial.Expect{Check: string(check), Error: sentinel, Fix: fix}
	}
	addDependency := func(st map[string]any) {
		bd := predAt(st, "buildDefinition")
		bd["resolvedDependencies"] = append(bd["resolvedDependencies"].([]any), map[string]any{"uri": "git+https://github.com/evil/lib@refs/heads/main", "digest": map[string]any{"gitCommit": strings.Repeat("e", 40)}})
	}
	const tools = "acme/tools/.github/workflows/build.yml"

	return []genCase{
		// Honest cases: the trust the table in verifier/doc.go gives.
		{Case: c("honest-hallmark-reusable-workflow", "honest", pass(3), gh("--source-versioned-tag", "v1.2")...), claims: hallmarkRW},
		{Case: c("honest-actions-attest-own-workflow", "honest", pass(2), gh()...)},
		{Case: c("honest-signer-workflow-named-at-release-tag", "honest", pass(3), gh("--signer-workflow", tools, "--min-level", "3")...), claims: withRW(tools + "@refs/tags/v2.0.0")},
		{Case: c("honest-builder-id-pinned-at-branch", "honest", pass(3), gh("--builder-id", "https://github.com/"+tools+"@refs/heads/main")...), claims: withRW(tools + "@refs/heads/main")},
		{Case: c("honest-factory-svid", "honest", pass(3), factory("--spiffe-id", factorySPIFFEID)...), svid: "factory"},

		// 1. A builder named without a ref is trusted at release tags only.
		{Case: c("builder-id-without-ref-at-branch", "builder pinned without a ref", fails(verifier.CheckBuilder, "ErrBuilderMismatch", "--builder-id https://github.com/"+tools+"@refs/heads/main"), gh("--builder-id", "https://github.com/"+tools)...), claims: withRW(tools + "@refs/heads/main")},
		{Case: c("builder-id-without-ref-at-pre-release", "builder pinned without a ref", fails(verifier.CheckBuilder, "ErrBuilderMismatch", "pin it"), gh("--builder-id", "https://github.com/"+tools)...), claims: withRW(tools + "@refs/tags/v2.0.0-rc.1")},
		{Case: c("builder-id-of-a-forks-copy", "builder pinned without a ref", fails(verifier.CheckBuilder, "ErrBuilderMismatch", ""), gh("--builder-id", "https://github.com/"+tools)...), claims: withRW("evil/tools/.github/workflows/build.yml@refs/tags/v2.0.0")},

		// 2. A reusable workflow of another repository is not L3 unless
		// named.
		{Case: c("reusable-workflow-of-attacker-is-level-2", "L3 for any reusable workflow", pass(2), gh()...), claims: attacker},
		{Case: c("reusable-workflow-of-attacker-min-level-3", "L3 for any reusable workflow", fails(verifier.CheckBuilder, "ErrLevelTooLow", "--signer-workflow "+attackerWorkflow), gh("--min-level", "3")...), claims: attacker},
		{Case: c("signer-workflow-at-branch-min-level-3", "L3 for any reusable workflow", fails(verifier.CheckBuilder, "ErrLevelTooLow", ""), gh("--signer-workflow", attackerWorkflow, "--min-level", "3")...), claims: attacker},

		// 3. Two readings of one statement.
		{Case: c("duplicate-key", "two readings of one statement", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			raw: func(s string) string {
				return strings.Replace(s, `"buildDefinition":{`, `"buildDefinition":{"buildType":"https://example.com/evil"},"buildDefinition":{`, 1)
			}},
		{Case: c("keys-differing-by-case", "two readings of one statement", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			raw: func(s string) string {
				return strings.Replace(s, `"buildDefinition":{`, `"BuildDefinition":{"buildType":"https://example.com/evil"},"buildDefinition":{`, 1)
			}},
		{Case: c("key-folded-long-s", "two readings of one statement", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			raw: func(s string) string { return strings.Replace(s, `"subject":`, `"ſubject":`, 1) }},
		{Case: c("key-folded-kelvin-sign", "two readings of one statement", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			raw: func(s string) string {
				return strings.Replace(s, `"workflow":{`, `"workflow":{"ref":"refs/tags/v9.9.9"},"wor\u212aflow":{`, 1)
			}},
		{Case: adversarial.Case{Name: "expression-and-checks-read-one-statement", Class: "two readings of one statement", Policy: "policy-expression.yaml",
			Args: []string{"--cert-oidc-issuer", "$ISSUER"}, Expect: fails(verifier.CheckStatement, "ErrMalformed", "")}, claims: hallmarkRW,
			policyBody: "issuers: [\"$ISSUER\"]\nbuilders:\n  - {signer: \"regexp:https://github\\\\.com/hallmark-dev/hallmark/.*\", maxLevel: 3}\nsource: github.com/acme/app\nexpressions:\n  - statement.predicate.buildDefinition.externalParameters.workflow.ref == \"refs/tags/v1.2.3\"\n",
			raw: func(s string) string {
				return strings.Replace(s, `"predicate":{`, `"predicate":{"buildDefinition":{"buildType":"x","externalParameters":{"workflow":{"ref":"refs/tags/v1.2.3"}}},`, 1)
			}},
		{Case: c("protobuf-spelling-of-predicate-type", "two readings of one statement", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) { st["predicate_type"] = "https://example.com/evil" }},

		// 4. An SVID is a builder only when the verifying user names it.
		{Case: c("tenant-svid-bare-trust-domain", "any SVID is a builder", fails(verifier.CheckBuilder, "ErrUntrustedBuilder", "--spiffe-id "+tenantSPIFFEID), factory("--spiffe-id", "spiffe://example.org")...), svid: "tenant"},
		{Case: c("tenant-svid-path-wildcard", "any SVID is a builder", fails(verifier.CheckBuilder, "ErrUntrustedBuilder", ""), factory("--spiffe-id", "spiffe://example.org/ns/*")...), svid: "tenant"},
		{Case: c("tenant-svid-claims-factory-builder", "any SVID is a builder", fails(verifier.CheckPayloadMatchesCertificate, "ErrPayloadCertificateMismatch", ""), factory("--spiffe-id", "spiffe://example.org/ns/*")...), svid: "tenant",
			statement: func(st map[string]any) { predAt(st, "runDetails", "builder")["id"] = factorySPIFFEID }},
		{Case: adversarial.Case{Name: "tenant-svid-policy-trusts-builder-id-only", Class: "any SVID is a builder", Policy: "policy-builder-id-only.yaml",
			Expect: fails(verifier.CheckBuilder, "ErrUntrustedBuilder", "")}, svid: "tenant",
			policyBody: "spiffe:\n  ids: [\"spiffe://example.org/ns/*\"]\nbuilders:\n  - {id: \"regexp:spiffe://example\\\\.org/ns/.*\", maxLevel: 3}\nsource: github.com/team-a/app\n"},
		{Case: c("tenant-svid-factory-id-expected", "any SVID is a builder", fails(verifier.CheckIdentity, "ErrSPIFFEID", ""), factory("--spiffe-id", factorySPIFFEID)...), svid: "tenant"},
		{Case: c("partner-ca-mints-factory-id", "any SVID is a builder", fails(verifier.CheckSignature, "", ""), factory("--spiffe-id", factorySPIFFEID)...), svid: "partner"},

		// Factory tenancy: the source is the factory's verified record, the
		// level the record's, a tenant signer its namespace's.
		{Case: c("factory-source-claimed-not-verified", "a tenant claims another team's source", fails(verifier.CheckSource, "ErrSourceUnverified", ""), factory("--spiffe-id", factorySPIFFEID)...), svid: "factory",
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "internalParameters")[verifier.FactoryRecordKey] = factoryRecord("team-b", false, 1)
			}},
		{Case: c("factory-record-caps-the-level", "a tenant claims another team's source", fails(verifier.CheckBuilder, "ErrLevelTooLow", "not verified"), "--source-uri", "github.com/team-b/app", "--spiffe-id", factorySPIFFEID, "--min-level", "3"), svid: "factory",
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "internalParameters")[verifier.FactoryRecordKey] = factoryRecord("team-b", false, 1)
			}},
		{Case: c("factory-without-record-source", "a tenant claims another team's source", fails(verifier.CheckSource, "ErrSourceMismatch", ""), factory("--spiffe-id", factorySPIFFEID)...), svid: "factory",
			statement: func(st map[string]any) { delete(predAt(st, "buildDefinition"), "internalParameters") }},
		{Case: c("factory-without-record-level", "a tenant claims another team's source", fails(verifier.CheckBuilder, "ErrLevelTooLow", "no factory record"), factory("--spiffe-id", factorySPIFFEID, "--min-level", "3")...), svid: "factory",
			statement: func(st map[string]any) { delete(predAt(st, "buildDefinition"), "internalParameters") }},
		{Case: c("factory-record-of-the-wrong-shape", "a tenant claims another team's source", fails(verifier.CheckStatement, "ErrMalformed", ""), factory("--spiffe-id", factorySPIFFEID)...), svid: "factory",
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "internalParameters", verifier.FactoryRecordKey)["maxLevel"] = "3"
			}},
		{Case: c("honest-factory-tenant-signer", "a tenant claims another team's source", pass(3), factory("--spiffe-id", factorySPIFFEID+"/tenant/team-a")...), svid: "team-a"},
		{Case: c("tenant-signer-of-another-namespace", "a tenant claims another team's source", fails(verifier.CheckPayloadMatchesCertificate, "ErrPayloadCertificateMismatch", ""), factory("--spiffe-id", factorySPIFFEID+"/tenant/team-a")...), svid: "team-a",
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "internalParameters")[verifier.FactoryRecordKey] = factoryRecord("team-b", true, 3)
			}},
		{Case: adversarial.Case{Name: "factory-tenants-refuse-the-namespace", Class: "a tenant claims another team's source", Policy: "policy-factory-tenants.yaml",
			Expect: fails(verifier.CheckSource, "ErrTenant", "")}, svid: "factory",
			policyBody: "spiffe: {ids: [\"" + factorySPIFFEID + "\"]}\nbuilders:\n  - signer: \"" + factorySPIFFEID + "\"\n    maxLevel: 3\n    tenants:\n      - {namespace: team-b, sources: [\"glob:https://github.com/team-b/*\"]}\nsource: github.com/team-a/app\n"},
		{Case: adversarial.Case{Name: "honest-factory-tenants", Class: "a tenant claims another team's source", Policy: "policy-factory-tenants-team-a.yaml",
			Expect: pass(3)}, svid: "factory",
			policyBody: "spiffe: {ids: [\"" + factorySPIFFEID + "\"]}\nbuilders:\n  - signer: \"" + factorySPIFFEID + "\"\n    maxLevel: 3\n    tenants:\n      - {namespace: team-a, sources: [\"glob:https://github.com/team-a/*\"]}\nsource: github.com/team-a/app\n"},

		// 5. The smaller ones.
		{Case: c("workflow-inputs-on-push", "workflow input on a push", fails(verifier.CheckExternalParameters, "ErrWorkflowInput", ""), gh("--build-workflow-input", "channel=stable")...), claims: hallmarkRW,
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "externalParameters")["inputs"] = map[string]any{"channel": "stable"}
			}},
		{Case: c("honest-workflow-inputs-on-dispatch", "workflow input on a push", pass(3), gh("--build-workflow-input", "channel=stable")...),
			claims: map[string]string{"job_workflow_ref": hallmarkGeneric, "event_name": "workflow_dispatch"},
			statement: func(st map[string]any) {
				predAt(st, "buildDefinition", "externalParameters")["inputs"] = map[string]any{"channel": "stable"}
			}},
		{Case: adversarial.Case{Name: "source-branch-from-unverified-base-ref", Class: "source branch read from an unverified base_ref", Policy: "policy-own-workflow-level-2.yaml",
			Args: []string{"--cert-oidc-issuer", "$ISSUER", "--source-branch", "main"}, Expect: fails(verifier.CheckRef, "ErrRefKind", "--source-tag")},
			policyBody: "issuers: [\"$ISSUER\"]\nbuilders:\n  - {signer: \"glob:https://github.com/acme/app/.github/workflows/**\", maxLevel: 2}\nsource: github.com/acme/app\n",
			from: func(c map[string]string) map[string]any {
				return generatorV02Statement(c, map[string]any{"github_event_name": "push", "github_base_ref": "refs/heads/main"})
			}},
		{Case: c("signer-workflow-for-an-svid", "a flag ignored for an SVID", fails(verifier.CheckIdentity, "ErrNotApplicable", "drop identity.signerWorkflow"), factory("--spiffe-id", factorySPIFFEID, "--signer-workflow", "acme/app/.github/workflows/release.yml")...), svid: "factory"},
		{Case: c("cert-oidc-issuer-for-an-svid", "a flag ignored for an SVID", fails(verifier.CheckIdentity, "ErrNotApplicable", "--cert-oidc-issuer"), factory("--spiffe-id", factorySPIFFEID, "--cert-oidc-issuer", "$ISSUER")...), svid: "factory"},
		{Case: c("deny-self-hosted-runners-for-an-svid", "a flag ignored for an SVID", fails(verifier.CheckIdentity, "ErrNotApplicable", ""), factory("--spiffe-id", factorySPIFFEID, "--deny-self-hosted-runners")...), svid: "factory"},
		{Case: c("cert-identity-for-an-svid", "a flag ignored for an SVID", fails(verifier.CheckIdentity, "ErrCertificateIdentity", ""), factory("--spiffe-id", factorySPIFFEID, "--cert-identity", "https://github.com/"+hallmarkGeneric)...), svid: "factory"},
		{Case: c("spiffe-id-for-a-github-certificate", "a flag ignored for a GitHub certificate", fails(verifier.CheckIdentity, "ErrNotApplicable", "--spiffe-id"), gh("--spiffe-id", factorySPIFFEID)...), claims: hallmarkRW},
		{Case: adversarial.Case{Name: "cert-identity-narrows-a-policy-file", Class: "an identity flag replaces the policy's", Policy: "policy-identity.yaml",
			Args: []string{"--cert-identity", "https://github.com/" + hallmarkGeneric}, Expect: fails(verifier.CheckIdentity, "ErrCertificateIdentity", "")}, claims: hallmarkRW,
			policyBody: "issuers: [\"$ISSUER\"]\nbuilders:\n  - {signer: \"regexp:https://github\\\\.com/hallmark-dev/hallmark/.*\", maxLevel: 3}\nidentity:\n  san: \"regexp:https://github\\\\.com/acme/tools/.*\"\nsource: github.com/acme/app\n"},
		{Case: adversarial.Case{Name: "spiffe-id-narrows-a-policy-file", Class: "an identity flag replaces the policy's", Policy: "policy-spiffe.yaml", SPIFFEBundle: true,
			Args: []string{"--spiffe-id", factorySPIFFEID}, Expect: fails(verifier.CheckIdentity, "ErrSPIFFEID", "")}, svid: "factory",
			policyBody: "spiffe:\n  ids: [\"spiffe://example.org/ns/ci/sa/default\"]\nbuilders:\n  - {signer: \"" + factorySPIFFEID + "\", maxLevel: 3}\nsource: github.com/team-a/app\n"},
		{Case: c("extra-resolved-dependency", "a second resolved dependency", fails(verifier.CheckPayloadMatchesCertificate, "ErrPayloadCertificateMismatch", ""), gh()...), claims: hallmarkRW, statement: addDependency},
		{Case: c("versioned-tag-other-pre-release", "versioned tag and pre-releases", fails(verifier.CheckRef, "ErrVersionedTagMismatch", ""), gh("--source-versioned-tag", "v1.2.3-rc.1")...),
			claims: map[string]string{"job_workflow_ref": hallmarkGeneric, "ref": "refs/tags/v1.2.3-rc.2"}},
		{Case: c("versioned-tag-major-matches-pre-release", "versioned tag and pre-releases", fails(verifier.CheckRef, "ErrVersionedTagMismatch", ""), gh("--source-versioned-tag", "v1")...),
			claims: map[string]string{"job_workflow_ref": hallmarkGeneric, "ref": "refs/tags/v1.3.0-rc.1"}},
		{Case: c("honest-versioned-tag-exact-pre-release", "versioned tag and pre-releases", pass(3), gh("--source-versioned-tag", "v1.2.3-rc.2")...),
			claims: map[string]string{"job_workflow_ref": hallmarkGeneric, "ref": "refs/tags/v1.2.3-rc.2"}},
		{Case: adversarial.Case{Name: "vsa-without-log-entry", Class: "a VSA without a log entry", VSA: &adversarial.VSA{SAN: "https://github.com/" + hallmarkGeneric, MinLevel: 3},
			Expect: fails(verifier.CheckTlog, "", "")}, claims: hallmarkRW, vsaStatement: true, private: true},
		{Case: adversarial.Case{Name: "honest-vsa", Class: "a VSA without a log entry", VSA: &adversarial.VSA{SAN: "https://github.com/" + hallmarkGeneric, MinLevel: 3},
			Expect: pass(3)}, claims: hallmarkRW, vsaStatement: true},

		// The field's published attack classes.
		{Case: c("self-signed-certificate", "a certificate no trusted root issued", fails(verifier.CheckSignature, "", ""), gh()...), claims: hallmarkRW, selfSigned: true},
		{Case: c("unknown-predicate-type", "predicate-type fail-open", fails(verifier.CheckPredicateType, "ErrPredicateType", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) { st["predicateType"] = "https://example.com/anything/v1" }},
		{Case: c("verification-summary-as-provenance", "predicate-type fail-open", fails(verifier.CheckPredicateType, "ErrPredicateType", ""), gh()...), claims: hallmarkRW, vsaStatement: true},
		{Case: c("v1-type-over-a-v02-predicate", "predicate-type fail-open", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) {
				v02 := generatorV02Statement(claimsOf(hallmarkRW), nil)
				st["predicate"] = v02["predicate"]
			}},
		{Case: c("tlog-entry-of-another-signature", "a log entry not bound to this signature", fails(verifier.CheckTlog, "", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, others map[string]*protobundle.Bundle) {
				other := others["honest-hallmark-reusable-workflow"]
				b.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{proto.Clone(other.VerificationMaterial.TlogEntries[0]).(*protorekor.TransparencyLogEntry)}
			}},
		{Case: c("integrated-time-edited", "an editable integrated time", fails(verifier.CheckTlog, "", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				b.VerificationMaterial.TlogEntries[0].IntegratedTime = 946684800 // 2000-01-01
			}},
		// Rekor v2 signs no integrated time: one written into the bundle,
		// inside the certificate's validity, must not stand in for the
		// timestamp taken away.
		{Case: c("integrated-time-written-without-timestamp", "an editable integrated time", fails(verifier.CheckTimestamp, "", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				cert, err := x509.ParseCertificate(b.VerificationMaterial.GetCertificate().GetRawBytes())
				if err != nil {
					panic(err)
				}
				b.VerificationMaterial.TlogEntries[0].IntegratedTime = cert.NotBefore.Add(time.Minute).Unix()
				b.VerificationMaterial.TimestampVerificationData = nil
			}},
		{Case: c("timestamp-over-other-bytes", "a timestamp over other bytes", fails(verifier.CheckTimestamp, "", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, others map[string]*protobundle.Bundle) {
				b.VerificationMaterial.TimestampVerificationData = proto.Clone(others["honest-hallmark-reusable-workflow"].VerificationMaterial.TimestampVerificationData).(*protobundle.TimestampVerificationData)
			}},
		{Case: c("two-signatures-same-key", "several signatures in one envelope", fails(verifier.CheckInput, "ErrSignatureCount", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				env := envelopeOf(b)
				env.Signatures = append(env.Signatures, proto.Clone(env.Signatures[0]).(*protodsse.Signature))
			}},
		{Case: c("two-signatures-other-key", "several signatures in one envelope", fails(verifier.CheckInput, "ErrSignatureCount", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, others map[string]*protobundle.Bundle) {
				env := envelopeOf(b)
				env.Signatures = append([]*protodsse.Signature{proto.Clone(envelopeOf(others["honest-hallmark-reusable-workflow"]).Signatures[0]).(*protodsse.Signature)}, env.Signatures...)
			}},
		{Case: c("subject-sha1-only", "digest-algorithm confusion", fails(verifier.CheckSubject, "ErrWeakDigest", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) { st["subject"] = subjectOf("sha1") }},
		{Case: c("subject-md5-only", "digest-algorithm confusion", fails(verifier.CheckSubject, "ErrWeakDigest", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) { st["subject"] = subjectOf("md5") }},
		{Case: c("subject-upper-case-hex", "digest-algorithm confusion", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) {
				st["subject"] = []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha256": strings.ToUpper(artifactDigests()["sha256"])}}}
			}},
		{Case: c("subject-weak-digest-beside-wrong-strong", "digest-algorithm confusion", fails(verifier.CheckSubject, "ErrSubjectMismatch", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) {
				st["subject"] = []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha1": artifactDigests()["sha1"], "sha256": strings.Repeat("ab", 32)}}}
			}},
		{Case: adversarial.Case{Name: "subject-sha512-contradicts-sha256", Class: "digest-algorithm confusion", Args: gh(), Digests: []string{"sha256", "sha512"},
			Expect: fails(verifier.CheckSubject, "ErrSubjectMismatch", "")}, claims: hallmarkRW,
			statement: func(st map[string]any) {
				st["subject"] = []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha256": artifactDigests()["sha256"], "sha512": strings.Repeat("cd", 64)}}}
			}},
		{Case: adversarial.Case{Name: "honest-subject-sha512-only", Class: "digest-algorithm confusion", Args: gh(), Digests: []string{"sha512"}, Expect: pass(3)}, claims: hallmarkRW,
			statement: func(st map[string]any) { st["subject"] = subjectOf("sha512") }},
		{Case: c("subject-name-only", "name-only subjects", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) { st["subject"] = []any{map[string]any{"name": "artifact.txt"}} }},
		{Case: c("subject-name-matches-digest-does-not", "name-only subjects", fails(verifier.CheckSubject, "ErrSubjectMismatch", ""), gh()...), claims: hallmarkRW,
			statement: func(st map[string]any) {
				st["subject"] = []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha256": strings.Repeat("ab", 32)}}}
			}},
		{Case: adversarial.Case{Name: "oversized-bundle", Class: "oversized JSON before the signature", Synthetic: "oversized-bundle", Args: gh(), Expect: fails(verifier.CheckInput, "ErrTooLarge", "")}},
		{Case: adversarial.Case{Name: "deeply-nested-bundle", Class: "deeply nested JSON before the signature", Synthetic: "deeply-nested-bundle", Args: gh(), Expect: fails(verifier.CheckInput, "ErrMalformed", "")}},
		{Case: c("deeply-nested-statement", "deeply nested JSON", fails(verifier.CheckStatement, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			raw: func(s string) string {
				return strings.Replace(s, `"externalParameters":{`, `"externalParameters":{"deep":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+`,`, 1)
			}},
		{Case: c("media-type-downgraded-to-v0.1", "bundle media-type downgrade", fails(verifier.CheckInput, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				b.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"
			}},
		{Case: c("media-type-from-the-future", "bundle media-type downgrade", fails(verifier.CheckInput, "ErrMalformed", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				b.MediaType = "application/vnd.dev.sigstore.bundle.v0.4+json"
			}},
		{Case: c("no-log-entry", "a log entry not bound to this signature", fails(verifier.CheckTlog, "", ""), gh()...), claims: hallmarkRW,
			tamper: func(b *protobundle.Bundle, _ map[string]*protobundle.Bundle) {
				b.VerificationMaterial.TlogEntries = nil
			}},

		// SBOM attestations (attest --sbom): held to the provenance's
		// signer rules, about the artifact, of the type asked for.
		{Case: c("honest-spdx-from-reusable-workflow", "honest", pass(3), gh("--predicate-type", "spdx", "--attestation-expression", denyLog4j)...), claims: hallmarkRW, sbom: "spdx"},
		{Case: c("honest-cyclonedx-from-reusable-workflow", "honest", pass(3), gh("--predicate-type", "cyclonedx")...), claims: hallmarkRW, sbom: "cyclonedx"},
		{Case: c("sbom-from-another-workflow-than-named", "an SBOM nobody vouches for", fails(verifier.CheckIdentity, "ErrCertificateIdentity", ""), gh("--predicate-type", "spdx", "--signer-workflow", "hallmark-dev/hallmark/.github/workflows/generic.yml")...), claims: attacker, sbom: "spdx"},
		{Case: c("sbom-from-attacker-min-level-3", "an SBOM nobody vouches for", fails(verifier.CheckBuilder, "ErrLevelTooLow", ""), gh("--predicate-type", "spdx", "--min-level", "3")...), claims: attacker, sbom: "spdx"},
		{Case: c("sbom-about-another-artifact", "an SBOM nobody vouches for", fails(verifier.CheckSubject, "ErrSubjectMismatch", ""), gh("--predicate-type", "spdx")...), claims: hallmarkRW, sbom: "spdx",
			statement: func(st map[string]any) {
				st["subject"] = []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha256": strings.Repeat("ab", 32)}}}
			}},
		{Case: c("sbom-type-over-no-sbom", "an SBOM nobody vouches for", fails(verifier.CheckStatement, "ErrMalformed", ""), gh("--predicate-type", "spdx")...), claims: hallmarkRW, sbom: "spdx",
			statement: func(st map[string]any) { st["predicate"] = githubStatement(claimsOf(hallmarkRW))["predicate"] }},
		{Case: c("sbom-with-a-denied-package", "an SBOM nobody vouches for", fails(verifier.CheckPolicyExpression, "", ""), gh("--predicate-type", "spdx", "--attestation-expression", denyLog4j)...), claims: hallmarkRW,
			from: func(map[string]string) map[string]any { return corpusSBOM("spdx", "hallmark-corpus-lib", "log4j-core") }},
		{Case: c("provenance-verified-as-sbom", "predicate-type fail-open", fails(verifier.CheckPredicateType, "ErrPredicateType", ""), gh("--predicate-type", "spdx")...), claims: hallmarkRW},
		{Case: c("sbom-verified-as-provenance", "predicate-type fail-open", fails(verifier.CheckPredicateType, "ErrPredicateType", ""), gh()...), claims: hallmarkRW, sbom: "spdx"},
		{Case: c("summary-verified-as-sbom", "predicate-type fail-open", fails(verifier.CheckPredicateType, "ErrPredicateType", ""), gh("--predicate-type", "spdx")...), claims: hallmarkRW, vsaStatement: true},

		// An SBOM the policy requires beside the provenance
		// (attestations.require) is the provenance signer's, about the
		// artifact; nothing else stands in for it.
		{Case: adversarial.Case{Name: "honest-provenance-with-required-sbom", Class: "a required SBOM from elsewhere", Policy: "policy-require-spdx.yaml",
			Args: []string{"--cert-oidc-issuer", "$ISSUER"}, Expect: pass(3)}, claims: hallmarkRW, attestations: []string{"honest-spdx-from-reusable-workflow"},
			policyBody: "issuers: [\"$ISSUER\"]\nbuilders:\n  - {signer: \"regexp:https://github\\\\.com/hallmark-dev/hallmark/.*\", maxLevel: 3}\nsource: github.com/acme/app\nattestations:\n  require: [\"" + verifier.PredicateSPDX + "\"]\n"},
		requireSPDX("required-sbom-missing", fails(verifier.CheckAttestation, "ErrMissingAttestation", "--attestation-path"), hallmarkRW),
		requireSPDX("required-sbom-from-another-signer", fails(verifier.CheckBuilder, "ErrUntrustedBuilder", "sign it in the same build"), hallmarkRW, "sbom-from-attacker-min-level-3"),
		requireSPDX("required-sbom-about-another-artifact", fails(verifier.CheckSubject, "ErrSubjectMismatch", ""), hallmarkRW, "sbom-about-another-artifact"),
		requireSPDX("required-sbom-replaced-by-a-summary", fails(verifier.CheckAttestation, "ErrMissingAttestation", ""), hallmarkRW, "summary-verified-as-sbom"),
		requireSPDX("required-sbom-replaced-by-cyclonedx", fails(verifier.CheckAttestation, "ErrMissingAttestation", ""), hallmarkRW, "honest-cyclonedx-from-reusable-workflow"),
	}
}

// denyLog4j is a policy condition over an SPDX SBOM: no log4j-core.
const denyLog4j = `!statement.predicate.packages.exists(p, p.name == "log4j-core")`

// requireSPDX is a case of provenance signed with claims, verified under
// policy-require-spdx.yaml with the bundles of the cases named beside it.
func requireSPDX(name string, expect adversarial.Expect, claims map[string]string, attestations ...string) genCase {
	return genCase{Case: adversarial.Case{Name: name, Class: "a required SBOM from elsewhere", Policy: "policy-require-spdx.yaml",
		Args: []string{"--cert-oidc-issuer", "$ISSUER"}, Expect: expect}, claims: claims, attestations: attestations}
}
