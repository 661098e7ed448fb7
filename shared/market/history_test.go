package market

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// refreshAt sets the clock to at, quotes every coin at its base price × num/100 and refreshes.
func (e *testEnv) refreshAt(t *testing.T, r *Refresher, at time.Time, num int64) Result {
	t.Helper()
	e.clock.Advance(at.Sub(e.clock.Now()))
	e.feed.set(quotesAt(num, 100), nil)
	return mustRefresh(t, r)
}

// history calls History on a store whose clock reads now.
func (e *testEnv) history(t *testing.T, now time.Time, symbol string, days int) []feed.Point {
	t.Helper()
	pts, err := e.store(StoreOptions{Now: func() time.Time { return now }}).History(testCtx(t), symbol, days)
	if err != nil {
		t.Fatalf("History(%s, %d): %v", symbol, days, err)
	}
	return pts
}

// btcAt is the point a refreshAt(…, num) leaves for BTC at time at (minute precision).
func btcAt(at time.Time, num int64) feed.Point {
	return feed.Point{Time: at.Truncate(time.Minute), Price: scaled(basePrices["BTC"], num, 100)}
}

func samePoints(a, b []feed.Point) bool {
	return slices.EqualFunc(a, b, func(x, y feed.Point) bool { return x.Time.Equal(y.Time) && x.Price == y.Price })
}

func TestHistoryMinutePoints(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	at := func(m, s int) time.Time { return time.Date(2026, 11, 28, 9, m, s, 0, time.UTC) }
	e.refreshAt(t, r, at(15, 0), 100)
	e.refreshAt(t, r, at(15, 30), 101) // the same minute: its point replaces the first
	e.refreshAt(t, r, at(16, 10), 102)
	e.refreshAt(t, r, at(17, 5), 103)
	e.refreshAt(t, r, at(19, 0), 104)

	want := []feed.Point{btcAt(at(15, 0), 101), btcAt(at(16, 0), 102), btcAt(at(17, 0), 103), btcAt(at(19, 0), 104)}
	for _, sym := range []string{"BTC", "btc", "bitcoin"} {
		if got := e.history(t, at(19, 30), sym, 1); !samePoints(got, want) {
			t.Errorf("History(%s, 1) = %v\nwant %v", sym, got, want)
		}
	}
	b := e.rawBuckets(t, "BTC")["BTC:2026-11-28"]
	if len(b.Points) != 4 || b.Compacted || b.Symbol != "BTC" || !b.Day.Equal(utcDay(start)) {
		t.Errorf("bucket = %+v, want 4 minute points, not compacted", b)
	}
	if len(e.rawBuckets(t, "ETH")["ETH:2026-11-28"].Points) != 4 {
		t.Error("every stored coin gets its point")
	}
}

// TestHistoryAcrossDays moves the clock over several days: minute points within the last 24 h,
// hourly points beyond, before compaction (on read) and after it (stored).
func TestHistoryAcrossDays(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	e.refreshAt(t, r, at(25, 10, 0), 100)
	e.refreshAt(t, r, at(25, 10, 30), 101)
	e.refreshAt(t, r, at(25, 10, 59), 102)
	e.refreshAt(t, r, at(25, 11, 10), 103)

	// A day later, before any compaction, a read already returns hourly points beyond 24 h.
	got := e.history(t, at(26, 12, 0), "BTC", 7)
	if want := []feed.Point{btcAt(at(25, 10, 59), 102), btcAt(at(25, 11, 10), 103)}; !samePoints(got, want) {
		t.Errorf("History before compaction = %v\nwant %v", got, want)
	}
	if b := e.rawBuckets(t, "BTC")["BTC:2026-11-25"]; b.Compacted || len(b.Points) != 4 {
		t.Fatalf("Nov 25 compacted too early: %+v", b)
	}

	// The first run of Nov 27 compacts Nov 25 (it ended more than 24 h ago) for every coin.
	res := e.refreshAt(t, r, at(27, 9, 0), 104)
	if res.Compacted != len(feed.Coins) {
		t.Errorf("compacted %d buckets, want %d", res.Compacted, len(feed.Coins))
	}
	e.refreshAt(t, r, at(27, 9, 30), 105)
	b := e.rawBuckets(t, "BTC")["BTC:2026-11-25"]
	if !b.Compacted || !maps.Equal(b.Points, map[string]int64{"1059": int64(scaled(basePrices["BTC"], 102, 100)), "1110": int64(scaled(basePrices["BTC"], 103, 100))}) {
		t.Errorf("Nov 25 after compaction = %+v, want the last point of hours 10 and 11", b)
	}

	// Nov 28 09:15: Nov 27 still holds minute points (some are within 24 h).
	e.refreshAt(t, r, at(28, 9, 15), 106)
	if b := e.rawBuckets(t, "BTC")["BTC:2026-11-27"]; b.Compacted || len(b.Points) != 2 {
		t.Errorf("Nov 27 = %+v, want its minute points", b)
	}
	now := at(28, 9, 15)
	tests := []struct {
		days int
		want []feed.Point
	}{
		{1, []feed.Point{btcAt(at(27, 9, 30), 105), btcAt(now, 106)}},
		// 09:00 on Nov 27 is 24 h 15 min old: the last old point of its hour, kept.
		{2, []feed.Point{btcAt(at(27, 9, 0), 104), btcAt(at(27, 9, 30), 105), btcAt(now, 106)}},
		{7, []feed.Point{btcAt(at(25, 10, 59), 102), btcAt(at(25, 11, 10), 103), btcAt(at(27, 9, 0), 104), btcAt(at(27, 9, 30), 105), btcAt(now, 106)}},
		{365, []feed.Point{btcAt(at(25, 10, 59), 102), btcAt(at(25, 11, 10), 103), btcAt(at(27, 9, 0), 104), btcAt(at(27, 9, 30), 105), btcAt(now, 106)}},
	}
	for _, tc := range tests {
		if got := e.history(t, now, "BTC", tc.days); !samePoints(got, tc.want) {
			t.Errorf("History(BTC, %d) = %v\nwant %v", tc.days, got, tc.want)
		}
	}

	// Nov 29: Nov 27 is compacted to the last point of hour 9.
	e.refreshAt(t, r, at(29, 10, 0), 107)
	if b := e.rawBuckets(t, "BTC")["BTC:2026-11-27"]; !b.Compacted || len(b.Points) != 1 || b.Points["0930"] == 0 {
		t.Errorf("Nov 27 after its compaction = %+v", b)
	}
}

func TestHistoryRetention(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{})
	e.refreshAt(t, r, start, 100)
	first := bucketID("BTC", start)

	// A year and a day later the first day is still kept (the API serves 365 days)...
	res := e.refreshAt(t, r, start.AddDate(0, 0, 366), 100)
	if res.Deleted != 0 {
		t.Errorf("deleted %d buckets after 366 days", res.Deleted)
	}
	if b, ok := e.rawBuckets(t, "BTC")[first]; !ok || !b.Compacted {
		t.Fatalf("first bucket after 366 days: %+v, %v; want kept and compacted", b, ok)
	}
	// ...and gone once it is more than 400 days old, for every coin; later days stay.
	res = e.refreshAt(t, r, start.AddDate(0, 0, 401), 100)
	if res.Deleted != len(feed.Coins) {
		t.Errorf("deleted %d buckets, want %d", res.Deleted, len(feed.Coins))
	}
	buckets := e.rawBuckets(t, "BTC")
	if _, ok := buckets[first]; ok {
		t.Error("a bucket older than 400 days survived")
	}
	if len(buckets) != 2 {
		t.Errorf("%d BTC buckets left, want the days 366 and 401", len(buckets))
	}
}

func TestHousekeepingOncePerDay(t *testing.T) {
	e := newTestEnv(t)
	r := e.refresher(RefresherOptions{BackfillDays: 3})
	deletes := func() int { return e.srv.CommandCounts()["delete"] }

	tests := []struct {
		name string
		at   time.Time
		want int // housekeeping runs (one deleteMany each)
	}{
		{"first run of the instance", start, 1},
		{"same day", start.Add(10 * time.Minute), 0},
		{"same day, later", start.Add(14 * time.Hour), 0},
		{"first run of the next UTC day", utcDay(start).AddDate(0, 0, 1).Add(time.Second), 1},
		{"again that day", utcDay(start).AddDate(0, 0, 1).Add(time.Hour), 0},
	}
	for _, tc := range tests {
		before := deletes()
		e.refreshAt(t, r, tc.at, 100)
		if got := deletes() - before; got != tc.want {
			t.Errorf("%s: housekeeping ran %d times, want %d", tc.name, got, tc.want)
		}
	}
}

// hourlyHistory is a feed history of the last days days up to now, one point every step, the
// price growing by one unit per point so that every point is recognisable.
func hourlyHistory(now time.Time, days int, step time.Duration) []feed.Point {
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	var pts []feed.Point
	for i, t := 0, from; !t.After(now); i, t = i+1, t.Add(step) {
		pts = append(pts, feed.Point{Time: t, Price: basePrices["BTC"] + money.Price(i)})
	}
	return pts
}

// expectedHistory is what History must return for a feed history plus the live point at now: a
// plain model of the rules (range, last point per hour beyond 24 h, everything within).
func expectedHistory(fed []feed.Point, live feed.Point, now time.Time, days int) []feed.Point {
	from, cutoff := now.Add(-time.Duration(days)*24*time.Hour), now.Add(-24*time.Hour)
	lastOfHour := map[time.Time]feed.Point{}
	var recent []feed.Point
	for _, p := range fed {
		switch {
		case p.Time.Before(from) || !p.Time.Before(now.Truncate(time.Minute)):
		case p.Time.Before(cutoff):
			lastOfHour[p.Time.Truncate(time.Hour)] = p
		default:
			recent = append(recent, p)
		}
	}
	out := slices.Collect(maps.Values(lastOfHour))
	out = append(out, recent...)
	out = append(out, live)
	slices.SortFunc(out, func(a, b feed.Point) int { return a.Time.Compare(b.Time) })
	return out
}

func TestHistoryBackfill(t *testing.T) {
	e := newTestEnv(t)
	fed := hourlyHistory(start, 10, 15*time.Minute)
	e.feed.setHistory(map[string][]feed.Point{"BTC": fed}, nil)
	r := e.refresher(RefresherOptions{BackfillDays: 10})

	res := e.refreshAt(t, r, start, 100)
	if !slices.Equal(res.Backfilled, []string{"BTC"}) {
		t.Fatalf("backfilled %v, want BTC (the only coin the feed has history for)", res.Backfilled)
	}
	buckets := e.rawBuckets(t, "BTC")
	if len(buckets) != 11 {
		t.Errorf("%d buckets, want 11 (Nov 18-28)", len(buckets))
	}
	for id, b := range buckets {
		old := b.Day.Before(utcDay(start).AddDate(0, 0, -1))
		if b.Compacted != old || (old && len(b.Points) > 24) {
			t.Errorf("%s: compacted %v with %d points; days before yesterday are written hourly", id, b.Compacted, len(b.Points))
		}
	}

	live := btcAt(start, 100)
	for _, days := range []int{1, 7, 10} {
		got := e.history(t, start, "BTC", days)
		if want := expectedHistory(fed, live, start, days); !samePoints(got, want) {
			t.Errorf("History(BTC, %d): %d points, want %d\n got %v\nwant %v", days, len(got), len(want), head(got), head(want))
		}
	}

	// Backfill is for coins without any history: the next day every coin has some (BTC from the
	// backfill, the others from yesterday's live point), so the feed is not asked again.
	e.refreshAt(t, r, start.Add(24*time.Hour), 100)
	if _, calls := e.feed.calls(); calls["BTC"] != 1 || calls["ETH"] != 1 {
		t.Errorf("History calls = %v, want one per coin", calls)
	}
}

func TestHistoryBackfillFeedError(t *testing.T) {
	e := newTestEnv(t)
	e.feed.setHistory(nil, errors.New("rate limited"))
	r := e.refresher(RefresherOptions{BackfillDays: 5})
	res := e.refreshAt(t, r, start, 100)
	if len(res.Backfilled) != 0 || res.Stored != len(feed.Coins) {
		t.Fatalf("result = %+v: a failing History must not stop the prices", res)
	}
	// Retried after housekeepingRetry, not at every run and not only tomorrow.
	e.feed.setHistory(map[string][]feed.Point{"BTC": hourlyHistory(start.Add(5*time.Minute), 5, time.Hour)}, nil)
	e.refreshAt(t, r, start.Add(5*time.Minute), 100)
	if _, calls := e.feed.calls(); calls["BTC"] != 1 {
		t.Errorf("History asked again %d times within the retry delay", calls["BTC"]-1)
	}
	res = e.refreshAt(t, r, start.Add(housekeepingRetry+time.Second), 100)
	if !slices.Equal(res.Backfilled, []string{"BTC"}) {
		t.Errorf("backfilled %v after the retry delay, want BTC", res.Backfilled)
	}
}

func TestHistoryBackfillYear(t *testing.T) {
	e := newTestEnv(t)
	fed := hourlyHistory(start, 365, time.Hour)
	e.feed.setHistory(map[string][]feed.Point{"BTC": fed}, nil)
	r := e.refresher(RefresherOptions{BackfillDays: DefaultBackfillDays})
	began := time.Now()
	e.refreshAt(t, r, start, 100)
	t.Logf("a year of hourly history backfilled in %v", time.Since(began))
	if n := len(e.rawBuckets(t, "BTC")); n != 366 {
		t.Errorf("%d buckets, want 366", n)
	}
	got := e.history(t, start, "BTC", 365)
	if want := expectedHistory(fed, btcAt(start, 100), start, 365); !samePoints(got, want) {
		t.Errorf("History(BTC, 365): %d points, want %d", len(got), len(want))
	}
}

func TestHistoryArguments(t *testing.T) {
	e := newTestEnv(t)
	s := e.store(StoreOptions{})
	tests := []struct {
		symbol  string
		days    int
		wantErr error
	}{
		{"BTC", 0, ErrInvalidDays},
		{"BTC", -1, ErrInvalidDays},
		{"BTC", 366, ErrInvalidDays},
		{"FOO", 7, ErrUnknownCoin},
		{"BTC", 1, nil},
		{"BTC", 365, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s_%d", tc.symbol, tc.days), func(t *testing.T) {
			pts, err := s.History(testCtx(t), tc.symbol, tc.days)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("History error = %v, want %v", err, tc.wantErr)
			}
			if err == nil && len(pts) != 0 {
				t.Errorf("History without any stored history = %v, want none", pts)
			}
		})
	}
}

// head shortens a long list of points for a failure message.
func head(pts []feed.Point) []feed.Point {
	if len(pts) > 6 {
		return pts[:6]
	}
	return pts
}
