package ghaction

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sethvargo/go-githubactions"
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
// spdx,cyclonedx), sbom-source and sbom-path into req.
func sbomInputs(a *githubactions.Action, req *AttestRequest) error {
	v := strings.TrimSpace(a.GetInput("sbom"))
	req.SBOMSource, req.SBOMPath = a.GetInput("sbom-source"), a.GetInput("sbom-path")
	switch v {
	case "", "false", "False", "FALSE":
		if req.SBOMSource != "" {
			return errors.New("input sbom-source needs sbom: true, spdx or cyclonedx")
		}
		return nil
	case "true", "True", "TRUE":
		if req.SBOMPath == "" {
			req.SBOMFormats = []string{"spdx"}
		}
		return nil
	}
	for _, f := range strings.Split(v, ",") {
		switch f = strings.TrimSpace(f); f {
		case "spdx", "cyclonedx":
			req.SBOMFormats = append(req.SBOMFormats, f)
		default:
			return fmt.Errorf("input sbom: %q is not true, false, spdx, cyclonedx or spdx,cyclonedx", v)
		}
	}
	return nil
}
