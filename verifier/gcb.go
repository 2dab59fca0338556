package verifier

// Google Cloud Build provenance. Cloud Build signs the provenance of the
// images it builds with keys of its attestor in Cloud KMS (no certificate,
// no log entry), and `gcloud artifacts docker images describe IMAGE
// --show-provenance --format json` prints it, wrapped in what Container
// Analysis stores around it. This file reads that output and the
// attestor's public keys; gcbverify.go and gcbclaims.go verify. They
// re-implement what slsa-verifier v2.7.1 does in verifiers/internal/gcb
// (provenance.go, verifier.go, keys/keys.go and slsaprovenance/), which
// does not build against the sigstore-go this module uses; each function
// says which part it follows and where Hallmark is stricter.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
)

// Cloud Build's identifiers.
const (
	// GCBBuilderID is the builder id of Cloud Build's Google-hosted
	// workers, without a version: SLSA v1.0 provenance writes it so, SLSA
	// v0.1 provenance with "@v0.2" or "@v0.3".
	GCBBuilderID = "https://cloudbuild.googleapis.com/GoogleHostedWorker"
	// BuildTypeGCB is the build type of Cloud Build's SLSA v1.0 provenance.
	BuildTypeGCB = "https://cloud.google.com/build/gcb-buildtypes/google-worker/v1"
	// PredicateSLSAv01 is SLSA provenance v0.1, which Cloud Build's
	// GoogleHostedWorker@v0.2 and @v0.3 write.
	PredicateSLSAv01 = "https://slsa.dev/provenance/v0.1"
	// GCBSignerScheme prefixes a Cloud KMS key's resource name where a
	// signer is named (Result.Identity.SAN, a policy entry's signer), as
	// cosign names Cloud KMS keys.
	GCBSignerScheme = "gcpkms://"

	// gcbArgumentsType is the @type of a SLSA v0.1 recipe's arguments: a
	// Cloud Build Build resource.
	gcbArgumentsType = "type.googleapis.com/google.devtools.cloudbuild.v1.Build"
	gcbKeyPrefix     = "projects/verified-builder/locations/"
	// gcbRegionalKey is the rest of a regional attestor key's resource
	// name, after its location.
	gcbRegionalKey = "/keyRings/attestor/cryptoKeys/builtByGCB/cryptoKeyVersions/1"
	// gcbGlobalKeyV01 and gcbGlobalKeyV1 sign DSSE's PAE of SLSA v0.1 and
	// v1.0 provenance (keys.V01GlobalPAEKeyID, keys.V10GlobalPAEKeyID).
	gcbGlobalKeyV01 = gcbKeyPrefix + "global/keyRings/attestor/cryptoKeys/provenanceSigner/cryptoKeyVersions/1"
	gcbGlobalKeyV1  = gcbKeyPrefix + "global/keyRings/attestor/cryptoKeys/google-hosted-worker/cryptoKeyVersions/1"
)

// Limits of Cloud Build input. Real output weighs tens of kilobytes with a
// handful of provenance entries of one to three signatures each.
const (
	// MaxGCBProvenanceSize is the largest gcloud output
	// ParseGCBProvenance accepts, in bytes.
	MaxGCBProvenanceSize = 16 << 20
	// MaxGCBProvenances is the most provenance entries it accepts.
	MaxGCBProvenances = 256
	// MaxGCBSignatures is the most signatures one entry's envelope may
	// carry.
	MaxGCBSignatures = 16
	// maxGCBKeyFile bounds one PEM key file.
	maxGCBKeyFile = 64 << 10
)

var (
	// ErrNoTrustedSignature: no signature of the envelope verifies with a
	// key of the trust material given (slsa-verifier's
	// ErrorNoValidSignature).
	ErrNoTrustedSignature = errors.New("no signature by a trusted key verifies")
	// ErrTextProvenanceMismatch: the human-readable provenance Cloud Build
	// stores beside the signed one says something else (slsa-verifier's
	// ErrorMismatchIntoto).
	ErrTextProvenanceMismatch = errors.New("text provenance differs from the signed provenance")
)

// GCBKeys is trust material for Cloud Build provenance: the public keys of
// Cloud Build's attestor in Cloud KMS, by key resource name. Load them with
// LoadGCBKeys.
type GCBKeys struct {
	byID map[string]gcbKey
}

// gcbKey is one attestor key and what it signs.
type gcbKey struct {
	file string
	pub  *ecdsa.PublicKey
	// pae: the key signs DSSE's pre-authentication encoding; otherwise
	// (the regional builtByGCB keys) the payload itself.
	pae bool
	// predicateType is the provenance the key signs.
	predicateType string
}

var gcbRegion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`) })

// LoadGCBKeys reads Cloud Build attestor public keys (PEM, ECDSA P-256),
// given by file name as slsa-verifier v2.7.1 ships them in
// verifiers/internal/gcb/keys/materials and as `gcloud kms keys versions
// get-public-key 1 --keyring attestor --project verified-builder` writes
// them:
//
//	REGION.key                            builtByGCB in REGION ("global", "us-west2", ...):
//	                                      signs SLSA v0.1 provenance itself
//	global-pae-provenanceSigner_1.key     provenanceSigner: signs DSSE's PAE of SLSA v0.1 provenance
//	global-pae-google-hosted-worker_1.key google-hosted-worker: signs DSSE's PAE of SLSA v1.0 provenance
//
// ".pem" may stand for ".key". Any other name, a key of another type and
// two files for one key are errors: a key Hallmark would not use must not
// look trusted.
func LoadGCBKeys(files map[string][]byte) (*GCBKeys, error) {
	if len(files) == 0 {
		return nil, errors.New("loading cloud build keys: none given")
	}
	k := &GCBKeys{byID: map[string]gcbKey{}}
	for _, name := range sortedKeys(files) {
		stem, ok := strings.CutSuffix(name, ".key")
		if !ok {
			stem, ok = strings.CutSuffix(name, ".pem")
		}
		if !ok {
			return nil, fmt.Errorf("loading cloud build keys: %q: want REGION.key, global-pae-provenanceSigner_1.key or global-pae-google-hosted-worker_1.key", name)
		}
		key := gcbKey{file: name, predicateType: PredicateSLSAv01}
		var id string
		switch {
		case stem == "global-pae-provenanceSigner_1":
			id, key.pae = gcbGlobalKeyV01, true
		case stem == "global-pae-google-hosted-worker_1":
			id, key.pae, key.predicateType = gcbGlobalKeyV1, true, PredicateSLSAv1
		case gcbRegion().MatchString(stem):
			id = gcbKeyPrefix + stem + gcbRegionalKey
		default:
			return nil, fmt.Errorf("loading cloud build keys: %q: want REGION.key (a Cloud KMS location, lowercase), global-pae-provenanceSigner_1.key or global-pae-google-hosted-worker_1.key", name)
		}
		pub, err := parseGCBKey(files[name])
		if err != nil {
			return nil, fmt.Errorf("loading cloud build keys: %s: %w", name, err)
		}
		key.pub = pub
		if other, dup := k.byID[id]; dup {
			return nil, fmt.Errorf("loading cloud build keys: %s and %s are both the key %s", other.file, name, id)
		}
		k.byID[id] = key
	}
	return k, nil
}

// parseGCBKey reads one PEM public key: Cloud KMS's EC_SIGN_P256_SHA256.
func parseGCBKey(data []byte) (*ecdsa.PublicKey, error) {
	if len(data) > maxGCBKeyFile {
		return nil, fmt.Errorf("%d bytes, limit %d: %w", len(data), maxGCBKeyFile, ErrTooLarge)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY")
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("more than one PEM block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("a %T, want an ECDSA P-256 key (Cloud KMS EC_SIGN_P256_SHA256)", k)
	}
	return pub, nil
}

// GCBProvenance is the output of `gcloud artifacts docker images describe
// IMAGE --show-provenance --format json` (slsa-verifier's
// --provenance-path for a Cloud Build image): an image summary and the
// provenance Cloud Build stored for the image, each entry a DSSE envelope
// beside a human-readable copy of its statement. Parse it with
// ParseGCBProvenance; GCBVerifier.Verify verifies it.
type GCBProvenance struct {
	// digest and qualified are image_summary.digest and
	// .fully_qualified_digest.
	digest, qualified string
	entries           []gcbEntry
}

// gcbEntry is one provenance_summary.provenance entry, as read: nothing in
// it is verified yet.
type gcbEntry struct {
	kind, resourceURI string
	// text and textV1 are the human-readable statements: build.intotoStatement
	// (SLSA v0.1, its predicate under "slsaProvenance") and
	// build.inTotoSlsaProvenanceV1; nil when absent.
	text, textV1 map[string]any
	payloadType  string
	payload      []byte
	// payloadErr is why the envelope's payload could not be read.
	payloadErr error
	sigs       []gcbSignature
}

type gcbSignature struct {
	keyID string
	sig   []byte
	// err is why the signature could not be decoded.
	err error
}

// ParseGCBProvenance reads gcloud's output. The JSON is decoded once, by
// the strict decoder statements go through (no duplicate keys, no keys
// equal under case folding, valid UTF-8, bounded nesting), and read by
// exact key; a field of the wrong type is an error, unknown fields of the
// unsigned wrapper are ignored. An entry whose payload or signature does
// not decode is kept and fails verification on its own, as slsa-verifier
// moves on to the next entry or signature. A failure is a *CheckError of
// CheckInput.
func ParseGCBProvenance(data []byte) (*GCBProvenance, error) {
	if len(data) > MaxGCBProvenanceSize {
		return nil, fail(CheckInput, fmt.Sprintf("Cloud Build provenance of at most %d bytes", MaxGCBProvenanceSize), fmt.Sprintf("%d bytes", len(data)), ErrTooLarge)
	}
	malformed := func(err error) error {
		return fail(CheckInput, "gcloud's JSON description of an image with its Cloud Build provenance (--show-provenance --format json)", "one that does not parse", fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	v, err := decodeStrict(data)
	if err != nil {
		return nil, malformed(err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, malformed(errors.New("not a JSON object"))
	}
	r := &reader{}
	p := &GCBProvenance{}
	sum := r.obj(doc, "", "image_summary")
	p.digest = r.str(sum, "image_summary", "digest")
	p.qualified = r.str(sum, "image_summary", "fully_qualified_digest")
	list := r.arr(r.obj(doc, "", "provenance_summary"), "provenance_summary", "provenance")
	if r.err != nil {
		return nil, malformed(r.err)
	}
	if len(list) == 0 {
		return nil, malformed(errors.New("provenance_summary.provenance lists no provenance"))
	}
	if len(list) > MaxGCBProvenances {
		return nil, fail(CheckInput, fmt.Sprintf("at most %d provenance entries", MaxGCBProvenances), fmt.Sprint(len(list)), ErrTooLarge)
	}
	for i, item := range list {
		path := fmt.Sprintf("provenance_summary.provenance[%d]", i)
		o := r.asObject(item, path)
		e := gcbEntry{kind: r.str(o, path, "kind"), resourceURI: r.str(o, path, "resourceUri")}
		build := r.obj(o, path, "build")
		e.text = r.obj(build, path+".build", "intotoStatement")
		e.textV1 = r.obj(build, path+".build", "inTotoSlsaProvenanceV1")
		env := r.obj(o, path, "envelope")
		envPath := path + ".envelope"
		e.payloadType = r.str(env, envPath, "payloadType")
		payload := r.str(env, envPath, "payload")
		sigs := r.arr(env, envPath, "signatures")
		if r.err != nil {
			return nil, malformed(r.err)
		}
		if len(sigs) > MaxGCBSignatures {
			return nil, fail(CheckInput, fmt.Sprintf("at most %d signatures per envelope", MaxGCBSignatures), fmt.Sprintf("%d (%s)", len(sigs), envPath), ErrTooLarge)
		}
		// slsa-verifier's utils.PayloadFromEnvelope: standard base64, not
		// empty.
		if e.payload, err = base64.StdEncoding.DecodeString(payload); err != nil {
			e.payloadErr = fmt.Errorf("payload is not standard base64: %w", err)
		} else if len(e.payload) == 0 {
			e.payloadErr = errors.New("payload is empty")
		}
		for j, s := range sigs {
			sp := fmt.Sprintf("%s.signatures[%d]", envPath, j)
			so := r.asObject(s, sp)
			sig := gcbSignature{keyID: r.str(so, sp, "keyid")}
			sig.sig, sig.err = decodeGCBSignature(r.str(so, sp, "sig"))
			if r.err != nil {
				return nil, malformed(r.err)
			}
			e.sigs = append(e.sigs, sig)
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// decodeGCBSignature decodes a signature in standard or URL-safe base64,
// as slsa-verifier's utils.DecodeSignature does (Cloud Build has written
// both; DSSE allows both).
func decodeGCBSignature(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty signature")
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("signature is neither standard nor URL-safe base64")
	}
	return b, nil
}

// gcbPredicateV01 is the part of Cloud Build's SLSA v0.1 predicate the
// checks read.
type gcbPredicateV01 struct {
	builderID  string
	recipeType string
	arguments  map[string]any
	materials  []resourceDescriptor
}

// gcbStatementKeys are the top-level keys of Cloud Build's v0.1 payload: a
// statement's, and slsaProvenance, a second copy of the predicate.
var gcbStatementKeys = map[string]bool{"_type": true, "subject": true, "predicateType": true, "predicate": true, "slsaProvenance": true}

// parseGCBStatement decodes a Cloud Build payload once, with the strict
// decoder parseStatement uses, and reads it by exact key: the statement
// header and subjects as parseStatement reads them, each subject with a
// sha256 (slsa-verifier's VerifySubjectDigest requires one); a v1.0
// predicate as readV1 reads it, a v0.1 predicate's builder, recipe and
// materials. A v0.1 payload's slsaProvenance must equal its predicate:
// slsa-verifier ignores it, but two copies that differ are two claims.
func parseGCBStatement(payload []byte, maxSubjects int, predicateType string) (*statement, *gcbPredicateV01, error) {
	v, err := decodeStrict(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding statement: %w: %w", ErrMalformed, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("statement is not a JSON object: %w", ErrMalformed)
	}
	r := &reader{}
	st := &statement{doc: doc}
	st.Type = r.str(doc, "", "_type")
	st.PredicateType = r.str(doc, "", "predicateType")
	subjects := r.arr(doc, "", "subject")
	if r.err != nil {
		return nil, nil, r.err
	}
	if st.PredicateType != predicateType {
		// The statement so far, for the error to name its type.
		return st, nil, fmt.Errorf("predicateType %q: %w", st.PredicateType, ErrPredicateType)
	}
	keys := statementKeys
	if predicateType == PredicateSLSAv01 {
		keys = gcbStatementKeys
	}
	for _, k := range sortedKeys(doc) {
		if !keys[k] {
			return nil, nil, fmt.Errorf("statement has an unknown field %q: %w", k, ErrMalformed)
		}
	}
	if st.Type != StatementTypeV1 && st.Type != StatementTypeV01 {
		return nil, nil, fmt.Errorf("statement _type %q: %w", st.Type, ErrMalformed)
	}
	if len(subjects) == 0 {
		return nil, nil, fmt.Errorf("statement has no subject: %w", ErrMalformed)
	}
	if len(subjects) > maxSubjects {
		return nil, nil, fmt.Errorf("%d subjects, limit %d: %w", len(subjects), maxSubjects, ErrTooManySubjects)
	}
	for i, s := range subjects {
		path := fmt.Sprintf("subject[%d]", i)
		o := r.asObject(s, path)
		sub := subject{Name: r.str(o, path, "name"), Digest: r.strMap(o, path, "digest")}
		if r.err != nil {
			return nil, nil, r.err
		}
		if sub.Digest["sha256"] == "" {
			return nil, nil, fmt.Errorf("%s has no sha256 digest: %w", path, ErrMalformed)
		}
		if err := checkDigestSet(path, sub.Digest); err != nil {
			return nil, nil, err
		}
		st.Subject = append(st.Subject, sub)
	}
	pred, present := doc["predicate"]
	if !present {
		return nil, nil, fmt.Errorf("statement has no predicate: %w", ErrMalformed)
	}
	p := r.asObject(pred, "predicate")
	var v01 *gcbPredicateV01
	if predicateType == PredicateSLSAv1 {
		st.v1 = readV1(r, p)
	} else {
		v01 = &gcbPredicateV01{}
		v01.builderID = r.str(r.obj(p, "predicate", "builder"), "predicate.builder", "id")
		recipe := r.obj(p, "predicate", "recipe")
		v01.recipeType = r.str(recipe, "predicate.recipe", "type")
		v01.arguments = r.obj(recipe, "predicate.recipe", "arguments")
		v01.materials = r.descriptors(p, "predicate", "materials")
		r.require(v01.builderID, "predicate.builder.id")
		r.require(v01.recipeType, "predicate.recipe.type")
		if sp, ok := doc["slsaProvenance"]; ok && !reflect.DeepEqual(sp, pred) {
			return nil, nil, fmt.Errorf("slsaProvenance differs from predicate at %s: %w", firstDifference(sp, pred, "predicate"), ErrMalformed)
		}
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return st, v01, nil
}
