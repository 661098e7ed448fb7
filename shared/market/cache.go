package market

import (
	"context"
	"slices"
	"time"
)

// fetchTimeout bounds a cache fill. The fill runs detached from the caller that started it (see
// cached), so it needs its own bound; the warm client's operation timeout is shorter anyway.
const fetchTimeout = 10 * time.Second

// snapshot is one read of the prices collection.
type snapshot struct {
	prices []Price
	at     time.Time // when the read started: the data is at least this recent
}

// fetchCall is a read in flight that concurrent callers wait for instead of reading themselves.
type fetchCall struct {
	done   chan struct{} // closed when prices and err are set
	prices []Price
	err    error
}

// cached returns the prices from the snapshot while it is younger than the TTL; otherwise the
// first caller starts one read and everyone arriving meanwhile waits for that same read
// (single-flight), so a burst of any size costs one find. The read runs detached from the
// starting caller's context: if that request is cancelled, the others still get their prices.
// Each caller still stops waiting when its own context ends. Errors are not cached: the next call
// after a failed read tries again.
func (s *Store) cached(ctx context.Context) ([]Price, error) {
	s.mu.Lock()
	now := s.now()
	if s.snap != nil && now.Sub(s.snap.at) < s.ttl {
		prices := s.snap.prices
		s.mu.Unlock()
		return slices.Clone(prices), nil
	}
	c := s.call
	if c == nil {
		c = &fetchCall{done: make(chan struct{})}
		s.call = c
		go s.fill(context.WithoutCancel(ctx), c, now)
	}
	s.mu.Unlock()

	select {
	case <-c.done:
		return slices.Clone(c.prices), c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fill performs the read of call c, started at time at, and publishes it.
func (s *Store) fill(ctx context.Context, c *fetchCall, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	prices, err := s.read(ctx)

	s.mu.Lock()
	if err == nil {
		s.snap = &snapshot{prices: prices, at: at}
	}
	s.call = nil
	s.mu.Unlock()

	c.prices, c.err = prices, err
	close(c.done)
}

// read is one find of the prices collection.
func (s *Store) read(ctx context.Context) ([]Price, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := loadPrices(ctx, db)
	if err != nil {
		return nil, err
	}
	return sortedPrices(docs), nil
}
