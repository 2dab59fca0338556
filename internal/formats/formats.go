// Package formats names, once, the in-toto, SLSA and Sigstore formats
// Hallmark writes and reads: statement types, predicate types, the DSSE
// payload type and the bundle media types. The verifier's exported
// constants and every producer take their values from here.
package formats

import intoto "github.com/in-toto/attestation/go/v1"

// in-toto statements and their DSSE envelopes.
const (
	// StatementTypeV1 is the _type of an in-toto Statement v1.
	StatementTypeV1 = intoto.StatementTypeUri
	// StatementTypeV01 is the _type of an in-toto Statement v0.1 (older
	// slsa-github-generator and cosign attestations).
	StatementTypeV01 = "https://in-toto.io/Statement/v0.1"
	// PayloadTypeInToto is the DSSE payloadType of an in-toto statement.
	PayloadTypeInToto = "application/vnd.in-toto+json"
)

// SLSA predicate types.
const (
	// PredicateSLSAProvenanceV1 is the predicateType of SLSA provenance v1.0.
	PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// PredicateSLSAProvenanceV02 is the predicateType of SLSA provenance v0.2.
	PredicateSLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
	// PredicateVSAV1 is the predicateType of a SLSA verification summary
	// attestation v1.
	PredicateVSAV1 = "https://slsa.dev/verification_summary/v1"
)

// Sigstore bundle media types.
const (
	// BundleMediaTypeV03 is the media type of a Sigstore bundle v0.3, the
	// one Hallmark writes; it is also the artifactType of an attestation
	// in an OCI registry.
	BundleMediaTypeV03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// BundleMediaTypeV02 and BundleMediaTypeV01 are the older bundles'
	// media types, which Hallmark reads.
	BundleMediaTypeV02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
	BundleMediaTypeV01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
	// BundleMediaTypePrefix begins every bundle media type.
	BundleMediaTypePrefix = "application/vnd.dev.sigstore.bundle"
)
