package market

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

func TestBucketKeys(t *testing.T) {
	tests := []struct {
		t      time.Time
		id     string
		minute string
	}{
		{time.Date(2026, 11, 28, 9, 15, 42, 0, time.UTC), "BTC:2026-11-28", "0915"},
		{time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), "BTC:2026-11-28", "0000"},
		{time.Date(2026, 11, 28, 23, 59, 59, 999e6, time.UTC), "BTC:2026-11-28", "2359"},
		// Another zone's wall clock must not move a point to another UTC day or minute.
		{time.Date(2026, 11, 28, 1, 30, 0, 0, time.FixedZone("CET", 3600)), "BTC:2026-11-28", "0030"},
		{time.Date(2026, 11, 28, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "BTC:2026-11-27", "2330"},
	}
	for _, tc := range tests {
		if got := bucketID("BTC", tc.t); got != tc.id {
			t.Errorf("bucketID(%v) = %q, want %q", tc.t, got, tc.id)
		}
		if got := minuteKey(tc.t); got != tc.minute {
			t.Errorf("minuteKey(%v) = %q, want %q", tc.t, got, tc.minute)
		}
		if !utcDay(tc.t).Equal(time.Date(tc.t.UTC().Year(), tc.t.UTC().Month(), tc.t.UTC().Day(), 0, 0, 0, 0, time.UTC)) {
			t.Errorf("utcDay(%v) = %v", tc.t, utcDay(tc.t))
		}
	}
}

func TestParseMinuteKey(t *testing.T) {
	tests := []struct {
		key  string
		want int
		ok   bool
	}{
		{"0000", 0, true},
		{"0915", 555, true},
		{"2359", 1439, true},
		{"2400", 0, false},
		{"0960", 0, false},
		{"915", 0, false},
		{"09155", 0, false},
		{"09a5", 0, false},
		{"-915", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseMinuteKey(tc.key)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseMinuteKey(%q) = %d, %v; want %d, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCompactPoints(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]money.Price
		want map[string]money.Price
	}{
		{"empty", map[string]money.Price{}, map[string]money.Price{}},
		{"one per hour already", map[string]money.Price{"0900": 1, "1000": 2}, map[string]money.Price{"0900": 1, "1000": 2}},
		{"keeps the last of each hour",
			map[string]money.Price{"0900": 1, "0915": 2, "0959": 3, "1000": 4, "1001": 5, "2359": 6},
			map[string]money.Price{"0959": 3, "1001": 5, "2359": 6}},
		{"drops invalid keys", map[string]money.Price{"0900": 1, "junk": 9, "2500": 9}, map[string]money.Price{"0900": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := compactPoints(tc.in); !maps.Equal(got, tc.want) {
				t.Errorf("compactPoints = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDownsample(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 27, h, m, 0, 0, time.UTC) }
	pts := func(times ...time.Time) []feed.Point {
		out := make([]feed.Point, len(times))
		for i, tm := range times {
			out[i] = feed.Point{Time: tm, Price: money.Price(i + 1)}
		}
		return out
	}
	cutoff := at(12, 30)
	tests := []struct {
		name string
		in   []feed.Point
		want []time.Time
	}{
		{"nothing", nil, nil},
		{"all recent: unchanged", pts(at(12, 30), at(12, 31), at(13, 0)), []time.Time{at(12, 30), at(12, 31), at(13, 0)}},
		{"old: last of each hour", pts(at(10, 0), at(10, 30), at(10, 59), at(11, 5), at(11, 6)), []time.Time{at(10, 59), at(11, 6)}},
		// The hour that straddles the cutoff keeps its last old point and all its recent ones.
		{"straddling hour", pts(at(12, 0), at(12, 29), at(12, 30), at(12, 45)), []time.Time{at(12, 29), at(12, 30), at(12, 45)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := downsample(tc.in, cutoff)
			var times []time.Time
			for _, p := range got {
				times = append(times, p.Time)
			}
			if !slices.EqualFunc(times, tc.want, time.Time.Equal) {
				t.Errorf("downsample = %v, want %v", times, tc.want)
			}
		})
	}
}

func TestBucketPoints(t *testing.T) {
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	b := bucketDoc{Day: day, Points: map[string]money.Price{"1000": 3, "0005": 1, "0930": 2, "bad": 7, "1100": 0}}
	got := bucketPoints(b)
	want := []feed.Point{
		{Time: day.Add(5 * time.Minute), Price: 1},
		{Time: day.Add(9*time.Hour + 30*time.Minute), Price: 2},
		{Time: day.Add(10 * time.Hour), Price: 3},
	}
	if !slices.EqualFunc(got, want, func(a, b feed.Point) bool { return a.Time.Equal(b.Time) && a.Price == b.Price }) {
		t.Errorf("bucketPoints = %v, want %v (time order, invalid keys and non-positive prices skipped)", got, want)
	}
}

func TestSplitByDay(t *testing.T) {
	d1 := time.Date(2026, 11, 27, 23, 59, 30, 0, time.UTC)
	got := splitByDay([]feed.Point{
		{Time: d1, Price: 1},
		{Time: d1.Add(10 * time.Second), Price: 2}, // same minute: the later point wins
		{Time: d1.Add(time.Minute), Price: 3},      // 00:00:30 the next day
	})
	want := map[time.Time]map[string]money.Price{
		utcDay(d1):                  {"2359": 2},
		utcDay(d1.Add(time.Minute)): {"0000": 3},
	}
	if len(got) != len(want) {
		t.Fatalf("splitByDay = %v, want %v", got, want)
	}
	for d, pts := range want {
		if !maps.Equal(got[d], pts) {
			t.Errorf("day %v: %v, want %v", d, got[d], pts)
		}
	}
}
