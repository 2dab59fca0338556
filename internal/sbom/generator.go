package sbom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// GeneratorName is the generator's executable name.
const GeneratorName = "hallmark-sbom"

// ErrNoGenerator: hallmark-sbom is neither beside the running executable
// nor on PATH.
var ErrNoGenerator = errors.New(GeneratorName + " not found")

// FindGenerator returns the path of hallmark-sbom: beside the running
// executable first (where the release and the actions put it), then on
// PATH.
func FindGenerator() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), GeneratorName+filepath.Ext(exe))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(GeneratorName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w beside this executable or on PATH: --sbom generates SBOMs with it, a binary of its own so that "+
		"hallmark starts fast; install it beside hallmark (go install github.com/hallmark-dev/hallmark/cmd/%s at the same version), "+
		"or attest an SBOM you have with --sbom-path", ErrNoGenerator, GeneratorName)
}

// Target is what to make an SBOM of: a file (an archive is looked into),
// a directory, or an image by digest.
type Target struct {
	// Path is a file or directory.
	Path string
	// Image is REGISTRY/REPO@sha256:HEX.
	Image string
}

func (t Target) String() string {
	if t.Image != "" {
		return t.Image
	}
	return t.Path
}

// Generator runs hallmark-sbom.
type Generator struct {
	// Path is the executable (FindGenerator).
	Path string
	// InsecureRegistry allows plain HTTP to image registries.
	InsecureRegistry bool
	// MaxSize bounds the SBOM read (DefaultMaxSize when zero).
	MaxSize int64
}

// maxStderr is how much of the generator's error output is kept.
const maxStderr = 16 << 10

// Generate makes the SBOM of t in format f and checks it as Read does.
// The generator's error output, if it fails, is in the error.
func (g Generator) Generate(ctx context.Context, t Target, f Format) (*Document, error) {
	limit := g.MaxSize
	if limit == 0 {
		limit = DefaultMaxSize
	}
	args := []string{"scan", "--format", string(f)}
	switch {
	case t.Image != "" && t.Path == "":
		args = append(args, "--image", t.Image)
		if g.InsecureRegistry {
			args = append(args, "--allow-insecure-registry")
		}
	case t.Path != "" && t.Image == "":
		args = append(args, "--path", t.Path)
	default:
		return nil, errors.New("SBOM target: give a path or an image")
	}
	cmd := exec.CommandContext(ctx, g.Path, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr tail
	cmd.Stderr = &stderr
	// Processes the generator leaves behind holding its output open do
	// not hold attest up.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running %s: %w", g.Path, err)
	}
	doc, rerr := Read(out, limit)
	if errors.Is(rerr, ErrTooLarge) {
		_ = cmd.Process.Kill()
		_ = out.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("SBOM of %s: %w", t, rerr)
	}
	// A generator that failed wrote nothing to read: its own error says
	// why. Whatever it still writes is drained, so it cannot block.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	msg := strings.TrimSpace(stderr.String())
	switch {
	case werr != nil && msg != "":
		return nil, fmt.Errorf("SBOM of %s: %s: %w", t, msg, werr)
	case werr != nil:
		return nil, fmt.Errorf("SBOM of %s: %s: %w", t, g.Path, werr)
	case rerr != nil:
		return nil, fmt.Errorf("SBOM of %s: %s wrote no SBOM that reads: %w", t, g.Path, rerr)
	}
	if doc.Format != f {
		return nil, fmt.Errorf("SBOM of %s: %s wrote %s, not %s", t, g.Path, doc.Format, f)
	}
	return doc, nil
}

// tail keeps the last maxStderr bytes written to it.
type tail struct{ buf bytes.Buffer }

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - maxStderr; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string { return t.buf.String() }
