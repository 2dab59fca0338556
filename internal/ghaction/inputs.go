package ghaction

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/hallmark-dev/hallmark/internal/attest"
)

// lines splits a multi-line input into its non-empty, trimmed lines.
func lines(v string) []string {
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// list splits an input of one item a line or comma-separated items into
// its non-empty, trimmed items.
func list(v string) []string {
	return lines(strings.ReplaceAll(v, ",", "\n"))
}

// boolInput reads a boolean input as the Actions toolkit does: true/True/TRUE
// or false/False/FALSE; empty means def.
func boolInput(a *githubactions.Action, name string, def bool) (bool, error) {
	switch v := a.GetInput(name); v {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	default:
		return false, fmt.Errorf("input %s: %q is not a boolean (true or false)", name, v)
	}
}

// sbomInputs reads the inputs sbom (false, true, spdx, cyclonedx, or
// spdx,cyclonedx), sbom-source and sbom-path into req: formats to make of
// each subject, or of sbom-source, or the SBOM at sbom-path to attest.
func sbomInputs(a *githubactions.Action, req *attest.Request) error {
	v := strings.TrimSpace(a.GetInput("sbom"))
	s := attest.SBOM{Source: a.GetInput("sbom-source"), Path: a.GetInput("sbom-path")}
	switch v {
	case "", "false", "False", "FALSE":
		if s.Source != "" {
			return errors.New("input sbom-source needs sbom: true, spdx or cyclonedx")
		}
	case "true", "True", "TRUE":
		if s.Path == "" {
			s.Formats = []string{"spdx"}
		}
	default:
		for _, f := range strings.Split(v, ",") {
			switch f = strings.TrimSpace(f); f {
			case "spdx", "cyclonedx":
				s.Formats = append(s.Formats, f)
			default:
				return fmt.Errorf("input sbom: %q is not true, false, spdx, cyclonedx or spdx,cyclonedx", v)
			}
		}
	}
	s.Generate = len(s.Formats) > 0 && s.Source == ""
	req.SBOM = s
	return nil
}
