package factory

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSigningLimitFollowsLatency(t *testing.T) {
	tests := []struct {
		name string
		// latency of the i-th signing, with every place taken
		latency  func(i int) time.Duration
		min, max int
		// want judges the limit after the 300th signing and the lowest
		// over the 100 after it.
		want func(at300, lowest int) bool
	}{
		{"steady latency grows to the ceiling", func(int) time.Duration { return time.Second }, 8, 256,
			func(at300, lowest int) bool { return at300 == 256 && lowest == 256 }},
		{"latency that jumps brings it near the floor", func(i int) time.Duration {
			if i < 300 {
				return time.Second
			}
			return 5 * time.Second
		}, 8, 256, func(at300, lowest int) bool { return at300 == 256 && lowest <= 16 }},
		{"a fixed number stays fixed", func(i int) time.Duration { return time.Duration(i%7+1) * time.Second }, 32, 32,
			func(at300, lowest int) bool { return at300 == 32 && lowest == 32 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newSigningLimit(tt.min, tt.max)
			at300, lowest := 0, tt.max
			for i := range 400 {
				// Fill every place, then return one.
				for l.inflight < l.current() {
					if err := l.acquire(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				l.release(tt.latency(i))
				if i == 299 {
					at300 = l.current()
				}
				if i >= 300 {
					lowest = min(lowest, l.current())
				}
			}
			if !tt.want(at300, lowest) {
				t.Errorf("limit %d after 300 signings, at least %d over the next 100", at300, lowest)
			}
		})
	}
}

func TestSigningLimitIdleDoesNotGrow(t *testing.T) {
	l := newSigningLimit(8, 256)
	for range 1000 {
		if err := l.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		l.release(time.Second) // one at a time: says nothing about more
	}
	if got := l.current(); got != 8 {
		t.Errorf("limit %d after 1,000 signings one at a time, want the floor 8", got)
	}
}

func TestSigningLimitWaitsInOrder(t *testing.T) {
	l := newSigningLimit(2, 2)
	for range 2 {
		if err := l.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// A third waits; a fourth gives up while waiting and takes no place.
	got := make(chan int, 2)
	go func() {
		if l.acquire(context.Background()) == nil {
			got <- 3
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	for {
		l.mu.Lock()
		n := len(l.waiters)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := l.acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire past its deadline: %v", err)
	}
	select {
	case <-got:
		t.Fatal("a third signing started with both places taken")
	default:
	}
	l.release(0)
	select {
	case n := <-got:
		if n != 3 {
			t.Fatal(n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting signing did not get the freed place")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight != 2 || len(l.waiters) != 0 {
		t.Errorf("%d in flight and %d waiting, want 2 and 0", l.inflight, len(l.waiters))
	}
}
