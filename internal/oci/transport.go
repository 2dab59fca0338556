package oci

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryTransport gives each registry request the time rules of a signing:
// a try that has no answer (headers) within perTry is abandoned, and a try
// that failed on the network or got 5xx, 408 or 429 is repeated after a
// backoff that doubles from backoff, or after the registry's Retry-After
// when that is longer, as long as the request's deadline allows. Requests
// whose body cannot be replayed are tried once.
type retryTransport struct {
	base    http.RoundTripper
	tries   int
	perTry  time.Duration
	backoff time.Duration
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	pause := t.backoff
	for try := 1; ; try++ {
		res, err := t.once(req)
		retryable := err != nil && transient(err) ||
			err == nil && (res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusRequestTimeout)
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !retryable || !replayable || try >= t.tries || req.Context().Err() != nil {
			return res, err
		}
		wait := pause
		pause *= 2
		if err == nil {
			if ra, ok := retryAfter(res.Header.Get("Retry-After")); ok && ra > wait {
				wait = ra
			}
		}
		if dl, ok := req.Context().Deadline(); ok && time.Now().Add(wait).After(dl) {
			return res, err // no time for another try: the last answer stands
		}
		if res != nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// once is one try: abandoned when no answer arrives within perTry. Once
// the headers are in, the body is read under the request's own deadline.
func (t *retryTransport) once(req *http.Request) (*http.Response, error) {
	if t.perTry <= 0 {
		return t.base.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(t.perTry, cancel)
	res, err := t.base.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The timer fired: this try timed out, whatever came back.
		if res != nil {
			res.Body.Close()
		}
		cancel()
		if req.Context().Err() != nil {
			return nil, req.Context().Err()
		}
		return nil, &tryTimeout{after: t.perTry}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancel}
	return res, nil
}

// tryTimeout is a try that had no answer in time.
type tryTimeout struct{ after time.Duration }

func (e *tryTimeout) Error() string   { return "no answer within " + e.after.String() }
func (e *tryTimeout) Timeout() bool   { return true }
func (e *tryTimeout) Temporary() bool { return true }

// transient reports whether a transport error is worth another try.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	var tt *tryTimeout
	return errors.As(err, &tt) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour: any longer is past every deadline.
func retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return min(time.Duration(n)*time.Second, time.Hour), true
	}
	if at, err := http.ParseTime(v); err == nil {
		d := time.Until(at)
		return max(0, min(d, time.Hour)), true
	}
	return 0, false
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
