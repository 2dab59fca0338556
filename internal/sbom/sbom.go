package sbom

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/hallmark-dev/hallmark/internal/subject"
	"github.com/hallmark-dev/hallmark/verifier"
)

// Format is an SBOM document format.
type Format string

// The formats attest writes and reads, as JSON.
const (
	SPDX      Format = "spdx"
	CycloneDX Format = "cyclonedx"
)

// Formats lists the formats, for help texts.
var Formats = []Format{SPDX, CycloneDX}

// ParseFormat reads a format's name: spdx or cyclonedx (also spdx-json,
// cyclonedx-json, as syft names them).
func ParseFormat(s string) (Format, error) {
	switch s {
	case "spdx", "spdx-json", "spdxjson":
		return SPDX, nil
	case "cyclonedx", "cyclonedx-json", "cdx":
		return CycloneDX, nil
	}
	return "", fmt.Errorf("SBOM format %q: want spdx or cyclonedx", s)
}

// PredicateType is the in-toto predicate type of an SBOM of the format, as
// actions/attest-sbom writes it.
func (f Format) PredicateType() string {
	if f == CycloneDX {
		return verifier.PredicateCycloneDX
	}
	return verifier.PredicateSPDX
}

// FormatOf returns the format whose predicate type is pt.
func FormatOf(pt string) (Format, bool) {
	switch pt {
	case verifier.PredicateSPDX:
		return SPDX, true
	case verifier.PredicateCycloneDX:
		return CycloneDX, true
	}
	return "", false
}

// DefaultMaxSize is the largest SBOM attest reads: its bundle (the
// document in base64, with the certificate and log entry) stays within
// the verifier's default limit for attestations,
// verifier.DefaultMaxAttestationBundleSize.
const DefaultMaxSize = verifier.DefaultMaxAttestationBundleSize/4*3 - 1<<20

// ErrTooLarge: an SBOM exceeds the size limit.
var ErrTooLarge = errors.New("SBOM too large")

// Document is an SBOM document that reads as the verifier reads SBOM
// predicates.
type Document struct {
	Format Format
	// JSON is the document as read.
	JSON []byte
}

// Read reads an SBOM document of at most limit bytes and checks it with
// verifier.ParseSBOM. The error says what is wrong with it.
func Read(r io.Reader, limit int64) (*Document, error) {
	var buf bytes.Buffer
	if f, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		// A file is read into one buffer of its size rather than one
		// grown by doubling, which allocates up to three times an image's
		// SBOM on the way.
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() <= limit {
			buf.Grow(int(fi.Size()) + bytes.MinRead)
		}
	}
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return Parse(buf.Bytes())
}

// Parse checks an SBOM document with verifier.ParseSBOM.
func Parse(data []byte) (*Document, error) {
	pt, err := verifier.ParseSBOM(data)
	if err != nil {
		return nil, err
	}
	f, _ := FormatOf(pt)
	return &Document{Format: f, JSON: data}, nil
}

// StatementType is the in-toto statement type attest writes.
const StatementType = "https://in-toto.io/Statement/v1"

// Statement returns the in-toto statement v1 whose predicate is doc, about
// subjects: the document is compacted into the statement as it is
// written, not decoded and encoded again.
func Statement(subjects []subject.Subject, doc *Document) ([]byte, error) {
	if len(subjects) == 0 {
		return nil, errors.New("SBOM statement: no subject")
	}
	type descriptor struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	}
	ds := make([]descriptor, len(subjects))
	for i, s := range subjects {
		ds[i] = descriptor{Name: s.Name, Digest: s.Digest}
	}
	head, err := json.Marshal(struct {
		Type          string       `json:"_type"`
		Subject       []descriptor `json:"subject"`
		PredicateType string       `json:"predicateType"`
	}{StatementType, ds, doc.Format.PredicateType()})
	if err != nil {
		return nil, fmt.Errorf("SBOM statement: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(len(head) + len(doc.JSON) + 16)
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"predicate":`)
	if err := json.Compact(&buf, doc.JSON); err != nil {
		return nil, fmt.Errorf("SBOM statement: %w", err)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
