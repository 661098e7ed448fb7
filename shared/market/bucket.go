package market

import (
	"slices"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// History retention and resolution.
const (
	// minuteWindow is how far back history keeps (and returns) minute points; older points are
	// hourly: the last point of each hour.
	minuteWindow = 24 * time.Hour
	// retentionDays: buckets of days older than this are deleted. It exceeds the 365 days the API
	// serves, so a year of history is always complete.
	retentionDays = 400
	// MaxHistoryDays is the longest range History serves (api.md: days 1-365).
	MaxHistoryDays = feed.MaxHistoryDays
)

// bucketDoc is a document of the price_history collection (see the package documentation).
type bucketDoc struct {
	ID        string                 `bson:"_id"`
	Symbol    string                 `bson:"symbol"`
	Day       time.Time              `bson:"day"`
	Points    map[string]money.Price `bson:"points"`
	Compacted bool                   `bson:"compacted"`
}

// utcDay is the start (00:00 UTC) of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// bucketID is the _id of symbol's bucket for the UTC day of t: "BTC:2026-11-28".
func bucketID(symbol string, t time.Time) string {
	return symbol + ":" + t.UTC().Format(time.DateOnly)
}

// minuteKey is the points key of t's minute within its UTC day: "0915". Four digits, so the keys
// of a day sort in time order as strings.
func minuteKey(t time.Time) string {
	return t.UTC().Format("1504")
}

// parseMinuteKey is the minute of day of a points key, ok false for anything but a valid "HHMM".
func parseMinuteKey(k string) (int, bool) {
	if len(k) != 4 {
		return 0, false
	}
	n := 0
	for i := range 4 {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	h, m := n/100, n%100
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// bucketPoints is the points of a bucket as times and prices, in time order. Invalid keys and
// non-positive prices (never written by this package) are skipped rather than failing a read.
func bucketPoints(b bucketDoc) []feed.Point {
	day := utcDay(b.Day)
	out := make([]feed.Point, 0, len(b.Points))
	for k, p := range b.Points {
		m, ok := parseMinuteKey(k)
		if !ok || p <= 0 {
			continue
		}
		out = append(out, feed.Point{Time: day.Add(time.Duration(m) * time.Minute), Price: p})
	}
	slices.SortFunc(out, func(a, b feed.Point) int { return a.Time.Compare(b.Time) })
	return out
}

// compactPoints keeps the last point of each hour of a day's points (the hourly resolution of days
// older than minuteWindow). Keys that are not valid minutes are dropped.
func compactPoints(points map[string]money.Price) map[string]money.Price {
	last := map[int]string{} // hour → its latest key
	for k := range points {
		m, ok := parseMinuteKey(k)
		if !ok {
			continue
		}
		if cur, seen := last[m/60]; !seen || k > cur { // same-length digit keys: string order is time order
			last[m/60] = k
		}
	}
	out := make(map[string]money.Price, len(last))
	for _, k := range last {
		out[k] = points[k]
	}
	return out
}

// downsample returns points (in time order) with those before cutoff reduced to the last point of
// each hour, the others unchanged. History applies it on read, so its answer has the documented
// resolution whether or not the daily compaction has run yet.
func downsample(points []feed.Point, cutoff time.Time) []feed.Point {
	out := make([]feed.Point, 0, len(points))
	for i, p := range points {
		if p.Time.Before(cutoff) {
			next := i + 1
			// Drop p when the next point is also old and in the same hour: p is not the hour's last.
			if next < len(points) && points[next].Time.Before(cutoff) &&
				points[next].Time.Truncate(time.Hour).Equal(p.Time.Truncate(time.Hour)) {
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

// splitByDay groups points by UTC day, as bucket maps keyed by minute; a later point of the same
// minute wins, as a later $set would.
func splitByDay(points []feed.Point) map[time.Time]map[string]money.Price {
	days := map[time.Time]map[string]money.Price{}
	for _, p := range points {
		d := utcDay(p.Time)
		if days[d] == nil {
			days[d] = map[string]money.Price{}
		}
		days[d][minuteKey(p.Time)] = p.Price
	}
	return days
}
