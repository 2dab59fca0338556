package subject

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
)

// ErrInvalidOption is matched by errors about options to [FromPaths] that
// are out of range or contradict each other.
var ErrInvalidOption = errors.New("invalid option")

// Option changes how [FromPaths] finds and hashes files.
type Option func(*options)

type options struct {
	workers    int
	algorithms []string
	dir        string
}

// WithWorkers sets how many files are hashed at once. The default is
// runtime.GOMAXPROCS(0). It must be at least 1.
func WithWorkers(n int) Option {
	return func(o *options) { o.workers = n }
}

// WithAlgorithms sets the digest algorithms computed for each file, from
// [SHA256] and [SHA512]; each file is read once whatever their number. The
// default is sha256 alone, as actions/attest computes. The list must not be
// empty.
func WithAlgorithms(algs ...string) Option {
	return func(o *options) { o.algorithms = slices.Clone(algs) }
}

// WithDir sets the directory relative patterns are resolved against. Subject
// names stay relative to it, as the patterns were written. The default is
// the current directory.
func WithDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

func newOptions(opts []Option) (*options, error) {
	o := &options{
		workers:    runtime.GOMAXPROCS(0),
		algorithms: []string{SHA256},
		dir:        ".",
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.workers < 1 {
		return nil, fmt.Errorf("%w: workers %d: want at least 1", ErrInvalidOption, o.workers)
	}
	if len(o.algorithms) == 0 {
		return nil, fmt.Errorf("%w: no digest algorithm: want %s and/or %s", ErrInvalidOption, SHA256, SHA512)
	}
	for _, alg := range o.algorithms {
		if alg != SHA256 && alg != SHA512 {
			return nil, fmt.Errorf("%w: algorithm %s: want %s or %s", ErrInvalidOption, short(alg), SHA256, SHA512)
		}
	}
	slices.Sort(o.algorithms)
	o.algorithms = slices.Compact(o.algorithms)
	if o.dir == "" {
		return nil, fmt.Errorf("%w: empty directory", ErrInvalidOption)
	}
	return o, nil
}
