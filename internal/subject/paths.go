package subject

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
)

var (
	// ErrNoPatterns is returned by [FromPaths] when the pattern list holds
	// nothing but separators and blanks.
	ErrNoPatterns = errors.New("no subject paths given")
	// ErrNoMatch is matched by a [*PatternError] for a pattern that matches
	// no file.
	ErrNoMatch = errors.New("no file matches")
	// ErrOnlyDirectories is matched by a [*PatternError] for a pattern that
	// matches only directories. Directories are never subjects: name the
	// files inside them, for example "dist/**".
	ErrOnlyDirectories = errors.New("matches only directories, which are not hashed")
	// ErrDanglingSymlink is matched by a [*FileError] for a symbolic link
	// whose target does not exist.
	ErrDanglingSymlink = errors.New("dangling symbolic link")
	// ErrNotRegular is matched by a [*FileError] for a device, socket or
	// named pipe, which cannot be hashed meaningfully.
	ErrNotRegular = errors.New("not a regular file")
)

// PatternError reports a subject path pattern that is malformed or selects
// nothing to hash.
type PatternError struct {
	// Pattern is the pattern as given, after splitting the input list.
	Pattern string
	// Err is ErrNoMatch, ErrOnlyDirectories or filepath.ErrBadPattern.
	Err error
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("subject path %q: %v", e.Pattern, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

// FileError reports a matched file that could not be hashed.
type FileError struct {
	// Path is the file's path on disk.
	Path string
	Err  error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("subject file %q: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// FromPaths hashes the files that patterns select and returns one subject per
// file, sorted by name.
//
// Each element of patterns may itself hold several patterns separated by
// newlines or commas, as the subject-path input of actions/attest does;
// blanks around each are trimmed and empty items skipped. (A file whose name
// holds a comma or starts or ends with a blank cannot be named this way.)
//
// A pattern is a path in which each element is matched as by
// [filepath.Match]; an element that is exactly "**" matches any number of
// directories, including none, and a trailing "**" matches every file below.
// "**" does not descend into symbolic links to directories, which keeps it
// out of cycles; other elements follow them, as [filepath.Glob] does.
// Dot-files are matched like any other.
//
// What a pattern selects:
//   - regular files are hashed;
//   - symbolic links to regular files are followed and hashed under the
//     link's name;
//   - directories and symbolic links to directories are skipped; a pattern
//     that selects only those is a [*PatternError] matching
//     [ErrOnlyDirectories];
//   - a dangling symbolic link is a [*FileError] matching
//     [ErrDanglingSymlink], and a device, socket or pipe one matching
//     [ErrNotRegular];
//   - a pattern that selects nothing at all is a [*PatternError] matching
//     [ErrNoMatch].
//
// A subject's name is the matched path in the form the pattern was written:
// cleaned as by [filepath.Clean] and kept relative when the pattern was
// relative ("./dist/*.zip" gives "dist/app.zip"), absolute when it was
// absolute. Relative patterns are resolved against the directory set by
// [WithDir], the current directory by default, and names stay relative to it.
//
// Files are hashed in parallel ([WithWorkers]) and streamed through the hash,
// never read into memory whole. A file selected by several patterns is hashed
// once. A file that cannot be read is a [*FileError] naming its path. When ctx
// is cancelled hashing stops and ctx's error is returned.
func FromPaths(ctx context.Context, patterns []string, opts ...Option) ([]Subject, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	items := splitPatterns(patterns)
	if len(items) == 0 {
		return nil, ErrNoPatterns
	}
	var files []candidate
	seen := map[string]bool{}
	for _, item := range items {
		matched, err := selectFiles(o.dir, item)
		if err != nil {
			return nil, err
		}
		for _, c := range matched {
			if !seen[c.name] {
				seen[c.name] = true
				files = append(files, c)
			}
		}
	}
	subjects, err := hashAll(ctx, files, o)
	if err != nil {
		return nil, err
	}
	return Merge(subjects)
}

func splitPatterns(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		for _, item := range strings.FieldsFunc(p, func(r rune) bool { return r == '\n' || r == ',' }) {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// candidate is a path a pattern selected: name as the user wrote it, path as
// it is opened.
type candidate struct {
	name, path string
}

// selectFiles expands one pattern and keeps what can be hashed.
func selectFiles(dir, pattern string) ([]candidate, error) {
	found, err := expand(dir, pattern)
	if err != nil {
		return nil, err
	}
	var files []candidate
	dirs := 0
	for _, c := range found {
		fi, err := os.Lstat(c.path)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue // a literal element that names nothing
		}
		if err != nil {
			return nil, &FileError{Path: c.path, Err: err}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Stat(c.path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &FileError{Path: c.path, Err: fmt.Errorf("%w: %w", ErrDanglingSymlink, err)}
			}
			if err != nil {
				return nil, &FileError{Path: c.path, Err: err}
			}
			fi = target
		}
		switch {
		case fi.IsDir():
			dirs++
		case fi.Mode().IsRegular():
			if !utf8.ValidString(c.name) {
				return nil, &FileError{Path: c.path, Err: fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)}
			}
			files = append(files, c)
		default:
			return nil, &FileError{Path: c.path, Err: fmt.Errorf("%w: %v", ErrNotRegular, fi.Mode().Type())}
		}
	}
	if len(files) == 0 {
		if dirs > 0 {
			return nil, &PatternError{Pattern: pattern, Err: ErrOnlyDirectories}
		}
		return nil, &PatternError{Pattern: pattern, Err: ErrNoMatch}
	}
	return files, nil
}

// expand lists the paths a pattern matches, without looking at what they are.
func expand(dir, pattern string) ([]candidate, error) {
	clean := filepath.Clean(pattern)
	g := globber{seen: map[string]bool{}}
	name, path, rest := "", dir, clean
	if filepath.IsAbs(clean) {
		vol := filepath.VolumeName(clean)
		name = clean[:len(vol)+1]
		path = name
		rest = clean[len(vol)+1:]
	}
	if rest == "" {
		return []candidate{{name: name, path: path}}, nil
	}
	segs := strings.Split(rest, string(filepath.Separator))
	for _, seg := range segs {
		if _, err := filepath.Match(seg, ""); err != nil {
			return nil, &PatternError{Pattern: pattern, Err: err}
		}
	}
	if segs[len(segs)-1] == "**" {
		segs = append(segs, "*")
	}
	if err := g.walk(name, path, segs); err != nil {
		return nil, err
	}
	return g.out, nil
}

type globber struct {
	seen map[string]bool
	out  []candidate
}

func (g *globber) walk(name, path string, segs []string) error {
	if len(segs) == 0 {
		if !g.seen[name] {
			g.seen[name] = true
			g.out = append(g.out, candidate{name: name, path: path})
		}
		return nil
	}
	seg, rest := segs[0], segs[1:]
	if !hasMeta(seg) {
		return g.walk(joinName(name, seg), filepath.Join(path, seg), rest)
	}
	entries, err := readDir(path)
	if err != nil {
		return err
	}
	if seg == "**" {
		if err := g.walk(name, path, rest); err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				if err := g.walk(joinName(name, e.Name()), filepath.Join(path, e.Name()), segs); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, e := range entries {
		if ok, _ := filepath.Match(seg, e.Name()); ok {
			if err := g.walk(joinName(name, e.Name()), filepath.Join(path, e.Name()), rest); err != nil {
				return err
			}
		}
	}
	return nil
}

// readDir lists a directory; a path that does not exist or is not a
// directory simply has no entries.
func readDir(path string) ([]fs.DirEntry, error) {
	entries, err := os.ReadDir(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return entries, nil
}

func hasMeta(seg string) bool {
	return strings.ContainsAny(seg, `*?[\`)
}

func joinName(name, elem string) string {
	if name == "" {
		return elem
	}
	return filepath.Join(name, elem)
}

// bufPool holds the copy buffers shared by the hashing workers.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 1<<20)
	return &b
}}

func hashAll(ctx context.Context, files []candidate, o *options) ([]Subject, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	subjects := make([]Subject, len(files))
	errs := make([]error, len(files))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(o.workers, len(files)) {
		wg.Go(func() {
			for i := range jobs {
				digest, err := hashFile(ctx, files[i].path, o.algorithms)
				if err != nil {
					errs[i] = err
					cancel()
					continue
				}
				subjects[i] = Subject{Name: filepath.ToSlash(files[i].name), Digest: digest}
			}
		})
	}
send:
	for i := range files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(jobs)
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	return subjects, nil
}

func hashFile(ctx context.Context, path string, algs []string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	hashes := make([]hash.Hash, len(algs))
	writers := make([]io.Writer, len(algs))
	for i, alg := range algs {
		switch alg {
		case SHA256:
			hashes[i] = sha256.New()
		case SHA512:
			hashes[i] = sha512.New()
		}
		writers[i] = hashes[i]
	}
	w := writers[0]
	if len(writers) > 1 {
		w = io.MultiWriter(writers...)
	}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	if _, err := io.CopyBuffer(w, ctxReader{ctx: ctx, r: f}, *buf); err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	digest := make(map[string]string, len(algs))
	for i, alg := range algs {
		digest[alg] = hex.EncodeToString(hashes[i].Sum(nil))
	}
	return digest, nil
}

// ctxReader stops a copy when its context is done. It also hides the file's
// WriterTo, so io.CopyBuffer uses the pooled buffer.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
