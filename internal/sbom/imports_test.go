package sbom_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSyftOnlyInTheGenerator: syft and its dependencies are linked into
// hallmark-sbom alone; the CLI, the controllers and the verifier start
// without them.
func TestSyftOnlyInTheGenerator(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the packages of four commands with go list")
	}
	for _, tc := range []struct {
		pkg  string
		want bool
	}{
		{"github.com/hallmark-dev/hallmark/cmd/hallmark", false},
		{"github.com/hallmark-dev/hallmark/cmd/hallmark-factory", false},
		{"github.com/hallmark-dev/hallmark/cmd/hallmark-admission", false},
		{"github.com/hallmark-dev/hallmark/cmd/hallmark-sbom", true},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		if got := strings.Contains(string(out), "github.com/anchore/syft/"); got != tc.want {
			t.Errorf("%s imports syft: %v, want %v", tc.pkg, got, tc.want)
		}
	}
}
