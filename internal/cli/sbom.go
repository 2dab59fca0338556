package cli

import (
	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/attest"
	"github.com/hallmark-dev/hallmark/internal/sbom"
)

// sbomFlags are attest's SBOM flags.
type sbomFlags struct {
	generate bool
	formats  []string
	path     string
	source   string
	// generator is the hallmark-sbom to run (sbom.FindGenerator when
	// empty); tests set it.
	generator string
}

func (f *sbomFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&f.generate, "sbom", false, "also make an SBOM of each subject (a file, an archive, an image) with hallmark-sbom and sign it as its own attestation, under the provenance's certificate: BASE[.SUBJECT].FORMAT.sigstore.json")
	fl.StringSliceVar(&f.formats, "sbom-format", nil, "SBOM formats to make: spdx (SPDX 2.3 JSON, predicate https://spdx.dev/Document) and/or cyclonedx (CycloneDX 1.6 JSON, https://cyclonedx.org/bom); default spdx")
	fl.StringVar(&f.path, "sbom-path", "", "attest this SBOM (SPDX 2.x or CycloneDX 1.x JSON) about all the subjects, checked before anything is signed")
	fl.StringVar(&f.source, "sbom-source", "", "make one SBOM of this directory or file about all the subjects, instead of one per subject (implies --sbom)")
}

// request is the attest.SBOM the flags ask for.
func (f sbomFlags) request() attest.SBOM {
	return attest.SBOM{Generate: f.generate, Formats: f.formats, Path: f.path, Source: f.source, Generator: f.generator}
}

// sbomNote names an SBOM bundle's format in attest's text output.
func sbomNote(predicateType string) string {
	if f, ok := sbom.FormatOf(predicateType); ok {
		return " (" + string(f) + " SBOM)"
	}
	return ""
}
