package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/digest"
	"github.com/hallmark-dev/hallmark/internal/result"
)

// PushRequest is `hallmark push`: bundles attest signed already, attached
// to the images they are about without signing again.
type PushRequest struct {
	// Images are the images to attach the bundles to, each
	// REGISTRY/REPO@sha256:HEX; each bundle goes to those among its
	// subjects.
	Images []string
	// BundlePaths are the bundle files attest wrote.
	BundlePaths []string
	// LegacyTag also pushes under cosign's tag sha256-HEX.att; with
	// SigningConfig (and TrustedRoot), its timestamp authority timestamps
	// the legacy layer.
	LegacyTag     bool
	SigningConfig string
	TrustedRoot   string
	// AllowInsecureRegistry allows plain HTTP.
	AllowInsecureRegistry bool
	// PushDeadline bounds all the pushes, Timeout each try of a request.
	PushDeadline time.Duration
	Timeout      time.Duration
}

// Push attaches each bundle of req to every image among req.Images it is
// about, exactly as Run does with PushToRegistry, and returns what went
// where. Progress goes to log (discarded when nil). A failure for some
// images is an error naming each; the records say what was pushed.
func Push(ctx context.Context, req PushRequest, log io.Writer) ([]result.Push, error) {
	if req.PushDeadline <= 0 || req.Timeout <= 0 {
		return nil, errors.New("--push-deadline and --timeout must be positive")
	}
	if log == nil {
		log = io.Discard
	}
	g := registry{insecure: req.AllowInsecureRegistry, timeout: req.Timeout, deadline: req.PushDeadline, legacyTag: req.LegacyTag}
	var stamp stampFunc
	if req.LegacyTag && req.SigningConfig != "" {
		sc, tr, err := LoadTrust(req.SigningConfig, req.TrustedRoot, func(string) string { return "" })
		if err != nil {
			return nil, err
		}
		stamp = legacyStamp(g, sc, tr)
	}
	var files []bundleFile
	for _, p := range req.BundlePaths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the bundle to push: %w", err)
		}
		pt, digests, err := statementSubjects(data)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", p, err)
		}
		files = append(files, bundleFile{path: p, predicateType: pt, data: data, digests: digests})
	}
	return pushAll(ctx, g, req.Images, files, stamp, log)
}

// statementSubjects reads the predicate type and the subjects' sha256
// digests ("sha256:HEX") of the statement in a bundle attest made.
func statementSubjects(data []byte) (string, []string, error) {
	var b protobundle.Bundle
	if err := protojson.Unmarshal(data, &b); err != nil {
		return "", nil, fmt.Errorf("decoding bundle: %w", err)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(b.GetDsseEnvelope().GetPayload(), &st); err != nil {
		return "", nil, fmt.Errorf("decoding statement: %w", err)
	}
	var digests []string
	for _, s := range st.Subject {
		if h := s.Digest["sha256"]; h != "" {
			digests = append(digests, digest.Digest{Algorithm: digest.SHA256, Hex: h}.String())
		}
	}
	return st.PredicateType, digests, nil
}
