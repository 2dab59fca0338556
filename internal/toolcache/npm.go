package toolcache

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// sigstorejsFiles are sigstore-js's package.json and lock file, which pin
// every package npm installs, and the verifier script that drives it.
//
//go:embed sigstorejs/package.json sigstorejs/package-lock.json sigstorejs/verify.js
var sigstorejsFiles embed.FS

// NpmTool is a Node.js program installed with `npm ci` from a package.json
// and lock file kept in this repository, so every machine gets the same
// packages. Its folder in the cache is keyed by the files' digest: a change
// to the lock file or the script installs afresh.
type NpmTool struct {
	Name    string // folder and log name
	Version string // the version of the package it is about
	// Script is the program node runs, a file of the embedded set.
	Script string
}

func (t NpmTool) files() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(sigstorejsFiles, "sigstorejs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := sigstorejsFiles.ReadFile(p)
		out[filepath.Base(p)] = data
		return err
	})
	return out, err
}

func (t NpmTool) folder() (string, error) {
	files, err := t.files()
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s %d\n", n, len(files[n]))
		h.Write(files[n])
	}
	return t.Name + "-" + t.Version + "-" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// Path is the script node runs, under cacheDir.
func (t NpmTool) Path(cacheDir string) (string, error) {
	f, err := t.folder()
	if err != nil {
		return "", err
	}
	return filepath.Join(cacheDir, f, t.script()), nil
}

func (t NpmTool) script() string {
	if t.Script == "" {
		return "verify.js"
	}
	return t.Script
}

func (t NpmTool) installed(cacheDir string) bool {
	p, err := t.Path(cacheDir)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(filepath.Dir(p), "node_modules", ".package-lock.json"))
	return err == nil
}

// Installed reports whether t is in cacheDir.
func (t NpmTool) Installed(cacheDir string) bool { return t.installed(cacheDir) }

// Ensure returns the path of t's script, installing its packages first if
// the cache does not hold them. Concurrent callers wait for one install.
func (t NpmTool) Ensure(ctx context.Context, cacheDir string, progress io.Writer) (string, error) {
	script, err := t.Path(cacheDir)
	if err != nil {
		return "", err
	}
	err = install(ctx, installation{
		cacheDir: cacheDir, folder: filepath.Base(filepath.Dir(script)), lock: t.Name + ".lock", name: t.Name, version: t.Version, how: "once, with npm",
		installed: func() bool { return t.installed(cacheDir) },
		build:     func(dir string) error { return t.build(ctx, dir) },
	}, progress)
	if err != nil {
		return "", err
	}
	return script, nil
}

// build writes t's files into dir and installs its packages there.
func (t NpmTool) build(ctx context.Context, dir string) error {
	files, err := t.files()
	if err != nil {
		return err
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			return err
		}
	}
	// npm ci installs exactly what the lock file lists and runs no
	// package's install scripts.
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("installing %s: npm is not on PATH; install Node.js 20 or newer with npm", t.Name)
	}
	if err != nil {
		return fmt.Errorf("installing %s %s: npm ci: %w\n%s", t.Name, t.Version, err, Tail(out, 20))
	}
	return nil
}
