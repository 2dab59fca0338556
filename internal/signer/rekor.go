package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	rekorpb "github.com/sigstore/rekor-tiles/v2/pkg/generated/protobuf"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
)

// logEntry writes the bundle's signature to the log r, adds the entry to
// the bundle and, with a trusted root, checks it: its inclusion proof, its
// checkpoint's signature and that it is for this signature and key.
//
// Rekor v2 writes are retried like any request: rekor-tiles refuses an
// entry it already holds (409), so a retry never spends a second entry.
// Rekor v1 retries inside its own client and resolves a 409 to the existing
// entry.
func (s *session) logEntry(ctx context.Context, r root.Service, cert *x509.Certificate, b *signedBundle) error {
	pb := b.Bundle.Bundle
	opts := &sign.RekorOptions{BaseURL: r.URL, Version: r.MajorAPIVersion, Timeout: s.timeout, Retries: uint(s.retries)}
	if r.MajorAPIVersion == 2 {
		opts.ClientV2 = &rekorV2{session: s, url: r.URL}
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	before := len(pb.GetVerificationMaterial().GetTlogEntries())
	if err := sign.NewRekor(opts).GetTransparencyLogEntry(ctx, certPEM, pb); err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			return se
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: the signing deadline of %s passed: %v", ErrTimeout, s.deadline, err)
		}
		return &ServerError{Kind: ErrLog, URL: r.URL, Err: err}
	}
	if s.tm == nil {
		return nil
	}
	entries := pb.GetVerificationMaterial().GetTlogEntries()
	if len(entries) != before+1 {
		return &ServerError{Kind: ErrLog, URL: r.URL, Err: fmt.Errorf("the log gave %d entries", len(entries)-before), Logged: true}
	}
	if _, err := verify.VerifyTlogEntry(b, s.tm, len(entries), false); err != nil {
		return &ServerError{Kind: ErrLog, URL: r.URL, Logged: true,
			Err: fmt.Errorf("its answer does not verify against the trusted root (log index %d): %v", entries[before].GetLogIndex(), err)}
	}
	return nil
}

// rekorV2 writes entries to a Rekor v2 (rekor-tiles) log with the
// session's deadline, per-try timeout and retries.
type rekorV2 struct {
	session *session
	url     string
}

func (c *rekorV2) Add(ctx context.Context, entry any) (*protorekor.TransparencyLogEntry, error) {
	hr, ok := entry.(*rekorpb.HashedRekordRequestV002)
	if !ok {
		return nil, fmt.Errorf("unsupported Rekor v2 entry %T", entry)
	}
	body, err := protojson.Marshal(&rekorpb.CreateEntryRequest{Spec: &rekorpb.CreateEntryRequest_HashedRekordRequestV002{HashedRekordRequestV002: hr}})
	if err != nil {
		return nil, err
	}
	fail := func(err error, logged bool) error {
		return &ServerError{Kind: ErrLog, URL: c.url, Err: err, Logged: logged}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	r, err := c.session.caller(10<<20).do(ctx, http.MethodPost, strings.TrimSuffix(c.url, "/")+"/api/v2/log/entries", h, body)
	if err != nil {
		// A try whose answer was lost (timed out, cut short) may have
		// been written; one the log refused or never reached was not.
		return nil, fail(err, answerLost(err))
	}
	tle, logged, err := rekorAnswer(r)
	if err != nil {
		return nil, fail(err, logged)
	}
	return tle, nil
}

// rekorAnswer reads a Rekor v2 answer to an entry request; logged says
// whether the log may hold the entry despite the error.
func rekorAnswer(r *reply) (tle *protorekor.TransparencyLogEntry, logged bool, err error) {
	switch r.status {
	case http.StatusCreated, http.StatusOK:
	case http.StatusConflict:
		idx := bodySnippet([]byte(r.header.Get("X-Log-Index")))
		return nil, true, fmt.Errorf("it already holds an entry for this signature (index%s), written by an earlier try whose answer was lost; sign again: a new signature gets a new entry", idx)
	default:
		return nil, false, fmt.Errorf("%s%s", statusText(r.status), bodySnippet(r.body))
	}
	tle = &protorekor.TransparencyLogEntry{}
	if err := protojson.Unmarshal(r.body, tle); err != nil {
		return nil, true, fmt.Errorf("its answer is not a transparency log entry: %v", err)
	}
	return tle, false, nil
}

// answerLost reports whether the last try of err may have reached the log
// and lost its answer: not when it could not connect, nor when the log
// answered with a failure status.
func answerLost(err error) bool {
	var oe *net.OpError
	var se *statusError
	if errors.As(err, &se) || errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	return true
}
