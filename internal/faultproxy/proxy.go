package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what the proxy does with a request a Rule matches.
type Fault struct {
	kind       kind
	delay      time.Duration
	status     int
	retryAfter string
	keep       float64
	request    func(*http.Request, []byte) []byte
	response   func(*http.Request, []byte) []byte
}

type kind int

const (
	kindPass kind = iota
	kindRefuse
	kindHang
	kindDelay
	kindStatus
	kindTruncate
	kindRewrite
)

// Refuse closes the proxy's listening socket: every connection is refused
// until Clear. It applies to the whole proxy, whatever the rule's method and
// path.
func Refuse() Fault { return Fault{kind: kindRefuse} }

// Hang reads the request and never answers, until the client gives up or
// the proxy stops. Nothing is forwarded.
func Hang() Fault { return Fault{kind: kindHang} }

// Delay waits d, then forwards the request and returns the answer. A client
// that gives up first makes the proxy drop the request unforwarded.
func Delay(d time.Duration) Fault { return Fault{kind: kindDelay, delay: d} }

// Status answers with code and a short text body without forwarding.
func Status(code int) Fault { return Fault{kind: kindStatus, status: code} }

// TooManyRequests answers 429 with the Retry-After header retryAfter
// (seconds or an HTTP date) without forwarding.
func TooManyRequests(retryAfter string) Fault {
	return Fault{kind: kindStatus, status: http.StatusTooManyRequests, retryAfter: retryAfter}
}

// Truncate forwards the request, then sends the answer's status and headers
// (with the full Content-Length) and only the first half of its body, and
// closes the connection.
func Truncate() Fault { return Fault{kind: kindTruncate, keep: 0.5} }

// RewriteRequest forwards the request with its body replaced by what f
// returns; f may also change the request's headers (r.Header) before they
// are forwarded.
func RewriteRequest(f func(r *http.Request, body []byte) []byte) Fault {
	return Fault{kind: kindRewrite, request: f}
}

// RewriteResponse forwards the request and answers with the server's status
// and headers but the body f returns.
func RewriteResponse(f func(r *http.Request, body []byte) []byte) Fault {
	return Fault{kind: kindRewrite, response: f}
}

// Rule scopes a fault to some requests.
type Rule struct {
	// Method matches the request method; empty matches any.
	Method string
	// Path matches requests whose path starts with it; empty matches any.
	Path string
	// After lets the first After matching requests pass untouched.
	After int
	// Times limits the fault to the first Times matching requests (after
	// After); zero means every one.
	Times int
	Fault Fault

	seen, hits int
}

func (r *Rule) matches(req *http.Request) bool {
	return (r.Method == "" || r.Method == req.Method) && strings.HasPrefix(req.URL.Path, r.Path)
}

// Proxy is a running fault-injecting proxy in front of one server.
type Proxy struct {
	target *url.URL
	addr   string
	client *http.Client
	done   chan struct{}

	mu        sync.Mutex
	rules     []*Rule
	ln        net.Listener
	srv       *http.Server
	seen      []string // "METHOD PATH" of each request received
	forwarded []string // and of each one forwarded to the target
	closed    bool
}

// Start runs a proxy on a free loopback port in front of target (a base
// URL, http://HOST:PORT) and stops it in tb.Cleanup.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		tb.Fatalf("faultproxy: target %q is not a base URL", target)
	}
	p := &Proxy{
		target: u,
		client: &http.Client{
			Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 4},
			// Redirects are the client's business: pass them on.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		done: make(chan struct{}),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	tb.Cleanup(p.Close)
	return p
}

// URL is the proxy's base URL, to use in place of the target's.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Addr is the proxy's HOST:PORT.
func (p *Proxy) Addr() string { return p.addr }

// Close stops the proxy and releases every hanging request.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.done)
	if p.srv != nil {
		p.srv.Close()
	}
	p.client.CloseIdleConnections()
}

// Inject replaces the proxy's rules. The first rule that matches a request
// decides its fault; a request no rule matches is forwarded as it is.
func (p *Proxy) Inject(rules ...Rule) {
	p.mu.Lock()
	p.rules = nil
	refuse := false
	for _, r := range rules {
		p.rules = append(p.rules, &r)
		refuse = refuse || r.Fault.kind == kindRefuse
	}
	p.mu.Unlock()
	p.listen(!refuse)
}

// Clear removes every rule; a refusing proxy listens again on its address.
func (p *Proxy) Clear() { p.Inject() }

// listen opens or closes the listening socket.
func (p *Proxy) listen(open bool) {
	p.mu.Lock()
	if p.closed || open == (p.srv != nil) {
		p.mu.Unlock()
		return
	}
	if !open {
		p.ln.Close()  // now, even if Serve has not started yet
		p.srv.Close() // and every open connection
		p.srv, p.ln = nil, nil
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		panic(fmt.Sprintf("faultproxy: listening again on %s: %v", p.addr, err))
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.handle), ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.ln, p.srv = ln, srv
	p.mu.Unlock()
	go srv.Serve(ln)
}

// Seen counts the requests received whose method is method (any when
// empty) and whose path starts with path.
func (p *Proxy) Seen(method, path string) int { return p.count(&p.seen, method, path) }

// Forwarded counts the requests passed on to the target, as Seen does.
func (p *Proxy) Forwarded(method, path string) int { return p.count(&p.forwarded, method, path) }

func (p *Proxy) count(list *[]string, method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range *list {
		m, pth, _ := strings.Cut(s, " ")
		if (method == "" || m == method) && strings.HasPrefix(pth, path) {
			n++
		}
	}
	return n
}

// WaitSeen waits until n matching requests have been received.
func (p *Proxy) WaitSeen(ctx context.Context, method, path string, n int) error {
	for p.Seen(method, path) < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("faultproxy: waiting for %d %s %s requests: %w", n, method, path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// rule returns the fault for req and records it as seen.
func (p *Proxy) rule(req *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, req.Method+" "+req.URL.Path)
	for _, r := range p.rules {
		if !r.matches(req) {
			continue
		}
		r.seen++
		if r.seen <= r.After || (r.Times > 0 && r.hits >= r.Times) {
			continue
		}
		r.hits++
		return r.Fault
	}
	return Fault{}
}

func (p *Proxy) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f := p.rule(r)
	switch f.kind {
	case kindHang:
		select {
		case <-r.Context().Done():
		case <-p.done:
		}
		return
	case kindDelay:
		select {
		case <-r.Context().Done():
			return
		case <-p.done:
			return
		case <-time.After(f.delay):
		}
	case kindStatus:
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, fmt.Sprintf("faultproxy: injected %d", f.status), f.status)
		return
	}
	if f.request != nil {
		body = f.request(r, body)
	}
	res, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "faultproxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if f.response != nil {
		res.body = f.response(r, res.body)
		res.header.Del("Content-Length")
	}
	if f.kind == kindTruncate {
		truncate(w, res, f.keep)
		return
	}
	for k, vs := range res.header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	w.Write(res.body)
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// hopByHop are the headers a proxy does not pass on (RFC 9110 7.6.1), and
// Accept-Encoding, so rewritten bodies are never compressed.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Accept-Encoding"}

func (p *Proxy) forward(r *http.Request, body []byte) (*answer, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(p.target.Path, "/") + r.URL.Path
	u.RawPath = ""
	u.RawQuery = r.URL.RawQuery
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopByHop {
		out.Header.Del(h)
	}
	// Keep the Host the client used: registries build upload URLs from it,
	// and those must lead back through the proxy.
	out.Host = r.Host
	p.mu.Lock()
	p.forwarded = append(p.forwarded, r.Method+" "+r.URL.Path)
	p.mu.Unlock()
	res, err := p.client.Do(out)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	h := res.Header.Clone()
	for _, k := range hopByHop {
		h.Del(k)
	}
	return &answer{status: res.StatusCode, header: h, body: data}, nil
}

// truncate writes the answer's head with the full length and part of its
// body straight to the connection, then closes it.
func truncate(w http.ResponseWriter, res *answer, keep float64) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("faultproxy: the response writer cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", res.status, http.StatusText(res.status))
	res.header.Set("Content-Length", strconv.Itoa(len(res.body)))
	res.header.Set("Connection", "close")
	res.header.Write(buf)
	buf.WriteString("\r\n")
	buf.Write(res.body[:int(float64(len(res.body))*keep)])
	if err := buf.Flush(); err != nil && !errors.Is(err, net.ErrClosed) {
		return
	}
}
