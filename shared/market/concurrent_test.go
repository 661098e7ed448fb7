package market

import (
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
)

// TestOverlappingRefreshes runs three refreshes at once per round (two on one Refresher, one on
// another, as the local server and a Lambda instance could), round after round, and checks that
// the stored prices and the history agree with what a single refresh per round would leave.
func TestOverlappingRefreshes(t *testing.T) {
	e := newTestEnv(t)
	runners := []*Refresher{e.refresher(RefresherOptions{}), nil, e.refresher(RefresherOptions{})}
	runners[1] = runners[0]
	const rounds = 6

	stored := 0
	for round := range rounds {
		e.clock.Advance(time.Minute)
		num := int64(100 + round)
		e.feed.set(quotesAt(num, 100), nil)

		results := make([]Result, len(runners))
		errs := make([]error, len(runners))
		var wg sync.WaitGroup
		for i, r := range runners {
			wg.Go(func() { results[i], errs[i] = r.Refresh(testCtx(t)) })
		}
		wg.Wait()

		roundStored := 0
		for i, res := range results {
			if errs[i] != nil {
				t.Fatalf("round %d, run %d: %v", round, i, errs[i])
			}
			// Every quote is accounted for: stored, or superseded by an overlapping run.
			if res.Stored+res.Superseded != len(feed.Coins) || res.Held != 0 || res.Rejected != 0 {
				t.Errorf("round %d, run %d: %+v", round, i, res)
			}
			roundStored += res.Stored
		}
		if roundStored < len(feed.Coins) {
			t.Errorf("round %d: %d prices stored in all, want at least one per coin", round, roundStored)
		}
		stored += roundStored

		for sym, d := range e.rawPrices(t) {
			if want := scaled(basePrices[sym], num, 100); d.Price != int64(want) || !d.UpdatedAt.Equal(e.clock.Now()) {
				t.Errorf("round %d: %s = %d at %v, want %d at %v", round, sym, d.Price, d.UpdatedAt, want, e.clock.Now())
			}
		}
	}

	// Each write bumped its coin's version once: the versions add up to the writes reported.
	versions := int64(0)
	for _, d := range e.rawPrices(t) {
		versions += d.Version
	}
	if versions != int64(stored) {
		t.Errorf("versions add up to %d, runs reported %d writes", versions, stored)
	}

	// One point per minute per coin, each the price of its round: none lost, none doubled.
	for _, c := range feed.Coins {
		b := e.rawBuckets(t, c.Symbol)[bucketID(c.Symbol, start)]
		if len(b.Points) != rounds {
			t.Errorf("%s: %d points, want %d", c.Symbol, len(b.Points), rounds)
		}
		for round := range rounds {
			key := minuteKey(start.Add(time.Duration(round+1) * time.Minute))
			if want := int64(scaled(basePrices[c.Symbol], int64(100+round), 100)); b.Points[key] != want {
				t.Errorf("%s %s = %d, want %d", c.Symbol, key, b.Points[key], want)
			}
		}
	}
	if pts := e.history(t, e.clock.Now(), "BTC", 1); len(pts) != rounds {
		t.Errorf("History(BTC, 1) = %d points, want %d", len(pts), rounds)
	}
}

// TestOverlappingBackfill: two instances starting at once both find no history and backfill the
// same days; the second one's inserts are duplicates, which are skipped, not errors.
func TestOverlappingBackfill(t *testing.T) {
	e := newTestEnv(t)
	fed := hourlyHistory(start, 30, time.Hour)
	e.feed.setHistory(map[string][]feed.Point{"BTC": fed}, nil)
	e.feed.set(quotesAt(100, 100), nil)
	runners := []*Refresher{e.refresher(RefresherOptions{BackfillDays: 30}), e.refresher(RefresherOptions{BackfillDays: 30})}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() {
			if _, err := r.Refresh(testCtx(t)); err != nil {
				t.Errorf("Refresh: %v", err)
			}
		})
	}
	wg.Wait()
	if _, calls := e.feed.calls(); calls["BTC"] != 2 {
		t.Logf("History asked %d times: the runs did not overlap this time", calls["BTC"])
	}
	if n := len(e.rawBuckets(t, "BTC")); n != 31 {
		t.Errorf("%d BTC buckets, want 31", n)
	}
	if got, want := e.history(t, start, "BTC", 30), expectedHistory(fed, btcAt(start, 100), start, 30); !samePoints(got, want) {
		t.Errorf("History(BTC, 30): %d points, want %d", len(got), len(want))
	}
}

// TestOverlappingHolds: overlapping runs that both see the same outlier hold it (once or twice,
// never applied), and the confirmation is then applied once the runs agree.
func TestOverlappingHolds(t *testing.T) {
	e := newTestEnv(t)
	a, b := e.refresher(RefresherOptions{}), e.refresher(RefresherOptions{})
	e.feed.set(quotesAt(100, 100), nil)
	mustRefresh(t, a)

	for _, num := range []int64{170, 172} { // +70 %: held; then within 5 % of it: accepted
		e.clock.Advance(time.Minute)
		e.feed.set(quotesAt(num, 100), nil)
		var wg sync.WaitGroup
		for _, r := range []*Refresher{a, b} {
			wg.Go(func() {
				if _, err := r.Refresh(testCtx(t)); err != nil {
					t.Errorf("Refresh: %v", err)
				}
			})
		}
		wg.Wait()
	}
	for sym, d := range e.rawPrices(t) {
		if want := scaled(basePrices[sym], 172, 100); d.Price != int64(want) || d.Held != nil {
			t.Errorf("%s = %d (held %+v), want %d and nothing held", sym, d.Price, d.Held, want)
		}
	}
}

// TestStaleDecisionIsNotWritten makes another run store a price exactly between a run's read and
// its write. The late run decided from an outdated document: its write must not apply (the
// version condition), or it would confirm a held jump that the other run had already cleared.
func TestStaleDecisionIsNotWritten(t *testing.T) {
	e := newTestEnv(t)
	late, other := e.refresher(RefresherOptions{}), e.refresher(RefresherOptions{})
	base := basePrices["BTC"]
	e.refreshAt(t, late, start, 100)
	e.clock.Advance(time.Minute)
	e.feed.set([]feed.Quote{quote("BTC", scaled(base, 160, 100))}, nil)
	if res := mustRefresh(t, late); res.Held != 1 {
		t.Fatalf("setup: %+v, want the +60 %% quote held", res)
	}

	e.clock.Advance(time.Minute)
	e.feed.mu.Lock()
	e.feed.beforeQuotes = func() {
		// The late run has read BTC (stored base, held +60 %). Another run now stores a normal
		// price, which clears the held quote.
		e.feed.set([]feed.Quote{quote("BTC", scaled(base, 101, 100))}, nil)
		if res, err := other.Refresh(testCtx(t)); err != nil || res.Stored != 1 {
			t.Errorf("the other run: %+v, %v", res, err)
		}
		// The late run gets a quote that confirms the held jump it read about.
		e.feed.set([]feed.Quote{quote("BTC", scaled(base, 163, 100))}, nil)
	}
	e.feed.mu.Unlock()

	res := mustRefresh(t, late)
	if res.Superseded != 1 || res.Stored != 0 {
		t.Fatalf("late run = %+v, want its write superseded", res)
	}
	d := e.rawPrices(t)["BTC"]
	if d.Price != int64(scaled(base, 101, 100)) || d.Held != nil {
		t.Errorf("BTC = %d held %+v, want the other run's %d", d.Price, d.Held, scaled(base, 101, 100))
	}
	// Nor did the late run append its point: the minute's point is the stored price.
	if pts := e.rawBuckets(t, "BTC")[bucketID("BTC", start)].Points; pts[minuteKey(e.clock.Now())] != d.Price {
		t.Errorf("history point %d, want the stored price %d", pts[minuteKey(e.clock.Now())], d.Price)
	}
}
