package attest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/atomicfile"
	"github.com/hallmark-dev/hallmark/internal/result"
)

// maxReservations is the most bundle files reserved one by one.
const maxReservations = 64

// bundleSizeEstimate is room enough for the bundle of payload: the
// payload in base64 and, generously, the certificate, timestamp and log
// entry.
func bundleSizeEstimate(payload []byte) int64 {
	return int64(len(payload))*4/3 + 64<<10
}

// reserve holds room for the bundle of each item before anything is
// signed: a log entry for a bundle that cannot be written helps no one.
// Past maxReservations, as many open files as bundles would run out of
// file descriptors: the first file holds room for all of them (they share
// its folder), the others are written at the end. On failure the
// reservations made are discarded.
func reserve(items []item) ([]*atomicfile.Reservation, error) {
	outs := make([]*atomicfile.Reservation, len(items))
	for i, it := range items {
		size := bundleSizeEstimate(it.payload)
		if len(items) > maxReservations {
			if i > 0 {
				break
			}
			size = 0
			for _, o := range items {
				size += bundleSizeEstimate(o.payload)
			}
		}
		var err error
		if outs[i], err = atomicfile.Reserve(it.path, size, 0o644); err != nil {
			discard(outs)
			return nil, fmt.Errorf("--bundle-path: %w: give a folder this user can write to, with room for the bundle (nothing was signed)", err)
		}
	}
	return outs, nil
}

// discard gives back the room of every reservation not committed.
func discard(outs []*atomicfile.Reservation) {
	for _, o := range outs {
		if o != nil {
			o.Discard()
		}
	}
}

// commitBundles writes each signed bundle into its reserved file
// (outs[b.at]; past maxReservations, as a new file). A bundle whose file
// cannot be written after all is saved in the temporary folder instead,
// and the error says where: it is signed, and logged, and must not be
// lost.
func commitBundles(bundles []signed, outs []*atomicfile.Reservation) ([]string, error) {
	var written []string
	var errs []error
	for _, b := range bundles {
		path := b.sum.Path
		var err error
		if out := outs[b.at]; out != nil {
			err = out.Commit(b.data)
		} else {
			err = atomicfile.Write(path, b.data, 0o644)
		}
		if err != nil {
			rescue, rerr := rescueBundle(path, b.data)
			if rerr != nil {
				errs = append(errs, fmt.Errorf("%w; saving it elsewhere failed too (%v): the signed bundle%s is lost", err, rerr, logNote(b.sum)))
				continue
			}
			errs = append(errs, fmt.Errorf("%w; the signed bundle%s is saved at %s instead: move it into place, do not sign again", err, logNote(b.sum), rescue))
			continue
		}
		written = append(written, path)
	}
	return written, errors.Join(errs...)
}

func rescueBundle(path string, data []byte) (string, error) {
	f, err := os.CreateTemp("", "hallmark-"+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	if err := atomicfile.Write(name, data, 0o644); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func logNote(b result.Bundle) string {
	if b.LogIndex == nil {
		return ""
	}
	return fmt.Sprintf(" (log entry %d at %s)", *b.LogIndex, b.LogURL)
}

// KeptError is a failure after some bundles were signed and written: they
// are kept, and Next, if any, is the command that finishes the job
// without signing again.
type KeptError struct {
	Err error
	// Kept are the bundle files written; KeepErr says which signed
	// bundles could not be written where they belong, and where they are.
	Kept    []string
	KeepErr error
	Next    string
	// Result is what was done: the bundles signed, the pushes made.
	Result *result.Attest
}

func (e *KeptError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Result != nil {
		var done []string
		for _, p := range e.Result.Pushes {
			if p.Error == "" {
				done = append(done, p.Image)
			}
		}
		if len(done) > 0 {
			fmt.Fprintf(&b, "\nattached already: %s", strings.Join(done, ", "))
		}
	}
	switch {
	case len(e.Kept) == 1:
		fmt.Fprintf(&b, "\nthe signed bundle is kept: %s", e.Kept[0])
	case len(e.Kept) > 1:
		fmt.Fprintf(&b, "\nthe signed bundles are kept: %s", strings.Join(e.Kept, ", "))
	}
	if e.KeepErr != nil {
		fmt.Fprintf(&b, "\n%v", e.KeepErr)
	}
	if e.Next != "" {
		fmt.Fprintf(&b, "\npush %s without signing again:\n  %s", map[bool]string{true: "it", false: "them"}[strings.Count(e.Next, "--bundle-path ") == 1], e.Next)
	}
	return b.String()
}

func (e *KeptError) Unwrap() []error { return []error{e.Err, e.KeepErr} }
