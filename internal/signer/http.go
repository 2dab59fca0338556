package signer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// caller sends requests to one Sigstore server with the signing's time
// rules: each try gets at most perTry, tries stop at the deadline (the
// context's), and a failed try is repeated after a backoff that doubles, or
// after the server's Retry-After when that is longer. Failures worth another
// try are the network's (refused, reset, cut short, timed out), 5xx and 429;
// any other answer is final and returned to the caller to judge.
type caller struct {
	transport http.RoundTripper
	perTry    time.Duration
	tries     int
	backoff   time.Duration
	// deadline is the signing deadline's length, for messages.
	deadline time.Duration
	// maxBody bounds what is read of an answer.
	maxBody int64
}

// reply is a server's final answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends method url with body (nil for none) and header until a final
// answer. Its errors say what happened on the last try and how many tries
// there were; the caller names the server.
func (c *caller) do(ctx context.Context, method, url string, header http.Header, body []byte) (*reply, error) {
	var last error
	pause := c.backoff
	tries := 0
	for {
		tries++
		r, err := c.try(ctx, method, url, header, body)
		if err == nil && r.status < 500 && r.status != http.StatusTooManyRequests {
			return r, nil
		}
		if err != nil {
			last = err
		} else {
			last = &statusError{status: r.status, body: r.body}
		}
		if ctx.Err() != nil {
			return nil, c.timeout(ctx, tries, last)
		}
		if tries >= c.tries {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, c.timeout(ctx, tries, last)
			}
			return nil, fmt.Errorf("%w (%s)", last, plural(tries, "try", "tries"))
		}
		wait := pause
		pause *= 2
		if r != nil {
			if ra, ok := retryAfter(r.header, time.Now()); ok && ra > wait {
				wait = ra
			}
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			if r != nil && r.header.Get("Retry-After") != "" {
				return nil, fmt.Errorf("%w: it asked to be retried after %s, past the signing deadline (%s; %s so far): %w",
					ErrTimeout, wait.Round(time.Second), c.deadline, plural(tries, "try", "tries"), last)
			}
			if errors.Is(last, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: no answer within %s a try (%s), and the signing deadline of %s leaves no time for another",
					ErrTimeout, c.perTry, plural(tries, "try", "tries"), c.deadline)
			}
			return nil, fmt.Errorf("%w: the signing deadline of %s leaves no time for another try after %s; the last one: %w",
				ErrTimeout, c.deadline, plural(tries, "try", "tries"), last)
		}
		select {
		case <-ctx.Done():
			return nil, c.timeout(ctx, tries, last)
		case <-time.After(wait):
		}
	}
}

// try is one request with the per-try timeout. A network failure, also
// while reading the body, is returned as an error.
func (c *caller) try(ctx context.Context, method, url string, header http.Header, body []byte) (*reply, error) {
	tctx, cancel := context.WithTimeout(ctx, c.perTry)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := (&http.Client{Transport: c.transport}).Do(req)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer (%s): %w", statusText(res.StatusCode), unwrapURLError(err))
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("the answer is larger than %d bytes", c.maxBody)
	}
	return &reply{status: res.StatusCode, header: res.Header, body: data}, nil
}

// timeout is the error of a server that did not answer in time: every try
// timed out, or the signing deadline passed.
func (c *caller) timeout(ctx context.Context, tries int, last error) error {
	n := plural(tries, "try", "tries")
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("cancelled after %s: %v", n, last)
	case ctx.Err() != nil && errors.Is(last, context.DeadlineExceeded):
		return fmt.Errorf("%w: no answer before the signing deadline of %s (%s of at most %s each)", ErrTimeout, c.deadline, n, c.perTry)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: the signing deadline of %s passed after %s; the last one: %w", ErrTimeout, c.deadline, n, last)
	}
	return fmt.Errorf("%w: no answer within %s (%s)", ErrTimeout, c.perTry, n)
}

// maxRetryAfter caps what a Retry-After header is read as: any longer wait
// is past every deadline anyway.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return min(time.Duration(n)*time.Second, maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if t.Before(now) {
			return 0, true
		}
		if t.After(now.Add(maxRetryAfter)) {
			return maxRetryAfter, true
		}
		return t.Sub(now), true
	}
	return 0, false
}

// unwrapURLError drops net/http's "Post URL:" prefix: the server's URL is
// named once, by the caller.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func statusText(code int) string {
	return fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
}

// bodySnippet quotes the start of an error answer, printable characters
// only: enough to show the server's reason, never a whole page.
func bodySnippet(body []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(body))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// statusError is a server's answer with a failure status.
type statusError struct {
	status int
	body   []byte
}

func (e *statusError) Error() string { return statusText(e.status) + bodySnippet(e.body) }
