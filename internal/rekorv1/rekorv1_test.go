package rekorv1_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/hallmark-dev/hallmark/internal/rekorv1"
	"github.com/hallmark-dev/hallmark/internal/rekorv1/rekorv1test"
	"github.com/hallmark-dev/hallmark/internal/sandbox"
	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/verifier"
)

func TestMain(m *testing.M) { rekorv1test.Main(m) }

// The artifact the provenance is about.
const artifact = "hallmark rekor v1 test artifact\n"

// generatorWorkflow is slsa-github-generator's generic generator at
// v2.0.0, the last release that wrote bare envelopes.
const generatorWorkflow = "slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0"

// claims are the GitHub token claims of a release of acme/app made with
// the generic generator.
func claims() map[string]string {
	return map[string]string{
		"repository": "acme/app", "ref": "refs/tags/v1.2.3", "sha": "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
		"workflow": "release", "event_name": "push", "repository_id": "700000001", "repository_owner_id": "700000000",
		"runner_environment": "github-hosted", "run_id": "1000000001", "run_attempt": "1",
		"workflow_ref":     "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
		"job_workflow_ref": generatorWorkflow,
	}
}

// statement is v0.2 provenance as the generic generator wrote it, about
// data, of one run (run tells the statements of several runs apart).
func statement(data string, run ...string) []byte {
	c := claims()
	sum := sha256.Sum256([]byte(data))
	src := "git+https://github.com/" + c["repository"] + "@" + c["ref"]
	st := map[string]any{
		"_type":         verifier.StatementTypeV01,
		"subject":       []any{map[string]any{"name": "artifact.txt", "digest": map[string]any{"sha256": hex.EncodeToString(sum[:])}}},
		"predicateType": verifier.PredicateSLSAv02,
		"predicate": map[string]any{
			"builder":   map[string]any{"id": "https://github.com/" + generatorWorkflow},
			"buildType": verifier.BuildTypeGeneratorGen,
			"invocation": map[string]any{
				"configSource": map[string]any{"uri": src, "digest": map[string]any{"sha1": c["sha"]}, "entryPoint": ".github/workflows/release.yml"},
				"environment":  map[string]any{"github_event_name": c["event_name"], "github_ref": c["ref"], "github_sha1": c["sha"]},
			},
			"materials": []any{map[string]any{"uri": src, "digest": map[string]any{"sha1": c["sha"]}}},
		},
	}
	if len(run) > 0 {
		st["predicate"].(map[string]any)["invocation"].(map[string]any)["parameters"] = map[string]any{"run": run[0]}
	}
	out, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	return out
}

// signed is a DSSE envelope signed with a sandbox Fulcio certificate.
type signed struct {
	payload, sig []byte
	certPEM      []byte
}

// sign signs payload as the generator did: a certificate from the
// sandbox's Fulcio for a GitHub-shaped token, nothing logged.
func sign(t *testing.T, sb *sandbox.Sandbox, payload []byte) signed {
	t.Helper()
	sc, err := root.NewSigningConfigFromPath(sb.SigningConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sb.Token("sigstore", claims())
	if err != nil {
		t.Fatal(err)
	}
	res, err := signer.Sign(t.Context(), payload, signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, IdentityToken: tok, Private: true})
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	env := res.Bundle.GetDsseEnvelope()
	cert := sandboxtest.LeafCert(t, res.Bundle)
	return signed{payload: env.GetPayload(), sig: env.GetSignatures()[0].GetSig(), certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}
}

// envelope is the bare envelope's JSON, with the generator's "cert" field
// when withCert.
func (s signed) envelope(withCert bool) []byte {
	sig := map[string]any{"keyid": "", "sig": base64.StdEncoding.EncodeToString(s.sig)}
	if withCert {
		sig["cert"] = string(s.certPEM)
	}
	out, err := json.Marshal(map[string]any{
		"payloadType": signer.PayloadTypeInToto,
		"payload":     base64.StdEncoding.EncodeToString(s.payload),
		"signatures":  []any{sig},
	})
	if err != nil {
		panic(err)
	}
	return out
}

// policy trusts the generator for level 3, from the sandbox's issuer.
func policy(t *testing.T, sb *sandbox.Sandbox) *verifier.Policy {
	t.Helper()
	p, err := verifier.LoadPolicy([]byte(policyYAML(sb)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func policyYAML(sb *sandbox.Sandbox) string {
	return "issuers: [\"" + sb.IssuerURL + "\"]\nbuilders:\n  - {signer: \"https://github.com/" + generatorWorkflow + "\", maxLevel: 3}\nsource: github.com/acme/app\n"
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFind logs envelopes as every kind slsa-github-generator's releases
// and slsa-verifier know, finds each on the real log with and without the
// certificate in the envelope, and verifies the bundle with the verifier.
func TestFind(t *testing.T) {
	sb := sandboxtest.Start(t)
	log := rekorv1test.Start(t)
	base, err := os.ReadFile(sb.TrustedRootPath())
	if err != nil {
		t.Fatal(err)
	}
	tr, err := verifier.LoadTrustedRoot(log.TrustedRoot(t, base))
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(tr, policy(t, sb))
	if err != nil {
		t.Fatal(err)
	}
	client, err := rekorv1.New(log.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []struct{ kind, version string }{{"intoto", "0.0.2"}, {"dsse", "0.0.1"}, {"intoto", "0.0.1"}} {
		t.Run(kv.kind+"-"+kv.version, func(t *testing.T) {
			s := sign(t, sb, statement(artifact, t.Name()))
			uuid, _ := log.Upload(t, kv.kind, kv.version, s.envelope(true), s.certPEM, s.payload)
			for _, withCert := range []bool{true, false} {
				envs, err := rekorv1.ParseEnvelopes(s.envelope(withCert))
				if err != nil {
					t.Fatal(err)
				}
				found, err := client.Find(t.Context(), envs[0])
				if err != nil {
					t.Fatalf("cert in envelope %v: %v", withCert, err)
				}
				via := rekorv1.ViaIndex
				if withCert {
					via = rekorv1.ViaProposedEntry
				}
				if len(found) != 1 || found[0].Kind != kv.kind || found[0].Version != kv.version || found[0].UUID != uuid[len(uuid)-64:] || found[0].Via != via {
					t.Fatalf("cert in envelope %v: found %v, want the %s v%s entry %s through %s", withCert, found, kv.kind, kv.version, uuid, via)
				}
				res, err := v.Verify(found[0].Bundle, verifier.SHA256([]byte(artifact)))
				if err != nil {
					t.Fatalf("cert in envelope %v: the bundle does not verify: %v", withCert, err)
				}
				if res.Level != 3 || len(res.Timestamps) != 1 || res.Timestamps[0].URI != log.URL {
					t.Fatalf("cert in envelope %v: level %d, timestamps %v; want level 3 and the log's integrated time", withCert, res.Level, res.Timestamps)
				}
			}
		})
	}
}

// TestFindNone: a log that holds no entry for the envelope says so as a
// tlog verification failure naming the log.
func TestFindNone(t *testing.T) {
	sb := sandboxtest.Start(t)
	log := rekorv1test.Start(t)
	client, err := rekorv1.New(log.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := sign(t, sb, statement("never logged\n"))
	for _, withCert := range []bool{true, false} {
		envs, err := rekorv1.ParseEnvelopes(s.envelope(withCert))
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.Find(t.Context(), envs[0])
		var ce *verifier.CheckError
		if !errors.As(err, &ce) || ce.Check != verifier.CheckTlog || !errors.Is(err, rekorv1.ErrNoEntry) {
			t.Fatalf("cert in envelope %v: want a tlog CheckError wrapping ErrNoEntry, got %v", withCert, err)
		}
	}
}
