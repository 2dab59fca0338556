// Package faultproxy puts an HTTP proxy with injectable faults in front of a
// real server, for tests: the servers stay real, and each test decides how
// the wire between client and server misbehaves.
//
//	p := faultproxy.Start(t, sb.FulcioURL)
//	p.Inject(faultproxy.Rule{Method: "POST", Path: "/api/v2/signingCert", Fault: faultproxy.Hang()})
//	... point the client at p.URL() ...
//	p.Clear() // the fault clears; requests pass through again
//
// Faults are deterministic: a rule applies to every matching request, or to
// the first Times of them, after letting the first After pass. Refuse closes the listening socket, so clients
// get "connection refused" until Clear opens it again on the same address.
// Hang accepts a request and never answers. Delay, Status,
// TooManyRequests, Truncate, RewriteRequest and RewriteResponse do what
// their names say; the last two make well-formed but wrong exchanges (a
// certificate for another identity, a timestamp over other bytes).
//
// The package is test tooling: only tests import it.
package faultproxy
