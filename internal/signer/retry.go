package signer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// retryTransport retries requests that failed on the network, timed out, or
// got 5xx or 429, with exponential backoff, a bounded number of times. Use it
// only for requests that are safe to repeat: asking Fulcio for a certificate
// or the TSA for a timestamp. Log writes are not retried this way.
type retryTransport struct {
	base     http.RoundTripper
	attempts int           // total tries, at least 1
	perTry   time.Duration // timeout of one try
	backoff  time.Duration // first pause; doubles each retry
}

func (rt *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := rt.base
	if base == nil {
		base = http.DefaultTransport
	}
	var lastErr error
	for i := range rt.attempts {
		if i > 0 {
			pause := rt.backoff << (i - 1)
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(pause):
			}
		}
		try := req.Clone(req.Context())
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try.Body = body
		}
		ctx, cancel := context.WithTimeout(req.Context(), rt.perTry)
		res, err := base.RoundTrip(try.WithContext(ctx))
		if err == nil && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests {
			res.Body = &cancelOnClose{ReadCloser: res.Body, cancel: cancel}
			return res, nil
		}
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			res.Body.Close()
			lastErr = fmt.Errorf("%s %s: %s", req.Method, req.URL.Redacted(), res.Status)
		} else {
			lastErr = err
		}
		cancel()
		if req.Context().Err() != nil || !retryable(err) {
			break
		}
	}
	return nil, fmt.Errorf("after %d tries: %w", rt.attempts, lastErr)
}

// retryable reports whether a transport error is worth another try.
func retryable(err error) bool {
	if err == nil {
		return true // a 5xx or 429 status
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
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
