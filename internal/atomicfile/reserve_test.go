package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
)

func TestReserveCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.sigstore.json")
	if err := os.WriteFile(path, []byte("old content that is longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := atomicfile.Reserve(path, 100<<10, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		// The reserved file has no name: a killed process leaves nothing.
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("while reserved the folder holds %d entries, want only the old file", len(entries))
		}
	}
	if err := r.Commit([]byte("new")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "new" {
		t.Fatalf("content = %q, %v: want exactly the committed bytes", got, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after Commit the folder holds %d entries, want 1", len(entries))
	}
	r.Discard() // harmless after Commit
	if _, err := os.Stat(path); err != nil {
		t.Fatal("Discard after Commit removed the file")
	}
	if err := r.Commit([]byte("again")); err == nil {
		t.Fatal("a reservation was committed twice")
	}
}

func TestReserveDiscardLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	r, err := atomicfile.Reserve(filepath.Join(dir, "out.json"), 4096, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r.Discard()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Discard left %d entries", len(entries))
	}
}

func TestReserveFailsEarly(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"missing folder": filepath.Join(dir, "missing", "out.json"),
		"file as folder": filepath.Join(dir, "file", "out.json"),
		"path is folder": dir,
	} {
		t.Run(name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o644)
			if _, err := atomicfile.Reserve(path, 10, 0o644); err == nil {
				t.Fatal("Reserve succeeded")
			} else if name == "missing folder" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("err = %v, want ErrNotExist", err)
			}
		})
	}
}
