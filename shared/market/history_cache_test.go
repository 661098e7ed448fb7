package market

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// ask is one History request: a coin, spelled as a caller may spell it, and a range.
type ask struct {
	symbol string
	days   int
}

func (a ask) String() string { return fmt.Sprintf("%s/%d", a.symbol, a.days) }

// seedHistory leaves every coin a point three days before start (an old, compacted bucket) and
// one at start (a refresh), so that a 1-day and a 7-day range differ.
func (e *testEnv) seedHistory(t *testing.T) {
	t.Helper()
	old := start.Add(-72 * time.Hour)
	docs := make([]any, 0, len(feed.Coins))
	for _, c := range feed.Coins {
		docs = append(docs, bucketDoc{ID: bucketID(c.Symbol, old), Symbol: c.Symbol, Day: utcDay(old),
			Points: map[string]money.Price{minuteKey(old): basePrices[c.Symbol]}, Compacted: true})
	}
	if _, err := e.db.Collection(HistoryCollection).InsertMany(testCtx(t), docs); err != nil {
		t.Fatalf("seed history: %v", err)
	}
	e.feed.set(quotesAt(101, 100), nil)
	mustRefresh(t, e.refresher(RefresherOptions{}))
}

// burst sends n History requests at once, the i-th asking asks[i%len(asks)], and checks each
// answer against want (by ask).
func burst(t *testing.T, s *Store, n int, asks []ask, want map[ask][]feed.Point) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		a := asks[i%len(asks)]
		wg.Go(func() {
			got, err := s.History(testCtx(t), a.symbol, a.days)
			if err == nil && !samePoints(got, want[a]) {
				err = fmt.Errorf("%d points, want %d", len(got), len(want[a]))
			}
			if err != nil {
				errs <- fmt.Errorf("History(%s): %w", a, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestHistoryCachePeriods: within a cache period, any number of requests costs one find per coin
// and range; a new period costs one more; other ranges and other coins are other entries, and the
// spellings of one coin share its entry.
func TestHistoryCachePeriods(t *testing.T) {
	e := newTestEnv(t)
	e.seedHistory(t)
	s := e.store(StoreOptions{CacheTTL: 5 * time.Second})

	all := []ask{{"BTC", 7}, {"BTC", 1}, {"BTC", 30}, {"ETH", 7}, {"SOL", 7}}
	tests := []struct {
		name    string
		advance time.Duration
		asks    []ask          // 1,000 requests at once, spread over these
		want    map[string]int // finds of the history by coin
	}{
		{"cold cache: one find for the burst", 0, []ask{{"BTC", 7}}, map[string]int{"BTC": 1}},
		{"within the TTL: none", 4 * time.Second, []ask{{"BTC", 7}, {"btc", 7}, {"bitcoin", 7}}, nil},
		{"at the TTL: one more", time.Second, []ask{{"BTC", 7}}, map[string]int{"BTC": 1}},
		{"other ranges are other entries", 0, []ask{{"BTC", 7}, {"BTC", 1}, {"BTC", 30}}, map[string]int{"BTC": 2}},
		{"other coins are other entries, spellings share one", 0,
			[]ask{{"ETH", 7}, {"ethereum", 7}, {"eth", 7}, {"SOL", 7}, {"Bitcoin", 30}}, map[string]int{"ETH": 1, "SOL": 1}},
		{"within the TTL of every entry: none", 4 * time.Second, all, nil},
		{"a new period: one find per entry", time.Second, all, map[string]int{"BTC": 3, "ETH": 1, "SOL": 1}},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		// What an uncached read answers now (a store of its own), before counting.
		want := map[ask][]feed.Point{}
		for _, a := range tc.asks {
			want[a] = e.history(t, e.clock.Now(), a.symbol, a.days)
		}
		before := e.cmds.Mark()
		burst(t, s, 1000, tc.asks, want)
		if got := e.historyFinds(before); !maps.Equal(got, tc.want) {
			t.Errorf("%s: finds by coin %v, want %v", tc.name, got, tc.want)
		}
	}
	if d1, d7 := e.history(t, e.clock.Now(), "BTC", 1), e.history(t, e.clock.Now(), "BTC", 7); len(d1) != 1 || len(d7) != 2 {
		t.Errorf("seeded history: %d points in a day, %d in a week; want 1 and 2, or the ranges prove nothing", len(d1), len(d7))
	}
}

// TestHistoryCacheTTL: an answer is served for at most the TTL from its read. A point stored in
// the meantime is not seen until the TTL ends, and is seen from then on.
func TestHistoryCacheTTL(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	s := e.store(StoreOptions{CacheTTL: 5 * time.Second})

	tests := []struct {
		name      string
		at        time.Duration // after start
		refresh   int64         // when not 0, a refresh at this price (× 1/100) first
		wantPrice int64         // × 1/100: the price of the answer's only point
		wantFinds int
	}{
		{"cold cache: read", 0, 100, 100, 1},
		{"a refresh within the TTL: the cached answer", 2 * time.Second, 101, 100, 0},
		{"just before the TTL: still cached", 5*time.Second - time.Nanosecond, 0, 100, 0},
		{"at the TTL: read again, the new point", 5 * time.Second, 0, 101, 1},
	}
	for _, tc := range tests {
		at := start.Add(tc.at)
		if tc.refresh != 0 {
			e.refreshAt(t, r, at, tc.refresh) // the same minute: its point replaces the last
		} else {
			e.clock.Advance(at.Sub(e.clock.Now()))
		}
		before := e.cmds.Mark()
		got, err := s.History(testCtx(t), "BTC", 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if want := []feed.Point{btcAt(start, tc.wantPrice)}; !samePoints(got, want) {
			t.Errorf("%s: History = %v, want %v", tc.name, got, want)
		}
		if n := e.historyFinds(before)["BTC"]; n != tc.wantFinds {
			t.Errorf("%s: %d finds, want %d", tc.name, n, tc.wantFinds)
		}
	}
}

// TestHistoryCacheBound: the cache keeps at most HistoryEntries answers. Making room drops the
// expired answers first, then the least recently used one.
func TestHistoryCacheBound(t *testing.T) {
	e := newTestEnv(t)
	e.seedHistory(t)
	s := e.store(StoreOptions{CacheTTL: 5 * time.Second, HistoryEntries: 3})

	tests := []struct {
		name      string
		advance   time.Duration
		ask       ask
		wantFinds int
		wantSize  int
	}{
		{"A", 0, ask{"BTC", 1}, 1, 1},
		{"B", 0, ask{"BTC", 7}, 1, 2},
		{"C", 0, ask{"ETH", 7}, 1, 3},
		{"A again: cached, now the most recently used", time.Second, ask{"BTC", 1}, 0, 3},
		{"D: full, B (least recently used) makes room", 0, ask{"SOL", 7}, 1, 3},
		{"A: kept", 0, ask{"BTC", 1}, 0, 3},
		{"C: kept", 0, ask{"ETH", 7}, 0, 3},
		{"D: kept", 0, ask{"SOL", 7}, 0, 3},
		{"B: evicted, read again; A makes room", 0, ask{"BTC", 7}, 1, 3},
		{"C: kept", 0, ask{"ETH", 7}, 0, 3},
		// C (read at 0 s) has expired at 5 s; D and B (read at 1 s) have not. C was used after D,
		// yet it goes first, as expired.
		{"E at 5 s: full, the expired C makes room", 4 * time.Second, ask{"BTC", 30}, 1, 3},
		{"D: kept", 0, ask{"SOL", 7}, 0, 3},
		{"B: kept", 0, ask{"BTC", 7}, 0, 3},
		{"E: kept", 0, ask{"BTC", 30}, 0, 3},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		before := e.cmds.Mark()
		if _, err := s.History(testCtx(t), tc.ask.symbol, tc.ask.days); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := len(e.cmds.Since(before)); n != tc.wantFinds {
			t.Errorf("%s (%s): %d commands, want %d", tc.name, tc.ask, n, tc.wantFinds)
		}
		if n := s.histories.size(); n != tc.wantSize {
			t.Errorf("%s (%s): %d answers kept, want %d", tc.name, tc.ask, n, tc.wantSize)
		}
	}

	// The default bound: a few ranges per coin, however many are asked for.
	s = e.store(StoreOptions{})
	for _, c := range feed.Coins {
		for days := range 6 {
			if _, err := s.History(testCtx(t), c.Symbol, days+1); err != nil {
				t.Fatalf("History(%s, %d): %v", c.Symbol, days+1, err)
			}
		}
	}
	if n, want := s.histories.size(), DefaultHistoryRangesPerCoin*len(feed.Coins); n != want {
		t.Errorf("default bound: %d answers kept after %d ranges, want %d", n, 6*len(feed.Coins), want)
	}
}

// TestHistoryCacheErrors: a failed read is not cached, and past the TTL a failed read is an error,
// not the expired answer.
func TestHistoryCacheErrors(t *testing.T) {
	e := newTestEnv(t)
	e.seedHistory(t)
	s := e.store(StoreOptions{CacheTTL: 5 * time.Second})

	tests := []struct {
		name      string
		advance   time.Duration
		fail      bool // the next find fails
		wantErr   bool
		wantFinds int
	}{
		{"a failed read is an error", 0, true, true, 1},
		{"not cached: the next request reads again", 0, false, false, 1},
		{"then cached", time.Second, false, false, 0},
		{"past the TTL, a failed read is an error, not the expired answer", 5 * time.Second, true, true, 1},
		{"the next request reads again", 0, false, false, 1},
		{"then cached", time.Second, false, false, 0},
	}
	for _, tc := range tests {
		e.clock.Advance(tc.advance)
		if tc.fail {
			e.srv.Inject(devdb.Fault{Command: "find", Times: 1, ErrorCode: 2, ErrorMessage: "injected"})
		}
		before := e.cmds.Mark()
		pts, err := s.History(testCtx(t), "BTC", 7)
		if gotErr := err != nil; gotErr != tc.wantErr {
			t.Errorf("%s: History error = %v, want an error: %v", tc.name, err, tc.wantErr)
		}
		if err == nil && len(pts) != 2 {
			t.Errorf("%s: %d points, want 2", tc.name, len(pts))
		}
		if n := e.historyFinds(before)["BTC"]; n != tc.wantFinds {
			t.Errorf("%s: %d finds, want %d", tc.name, n, tc.wantFinds)
		}
	}
}

// TestHistoryCacheSingleFlight: concurrent requests for an entry wait for one find, each slow
// enough that every request arrives while it is in flight; requests for other entries do not
// wait for it but run their own.
func TestHistoryCacheSingleFlight(t *testing.T) {
	e := newTestEnv(t)
	e.seedHistory(t)
	s := e.store(StoreOptions{})
	asks := []ask{{"BTC", 7}, {"bitcoin", 7}, {"ETH", 1}}
	want := map[ask][]feed.Point{}
	for _, a := range asks {
		want[a] = e.history(t, e.clock.Now(), a.symbol, a.days)
	}

	e.srv.Inject(devdb.Fault{Command: "find", Delay: 300 * time.Millisecond})
	defer e.srv.ClearFaults()
	before := e.cmds.Mark()
	burst(t, s, 1000, asks, want)
	if got, wantFinds := e.historyFinds(before), map[string]int{"BTC": 1, "ETH": 1}; !maps.Equal(got, wantFinds) {
		t.Errorf("finds by coin %v, want %v", got, wantFinds)
	}
	// Each find overlapped every other: the two entries were read side by side, not in turn.
	if lv := e.cmds.Levels(before); len(lv) != 1 {
		t.Errorf("command chain %v, want the finds side by side", lv)
	}
}

// TestHistoryCacheAnswerIsTheCallers: a caller may change the slice it got without changing what
// the next caller gets.
func TestHistoryCacheAnswerIsTheCallers(t *testing.T) {
	e := newTestEnv(t)
	e.seedHistory(t)
	s := e.store(StoreOptions{})
	first, err := s.History(testCtx(t), "BTC", 7)
	if err != nil || len(first) == 0 {
		t.Fatalf("History = %v, %v", first, err)
	}
	want := slices.Clone(first)
	first[0].Price = 0
	if second, err := s.History(testCtx(t), "BTC", 7); err != nil || !samePoints(second, want) {
		t.Errorf("second History = %v, %v; want %v", second, err, want)
	}
}
