package market

import (
	"context"
	"sync"
	"time"
)

// fetchTimeout bounds a cache fill. The fill runs detached from the caller that started it (see
// cache.get), so it needs its own bound; the warm client's operation timeout is shorter anyway.
const fetchTimeout = 10 * time.Second

// cache is a per-instance read-through cache of database answers by key: the price snapshot
// (one key) and the history answers (one key per coin and range). An answer is served while it is
// younger than the TTL; otherwise the first caller starts one read and everyone arriving
// meanwhile waits for that same read (single flight), so a burst of any size costs one command
// per key. Errors are not cached: the next call after a failed read tries again. At most limit
// answers are kept (see store).
//
// The values are shared by every caller: callers that hand them out copy them first.
type cache[K comparable, V any] struct {
	now   func() time.Time
	ttl   time.Duration
	limit int // answers kept; at least 1

	mu      sync.Mutex
	entries map[K]*cacheEntry[V] // successful reads, at most limit
	calls   map[K]*cacheCall[V]  // reads in flight, one per key at most (each ends within fetchTimeout)
	uses    uint64               // counts hits and stores: the clock of lastUse
}

// cacheEntry is one successful read.
type cacheEntry[V any] struct {
	val     V
	at      time.Time // when the read started: the data is at least this recent
	lastUse uint64    // cache.uses at its last hit or store: the eviction order
}

// cacheCall is a read in flight that concurrent callers wait for instead of reading themselves.
type cacheCall[V any] struct {
	done chan struct{} // closed when val and err are set
	val  V
	err  error
}

func newCache[K comparable, V any](now func() time.Time, ttl time.Duration, limit int) *cache[K, V] {
	return &cache[K, V]{
		now: now, ttl: ttl, limit: max(limit, 1),
		entries: map[K]*cacheEntry[V]{}, calls: map[K]*cacheCall[V]{},
	}
}

// get returns key's answer while it is younger than the TTL; otherwise it waits for the read in
// flight for key, starting it with read when there is none. read gets the time the answer will
// be dated with, so that an answer computed relative to "now" (a history range) is as old as its
// entry says. The read runs detached from the starting caller's context: if that request is
// cancelled, the others still get their answer. Each caller still stops waiting when its own
// context ends.
func (c *cache[K, V]) get(ctx context.Context, key K, read func(ctx context.Context, at time.Time) (V, error)) (V, error) {
	c.mu.Lock()
	now := c.now()
	c.uses++
	if e, ok := c.entries[key]; ok && now.Sub(e.at) < c.ttl {
		e.lastUse = c.uses
		v := e.val
		c.mu.Unlock()
		return v, nil
	}
	call := c.calls[key]
	if call == nil {
		call = &cacheCall[V]{done: make(chan struct{})}
		c.calls[key] = call
		go c.fill(context.WithoutCancel(ctx), key, call, now, read)
	}
	c.mu.Unlock()

	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// fill performs call, the read of key dated at, and publishes it.
func (c *cache[K, V]) fill(ctx context.Context, key K, call *cacheCall[V], at time.Time, read func(context.Context, time.Time) (V, error)) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	v, err := read(ctx, at)

	c.mu.Lock()
	if err == nil {
		c.store(key, v, at)
	}
	delete(c.calls, key)
	c.mu.Unlock()

	call.val, call.err = v, err
	close(call.done)
}

// store keeps v as key's answer, making room first when key is new and the cache is full:
// expired answers go first (they would be read again anyway), then the least recently used one.
// c.mu is held.
func (c *cache[K, V]) store(key K, v V, at time.Time) {
	c.uses++
	if e, ok := c.entries[key]; ok {
		e.val, e.at, e.lastUse = v, at, c.uses
		return
	}
	if len(c.entries) >= c.limit {
		now := c.now()
		for k, e := range c.entries {
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		}
	}
	for len(c.entries) >= c.limit {
		var oldest K
		first := true
		for k, e := range c.entries {
			if first || e.lastUse < c.entries[oldest].lastUse {
				oldest, first = k, false
			}
		}
		delete(c.entries, oldest)
	}
	c.entries[key] = &cacheEntry[V]{val: v, at: at, lastUse: c.uses}
}

// size is how many answers the cache keeps.
func (c *cache[K, V]) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
