package subject_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/subject"
)

func TestFromPathsNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := subject.FromPaths(context.Background(), []string{"*"}, subject.WithDir(dir))
	var fe *subject.FileError
	if !errors.Is(err, subject.ErrNotRegular) || !errors.As(err, &fe) || fe.Path != fifo {
		t.Fatalf("err = %v, want a *FileError for %s matching ErrNotRegular", err, fifo)
	}
}

// TestFromPathsReadError hashes a regular file that opens but fails to read,
// which is how an unreadable file looks even to root.
func TestFromPathsReadError(t *testing.T) {
	const path = "/proc/self/mem"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	_, err := subject.FromPaths(context.Background(), []string{path})
	var fe *subject.FileError
	if !errors.As(err, &fe) || fe.Path != path {
		t.Fatalf("err = %v, want a *FileError for %s", err, path)
	}
}
