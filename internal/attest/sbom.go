package attest

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/hallmark-dev/hallmark/internal/sbom"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// sbomSet is the SBOM documents attest signs, each about some subjects:
// all of them, or one.
type sbomSet struct {
	docs []sbomDoc
}

type sbomDoc struct {
	doc *sbom.Document
	// of is the subject the SBOM describes; nil when it is about every
	// subject (SBOM.Path, SBOM.Source).
	of *subject.Subject
	// target is what was scanned, for messages.
	target string
}

// checkSBOM rejects contradictions before any work and returns the formats
// to make.
func checkSBOM(s SBOM) ([]sbom.Format, error) {
	if !s.wanted() {
		if len(s.Formats) > 0 {
			return nil, errors.New("--sbom-format applies to --sbom, --sbom-source or --sbom-path")
		}
		return nil, nil
	}
	if s.Path != "" && (s.Generate || s.Source != "") {
		return nil, errors.New("--sbom-path attests an SBOM you have; --sbom and --sbom-source make one: give one of them")
	}
	var formats []sbom.Format
	for _, name := range s.Formats {
		ft, err := sbom.ParseFormat(name)
		if err != nil {
			return nil, fmt.Errorf("--sbom-format: %w", err)
		}
		for _, seen := range formats {
			if seen == ft {
				return nil, fmt.Errorf("--sbom-format %s given twice", ft)
			}
		}
		formats = append(formats, ft)
	}
	if s.Path != "" && len(formats) > 1 {
		return nil, errors.New("--sbom-path is one SBOM in one format: give at most one --sbom-format")
	}
	if len(formats) == 0 && s.Path == "" {
		formats = []sbom.Format{sbom.SPDX}
	}
	return formats, nil
}

// makeSBOMs reads SBOM.Path, or makes the SBOMs SBOM.Generate and
// SBOM.Source ask for, each checked as the verifier reads SBOM predicates;
// images maps a subject NAME@ALG:HEX that is an image to its reference
// (imageTargets when nil).
// Nothing is signed yet: an SBOM that cannot be made fails attest before
// anything is.
func makeSBOMs(ctx context.Context, r Request, formats []sbom.Format, subjects []subject.Subject, images map[string]string, log io.Writer) (*sbomSet, error) {
	s := r.SBOM
	if !s.wanted() {
		return nil, nil
	}
	set := &sbomSet{}
	if s.Path != "" {
		fh, err := os.Open(s.Path)
		if err != nil {
			return nil, fmt.Errorf("--sbom-path: %w", err)
		}
		defer fh.Close()
		doc, err := sbom.Read(fh, sbom.DefaultMaxSize)
		if err != nil {
			return nil, fmt.Errorf("--sbom-path %s: %w (nothing was signed)", s.Path, err)
		}
		if len(formats) == 1 && doc.Format != formats[0] {
			return nil, fmt.Errorf("--sbom-path %s is %s, not the --sbom-format %s (nothing was signed)", s.Path, doc.Format, formats[0])
		}
		set.docs = append(set.docs, sbomDoc{doc: doc, target: s.Path})
		return set, nil
	}
	gen := sbom.Generator{Path: s.Generator, InsecureRegistry: r.AllowInsecureRegistry}
	if gen.Path == "" {
		p, err := sbom.FindGenerator()
		if err != nil {
			return nil, fmt.Errorf("--sbom: %w", err)
		}
		gen.Path = p
	}
	if s.Source != "" {
		for _, ft := range formats {
			doc, err := gen.Generate(ctx, sbom.Target{Path: s.Source}, ft)
			if err != nil {
				return nil, fmt.Errorf("--sbom-source: %w (nothing was signed)", err)
			}
			set.docs = append(set.docs, sbomDoc{doc: doc, target: s.Source})
		}
		return set, nil
	}
	if images == nil {
		var err error
		if images, err = imageTargets(r); err != nil {
			return nil, err
		}
	}
	for i := range subjects {
		sub := &subjects[i]
		t, err := sbomTarget(sub, images)
		if err != nil {
			return nil, err
		}
		for _, ft := range formats {
			fmt.Fprintf(log, "making the %s SBOM of %s\n", ft, t)
			doc, err := gen.Generate(ctx, t, ft)
			if err != nil {
				return nil, fmt.Errorf("--sbom: %w (nothing was signed)", err)
			}
			set.docs = append(set.docs, sbomDoc{doc: doc, of: sub, target: t.String()})
		}
		if t.Path != "" {
			// The file scanned must be the subject, still.
			if err := sameFile(t.Path, sub.Digest); err != nil {
				return nil, fmt.Errorf("--sbom: %w (nothing was signed)", err)
			}
		}
	}
	return set, nil
}

// imageTargets maps each SubjectImages subject (name and digest) to its
// reference, and each image the bundles are pushed to (PushImages: the
// subject NAME@DIGEST given by --subject-name and --subject-digest with
// --push-to-registry) by NAME@DIGEST as given.
func imageTargets(r Request) (map[string]string, error) {
	out := map[string]string{}
	for _, ref := range r.PushImages {
		out[ref] = ref
	}
	for _, ref := range r.SubjectImages {
		s, err := subject.FromImageRef(ref)
		if err != nil {
			return nil, err
		}
		for alg, h := range s.Digest {
			out[s.Name+"@"+alg+":"+h] = ref
		}
	}
	return out, nil
}

// sbomTarget is what to scan for a subject: its image, or the file its
// name names.
func sbomTarget(s *subject.Subject, images map[string]string) (sbom.Target, error) {
	for alg, h := range s.Digest {
		if ref, ok := images[s.Name+"@"+alg+":"+h]; ok {
			return sbom.Target{Image: ref}, nil
		}
	}
	fi, err := os.Stat(s.Name)
	if err != nil || !fi.Mode().IsRegular() {
		return sbom.Target{}, fmt.Errorf("--sbom: subject %q is no file here to make an SBOM of: name files with --subject-path, "+
			"images with --subject-image (or --subject-name and --subject-digest with --push-to-registry), "+
			"or give --sbom-source DIR (one SBOM of a directory about every subject) or --sbom-path FILE (nothing was signed)", s.Name)
	}
	return sbom.Target{Path: s.Name}, nil
}

// sameFile checks that the file at path has the subject's digests: the
// SBOM describes the file the subject names, not one that took its place.
func sameFile(path string, want map[string]string) error {
	hs := map[string]hash.Hash{}
	var ws []io.Writer
	for alg := range want {
		var h hash.Hash
		switch alg {
		case subject.SHA256:
			h = sha256.New()
		case subject.SHA512:
			h = sha512.New()
		default:
			continue
		}
		hs[alg] = h
		ws = append(ws, h)
	}
	if len(hs) == 0 {
		return fmt.Errorf("%s: no digest of the subject to check the file against", path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if _, err := io.Copy(io.MultiWriter(ws...), fh); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for alg, h := range hs {
		if got := hex.EncodeToString(h.Sum(nil)); got != want[alg] {
			return fmt.Errorf("%s changed while its SBOM was made: %s %s, the subject says %s", path, alg, got, want[alg])
		}
	}
	return nil
}

// sbomItems lays out the SBOM statements beside the provenance bundles
// (paths[i] signs groups[i], in the session sessions[i]): an SBOM about
// every subject is split as the provenance is, BASE.FORMAT.sigstore.json
// beside BASE.sigstore.json; an SBOM of one subject is
// BASE.FORMAT.sigstore.json when it is the only subject, else
// BASE.SUBJECT.FORMAT.sigstore.json. Each is signed in the session of the
// provenance bundle that holds its subjects.
func sbomItems(set *sbomSet, groups [][]subject.Subject, paths []string, sessions []int, bundlePath string) ([]item, error) {
	if set == nil {
		return nil, nil
	}
	unitOf := map[string]int{}
	var singles [][]subject.Subject
	for i, g := range groups {
		for _, s := range g {
			unitOf[s.Name] = sessions[i]
			singles = append(singles, []subject.Subject{s})
		}
	}
	// One subject's SBOM is named beside the provenance of that subject
	// alone when it has one (one subject, --per-subject, --per-image), else
	// as --per-subject would name its provenance.
	pathOf := map[string]string{}
	if len(singles) > 1 {
		ps := bundlePaths(bundlePath, singles, true, false)
		for i, s := range singles {
			pathOf[s[0].Name] = ps[i]
		}
	}
	for i, g := range groups {
		if len(g) == 1 {
			pathOf[g[0].Name] = paths[i]
		}
	}
	var out []item
	for _, d := range set.docs {
		if d.of == nil {
			for i, g := range groups {
				payload, err := sbom.Statement(g, d.doc)
				if err != nil {
					return nil, err
				}
				out = append(out, item{path: withFormat(paths[i], d.doc.Format), payload: payload, subjects: g, session: sessions[i], predicateType: d.doc.Format.PredicateType()})
			}
			continue
		}
		one := []subject.Subject{*d.of}
		payload, err := sbom.Statement(one, d.doc)
		if err != nil {
			return nil, err
		}
		path := withFormat(bundlePath, d.doc.Format)
		if p, ok := pathOf[d.of.Name]; ok {
			path = withFormat(p, d.doc.Format)
		}
		out = append(out, item{path: path, payload: payload, subjects: one, session: unitOf[d.of.Name], predicateType: d.doc.Format.PredicateType()})
	}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
	}
	for _, b := range out {
		if seen[b.path] {
			return nil, fmt.Errorf("--sbom: two bundles would be written to %s: rename the subjects or give another --bundle-path (nothing was signed)", b.path)
		}
		seen[b.path] = true
	}
	return out, nil
}

// withFormat names an SBOM bundle beside a provenance bundle path:
// BASE.sigstore.json becomes BASE.FORMAT.sigstore.json.
func withFormat(path string, f sbom.Format) string {
	return bundleBase(path) + "." + string(f) + ".sigstore.json"
}
