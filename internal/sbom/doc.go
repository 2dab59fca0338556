// Package sbom makes SBOM attestations: it reads and checks SBOM documents
// (SPDX 2.x JSON, CycloneDX 1.x JSON) as the verifier reads them, wraps one
// in an in-toto statement about the subjects it describes, and runs
// hallmark-sbom, the generator, to make one for a file, a directory or an
// image.
//
// The generator is its own binary (cmd/hallmark-sbom, built on syft): syft
// links hundreds of packages whose initialisation would slow every hallmark
// command, SBOM or not. This package never imports syft; the generator's
// library is the package scanner below it.
package sbom
