package attest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/result"
)

func TestCommitBundles(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "a.sigstore.json"), filepath.Join(dir, "b.sigstore.json")}
	first, err := atomicfile.Reserve(paths[0], 1<<20, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// Past maxReservations only the first bundle holds a reservation.
	bundles := []signed{{at: 0, sum: result.Bundle{Path: paths[0]}, data: []byte("A")}, {at: 1, sum: result.Bundle{Path: paths[1]}, data: []byte("B")}}
	written, err := commitBundles(bundles, []*atomicfile.Reservation{first, nil})
	if err != nil || len(written) != 2 {
		t.Fatalf("written %v, %v", written, err)
	}
	for i, want := range []string{"A", "B"} {
		if got, _ := os.ReadFile(paths[i]); string(got) != want {
			t.Errorf("%s = %q, want %q", paths[i], got, want)
		}
	}
}

// TestCommitBundlesRescues: a signed bundle whose folder went away is saved
// in the temporary folder, and the error says where.
func TestCommitBundlesRescues(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.sigstore.json")
	r, err := atomicfile.Reserve(path, 1024, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	idx := int64(41)
	_, err = commitBundles([]signed{{sum: result.Bundle{Path: path, LogIndex: &idx, LogURL: "http://rekor"}, data: []byte("signed")}}, []*atomicfile.Reservation{r})
	if err == nil {
		t.Fatal("writing into a removed folder succeeded")
	}
	m := regexp.MustCompile(`log entry 41 at http://rekor\) is saved at (\S+) instead`).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("err = %v: want where the signed bundle went", err)
	}
	if got, _ := os.ReadFile(m[1]); string(got) != "signed" {
		t.Errorf("the rescued bundle holds %q", got)
	}
}
