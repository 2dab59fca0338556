package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Reservation is room for a file whose content comes later: a temporary
// file in the target's folder, grown to the expected size, so that a
// missing, read-only or full folder is found before the content is made
// (before anything is signed, say). Commit writes the content and puts the
// file in place atomically; Discard drops it.
//
// On Linux the temporary file has no name (O_TMPFILE) until Commit: a
// process killed in between leaves nothing behind. Elsewhere, and on file
// systems without O_TMPFILE, it is a hidden named file that Discard
// removes.
type Reservation struct {
	path  string
	perm  os.FileMode
	f     *os.File
	named string // the temporary file's name; "" while it has none
}

// errNoUnnamed: this system or file system has no unnamed files.
var errNoUnnamed = errors.New("no unnamed temporary files here")

// Reserve opens the temporary file for path and writes size zero bytes to
// it, so a folder that cannot hold the file fails now.
func Reserve(path string, size int64, perm os.FileMode) (*Reservation, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("writing %s: %w", path, errors.New("it is a folder"))
	}
	r := &Reservation{path: path, perm: perm}
	f, err := openUnnamed(dir, path, perm)
	switch {
	case errors.Is(err, errNoUnnamed):
		if f, err = os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*"); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		r.named = f.Name()
	case err != nil:
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	r.f = f
	if err := fill(f, size); err != nil {
		r.Discard()
		return nil, fmt.Errorf("writing %s: reserving %d bytes: %w", path, size, err)
	}
	return r, nil
}

func fill(f *os.File, size int64) error {
	zeros := make([]byte, 64<<10)
	for size > 0 {
		n := min(size, int64(len(zeros)))
		if _, err := f.Write(zeros[:n]); err != nil {
			return err
		}
		size -= n
	}
	return f.Sync()
}

// Path is the file the reservation is for.
func (r *Reservation) Path() string { return r.path }

// Commit writes data as the file's whole content, syncs it and renames it
// over the path. The reservation is used up either way.
func (r *Reservation) Commit(data []byte) (err error) {
	if r.f == nil {
		return fmt.Errorf("writing %s: the reservation is used up", r.path)
	}
	defer func() {
		if err != nil {
			r.Discard()
			err = fmt.Errorf("writing %s: %w", r.path, err)
		}
	}()
	if _, err = r.f.WriteAt(data, 0); err != nil {
		return err
	}
	if err = r.f.Truncate(int64(len(data))); err != nil {
		return err
	}
	if err = r.f.Chmod(r.perm); err != nil {
		return err
	}
	if err = r.f.Sync(); err != nil {
		return err
	}
	if r.named == "" {
		name, err := tempName(r.path)
		if err != nil {
			return err
		}
		if err = linkUnnamed(r.f, name); err != nil {
			// No way to give the file a name: write a named copy.
			r.f.Close()
			r.f = nil
			return Write(r.path, data, r.perm)
		}
		r.named = name
	}
	if err = r.f.Close(); err != nil {
		return err
	}
	r.f = nil
	if err = os.Rename(r.named, r.path); err != nil {
		return err
	}
	r.named = ""
	return nil
}

// Discard drops the reservation and its temporary file. It is safe to call
// after Commit and more than once.
func (r *Reservation) Discard() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	if r.named != "" {
		os.Remove(r.named)
		r.named = ""
	}
}

func tempName(path string) (string, error) {
	var b [6]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+hex.EncodeToString(b[:])), nil
}
