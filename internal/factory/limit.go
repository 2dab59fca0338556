package factory

import (
	"context"
	"math"
	"sync"
	"time"
)

// signingLimit bounds how many signings run at once, and moves the bound
// between its floor and ceiling with the signer's latency: while latency
// stays near its long-run level, more signings at once mean more
// signatures a second (a Rekor v2 write mostly waits for the next
// checkpoint), so the bound grows; when latency climbs — the machine, the
// log or the timestamp authority saturated — more at once only queue, so
// it shrinks. The algorithm is a gradient one, as in Netflix's
// concurrency-limits (Gradient2): the bound is scaled by the ratio of the
// long-run to the recent latency, with room to grow by its square root.
type signingLimit struct {
	mu       sync.Mutex
	limit    float64
	min, max float64
	inflight int
	waiters  []chan struct{}
	// long and short are moving averages of the latency, in seconds,
	// over about 500 and 20 signings.
	long, short float64
	samples     int
}

// Tuning of signingLimit.
const (
	// latencyTolerance is how much the recent latency may exceed the
	// long-run one before the bound shrinks.
	latencyTolerance = 2.0
	longWindow       = 500
	shortWindow      = 20
	// limitSmoothing is how far each signing moves the bound towards
	// its new value.
	limitSmoothing = 0.2
)

func newSigningLimit(min, max int) *signingLimit {
	return &signingLimit{limit: float64(min), min: float64(min), max: float64(max)}
}

// acquire waits for a place, first come first served.
func (l *signingLimit) acquire(ctx context.Context) error {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inflight < int(l.limit) {
		l.inflight++
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted as the context ended: hand the place on.
		l.inflight--
		l.grant()
		return ctx.Err()
	}
}

// release gives the place back; latency is how long a signing that
// succeeded took (zero for one that failed, which says nothing about
// load).
func (l *signingLimit) release(latency time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	busy := float64(l.inflight) >= l.limit/2
	l.inflight--
	if latency > 0 {
		l.observe(latency.Seconds(), busy)
	}
	l.grant()
}

func (l *signingLimit) grant() {
	for len(l.waiters) > 0 && l.inflight < int(l.limit) {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.inflight++
		close(ch)
	}
}

// observe moves the bound after a signing that took rtt seconds; busy
// says whether at least half the places were taken, without which a
// short latency says nothing about what more signings would cost.
func (l *signingLimit) observe(rtt float64, busy bool) {
	l.samples++
	if l.samples == 1 {
		l.long, l.short = rtt, rtt
	}
	l.long += (rtt - l.long) / longWindow
	l.short += (rtt - l.short) / shortWindow
	if l.long > 2*l.short {
		// Latency fell for good (a faster signer): forget the old level
		// sooner.
		l.long *= 0.95
	}
	gradient := math.Max(0.5, math.Min(1, latencyTolerance*l.long/l.short))
	next := l.limit * gradient
	if busy {
		next += math.Sqrt(l.limit)
	}
	l.limit = math.Min(l.max, math.Max(l.min, l.limit*(1-limitSmoothing)+next*limitSmoothing))
	signingLimitGauge.Set(l.limit)
}

// current is the bound now.
func (l *signingLimit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}
