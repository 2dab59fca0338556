package attest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/result"
	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// item is one bundle to sign: its statement, what the statement is about,
// its file, and the session (certificate) it is signed in.
type item struct {
	subjects []subject.Subject
	path     string
	payload  []byte
	session  int
	// predicateType is set for a statement that is not provenance (an
	// SBOM's).
	predicateType string
	// label names the bundle in a signing failure: its subjects for
	// --subject-images, its platform for --attest-platforms.
	label string
}

// signed is one bundle signed: the item it is (its index), its summary
// and its bytes.
type signed struct {
	at   int
	sum  result.Bundle
	data []byte
}

// attestConcurrency is how many bundles are signed at once.
const attestConcurrency = 16

// signAll signs every item in its session, side by side: each waits on
// the log's next checkpoint (about a second on Rekor v2), and one after
// another 10,000 subjects in 10 bundles would wait 10 s. Once one fails no
// more are started (no more log entries spent); those signed already are
// returned with the first failure, which says which bundle failed.
func signAll(ctx context.Context, items []item, sessions []*signer.Session, r Request, log io.Writer) ([]signed, error) {
	type outcome struct {
		signed
		err error
	}
	results := make([]outcome, len(items))
	sem := make(chan struct{}, attestConcurrency)
	var wg sync.WaitGroup
	var failed atomic.Bool
	var progress sync.Mutex
	for i, it := range items {
		if failed.Load() {
			break // no more entries spent once one bundle failed
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := sessions[it.session].Sign(ctx, it.payload, signer.PayloadTypeInToto)
			var data []byte
			if err == nil {
				data, err = protojson.Marshal(res.Bundle)
			}
			if err != nil {
				failed.Store(true)
				results[i].err = err
				return
			}
			sum := result.Bundle{Path: it.path, Subjects: subjectsJSON(it.subjects), Identity: res.Identity, Issuer: res.Issuer, LogURL: res.LogURL, Timestamped: res.Timestamped,
				PredicateType: it.predicateType, Data: data}
			if res.LogIndex >= 0 {
				idx := res.LogIndex
				sum.LogIndex = &idx
			}
			results[i].signed = signed{at: i, sum: sum, data: data}
			if len(items) > 1 {
				progress.Lock()
				fmt.Fprintf(log, "signed bundle %d of %d (%d subjects)\n", i+1, len(items), len(it.subjects))
				progress.Unlock()
			}
		}()
	}
	wg.Wait()
	var out []signed
	var firstErr error
	failedAt := 0
	for i, res := range results {
		switch {
		case res.err != nil && firstErr == nil:
			firstErr, failedAt = res.err, i
		case res.data != nil:
			out = append(out, res.signed)
		}
	}
	if firstErr == nil {
		return out, nil
	}
	err := signingError(firstErr, r)
	switch {
	case items[failedAt].label != "":
		err = fmt.Errorf("signing the attestation of %s (bundle %d of %d): %w", items[failedAt].label, failedAt+1, len(items), err)
	case len(items) > 1:
		err = fmt.Errorf("signing bundle %d of %d: %w", failedAt+1, len(items), err)
	}
	return out, err
}

// signingError adds to a signing failure what the request can change.
func signingError(err error, r Request) error {
	switch {
	case errors.Is(err, signer.ErrTimeout):
		return fmt.Errorf("%w\ncheck that the server is up and reachable, or allow more time: --deadline (now %s), --timeout (now %s)", err, r.Deadline, r.Timeout)
	case errors.Is(err, signer.ErrIdentity):
		return fmt.Errorf("%w\nnothing was timestamped or logged; something between this job and Fulcio, or Fulcio itself, certifies identities it should not: check --signing-config", err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w\nnothing listens there: check that the server is up and that --signing-config names it", err)
	}
	var se *signer.ServerError
	if errors.As(err, &se) {
		return fmt.Errorf("%w\ntry again when %s answers again, or name another server in --signing-config", err, se.URL)
	}
	return err
}

func subjectsJSON(ss []subject.Subject) []result.Subject {
	out := make([]result.Subject, len(ss))
	for i, s := range ss {
		out[i] = result.Subject{Name: s.Name, Digest: s.Digest}
	}
	return out
}
