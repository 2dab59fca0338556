package admission

import (
	"container/list"
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// verdictKey names a verdict: the image's digest (in its repository) under
// one generation of one policy. A tag never names a verdict: a tag moves, a digest does not.
type verdictKey struct {
	policy string // the compiled policy's key: UID and generation
	// repository is where the attestations were looked for: the same
	// content elsewhere may carry other attestations, or none.
	repository string
	digest     string // sha256:HEX
}

func (k verdictKey) String() string { return k.policy + "|" + k.repository + "|" + k.digest }

// outcome is a verification's result as the cache keeps it.
type outcome struct {
	verdict verdictResult
	// expires is when the entry stops counting.
	expires time.Time
}

// verdictCache keeps verdicts, bounded in size (least recently used go
// first) and each until it expires; concurrent misses on one key share
// one verification.
type verdictCache struct {
	max   int
	now   func() time.Time
	mu    sync.Mutex
	ll    *list.List // of *cacheEntry, most recent first
	items map[verdictKey]*list.Element
	group singleflight.Group
}

type cacheEntry struct {
	key verdictKey
	out outcome
}

func newVerdictCache(max int, now func() time.Time) *verdictCache {
	return &verdictCache{max: max, now: now, ll: list.New(), items: map[verdictKey]*list.Element{}}
}

// get returns the verdict for k if one is kept and has not expired.
func (c *verdictCache) get(k verdictKey) (verdictResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return verdictResult{}, false
	}
	ent := e.Value.(*cacheEntry)
	if !c.now().Before(ent.out.expires) {
		c.ll.Remove(e)
		delete(c.items, k)
		return verdictResult{}, false
	}
	c.ll.MoveToFront(e)
	return ent.out.verdict, true
}

// put keeps out under k, dropping the least recently used entries beyond
// the bound. An outcome already expired is not kept.
func (c *verdictCache) put(k verdictKey, out outcome) {
	if c.max <= 0 || !c.now().Before(out.expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		e.Value.(*cacheEntry).out = out
		c.ll.MoveToFront(e)
		return
	}
	c.items[k] = c.ll.PushFront(&cacheEntry{key: k, out: out})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

// len is the number of entries kept (some may have expired).
func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// lookup is how a verdict was found.
type lookup string

const (
	lookupHit    lookup = "hit"    // kept in the cache
	lookupMiss   lookup = "miss"   // verified by this request
	lookupShared lookup = "shared" // verified by a concurrent request for the same key
)

// do returns the verdict for k: from the cache, or from verify, run once
// for all concurrent callers with the same k and flight (the flight names
// what verify reads beyond k, such as the registry credentials). verify
// runs under its own context, detached from any one caller's, so a caller
// that gives up does not fail the others; each caller waits only as long
// as its own ctx allows. A panic in verify is an error, never a crash.
func (c *verdictCache) do(ctx context.Context, k verdictKey, flight string, verify func(context.Context) (outcome, error), detached func() (context.Context, context.CancelFunc)) (verdictResult, lookup, error) {
	if v, ok := c.get(k); ok {
		return v, lookupHit, nil
	}
	ch := c.group.DoChan(k.String()+"|"+flight, func() (res any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v\n%s", errPanic, r, debug.Stack())
			}
		}()
		// Another flight may have finished between get and DoChan.
		if v, ok := c.get(k); ok {
			return v, nil
		}
		vctx, cancel := detached()
		defer cancel()
		out, err := verify(vctx)
		if err != nil {
			return nil, err
		}
		c.put(k, out)
		return out.verdict, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return verdictResult{}, lookupMiss, r.Err
		}
		how := lookupMiss
		if r.Shared {
			how = lookupShared
		}
		return r.Val.(verdictResult), how, nil
	case <-ctx.Done():
		return verdictResult{}, lookupMiss, fmt.Errorf("waiting for the verification: %w", ctx.Err())
	}
}
