package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/imageverify"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func detachedCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func key(i int) verdictKey {
	return verdictKey{policy: "uid/1", repository: "r.example/app", digest: fmt.Sprintf("sha256:%064d", i)}
}

func pass(expires time.Time) outcome {
	return outcome{verdict: verdictResult{Passed: true}, expires: expires}
}

func TestVerdictCacheBoundAndExpiry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c := newVerdictCache(3, clock.Now)
	for i := range 4 {
		c.put(key(i), pass(clock.Now().Add(time.Minute)))
	}
	if c.len() != 3 {
		t.Fatalf("%d entries, want the bound 3", c.len())
	}
	if _, ok := c.get(key(0)); ok {
		t.Fatal("the least recently used entry was kept beyond the bound")
	}
	// Using key 1 makes key 2 the least recently used.
	c.get(key(1))
	c.put(key(4), pass(clock.Now().Add(time.Minute)))
	if _, ok := c.get(key(2)); ok {
		t.Fatal("evicted the recently used entry instead of the least recently used")
	}
	if _, ok := c.get(key(1)); !ok {
		t.Fatal("the recently used entry was evicted")
	}
	c.put(key(5), pass(clock.Now().Add(10*time.Second)))
	clock.advance(10 * time.Second)
	if _, ok := c.get(key(5)); ok {
		t.Fatal("an entry was served at its expiry")
	}
	c.put(key(6), pass(clock.Now()))
	if _, ok := c.get(key(6)); ok {
		t.Fatal("an entry already expired was kept")
	}
	none := newVerdictCache(0, clock.Now)
	none.put(key(1), pass(clock.Now().Add(time.Hour)))
	if none.len() != 0 {
		t.Fatal("a cache of size 0 kept an entry")
	}
}

func TestVerdictCacheSharesOneVerification(t *testing.T) {
	c := newVerdictCache(10, time.Now)
	var calls atomic.Int32
	release := make(chan struct{})
	verify := func(context.Context) (outcome, error) {
		calls.Add(1)
		<-release
		return pass(time.Now().Add(time.Minute)), nil
	}
	const n = 32
	var wg sync.WaitGroup
	lookups := make(chan lookup, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, how, err := c.do(context.Background(), key(1), "creds", verify, detachedCtx)
			if err != nil || !v.Passed {
				t.Errorf("do: %v %+v", err, v)
			}
			lookups <- how
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(lookups)
	if calls.Load() != 1 {
		t.Fatalf("%d verifications for %d concurrent requests, want 1", calls.Load(), n)
	}
	if _, how, _ := c.do(context.Background(), key(1), "creds", verify, detachedCtx); how != lookupHit {
		t.Fatalf("after the verification: %s, want a hit", how)
	}
}

func TestVerdictCacheFailuresAndWaiters(t *testing.T) {
	errDown := errors.New("registry down")
	tests := []struct {
		name    string
		verify  func(context.Context) (outcome, error)
		wantErr error
		kept    bool
	}{
		{"a registry error is not kept", func(context.Context) (outcome, error) { return outcome{}, errDown }, errDown, false},
		{"a panic is an error, never a pass", func(context.Context) (outcome, error) { panic("boom") }, errPanic, false},
		{"a failure is kept until it expires", func(context.Context) (outcome, error) {
			return outcome{verdict: failed(&imageverify.Failure{Check: "attestation"}), expires: time.Now().Add(time.Minute)}, nil
		}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newVerdictCache(10, time.Now)
			v, _, err := c.do(context.Background(), key(1), "", tc.verify, detachedCtx)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil && v.Passed {
				t.Fatal("an error came with a pass")
			}
			if _, ok := c.get(key(1)); ok != tc.kept {
				t.Fatalf("kept %v, want %v", ok, tc.kept)
			}
		})
	}

	t.Run("a waiter that gives up does not fail the verification", func(t *testing.T) {
		c := newVerdictCache(10, time.Now)
		release := make(chan struct{})
		var seen context.Context
		verify := func(ctx context.Context) (outcome, error) {
			seen = ctx
			<-release
			if ctx.Err() != nil {
				return outcome{}, ctx.Err()
			}
			return pass(time.Now().Add(time.Minute)), nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, _, err := c.do(ctx, key(1), "", verify, detachedCtx)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("the waiter: %v, want it to give up", err)
		}
		close(release)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if v, ok := c.get(key(1)); ok && v.Passed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the verification did not finish for others (its context: %v)", seen.Err())
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
