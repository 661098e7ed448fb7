package feed_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

// fixedNow is the clock of every test that needs one: a minute after the fixture's last_updated.
var fixedNow = time.Date(2026, 11, 28, 9, 15, 31, 0, time.UTC)

func clock() time.Time { return fixedNow }

// reply is one canned HTTP answer of the fake CoinGecko.
type reply struct {
	status int
	header map[string]string
	body   string
}

// upstream is a fake CoinGecko: it answers requests with the queued replies in order (the last
// one repeats) and records what it received.
type upstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	replies  []reply
	requests []*http.Request
}

func startUpstream(t *testing.T, replies ...reply) *upstream {
	t.Helper()
	u := &upstream{replies: replies}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests = append(u.requests, r.Clone(context.Background()))
		rep := u.replies[0]
		if len(u.replies) > 1 {
			u.replies = u.replies[1:]
		}
		u.mu.Unlock()
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) received() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.requests...)
}

// sleeps records the waits a feed asks for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// testLogger returns a logger writing text lines into the returned buffer.
func testLogger() (*slog.Logger, *logbuf.Buffer) {
	buf := &logbuf.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// newCoinGecko builds a CoinGecko feed against u whose retries wait on s instead of the clock.
func newCoinGecko(t *testing.T, u *upstream, s *sleeps, opts feed.Options) feed.Feed {
	t.Helper()
	opts.BaseURL = u.srv.URL
	if opts.Now == nil {
		opts.Now = clock
	}
	f, err := feed.New(context.Background(), "coingecko", opts)
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		feed.SetSleep(f, s.sleep)
	}
	return f
}

// readFixture returns a file of testdata.
func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// patchMarkets returns the markets fixture with one field of one coin replaced by raw JSON text
// (or removed when raw is "").
func patchMarkets(t *testing.T, id, field, raw string) string {
	t.Helper()
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(readFixture(t, "markets.json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if string(r["id"]) != `"`+id+`"` {
			continue
		}
		if raw == "" {
			delete(r, field)
		} else {
			r[field] = json.RawMessage(raw)
		}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withoutCoins returns the markets fixture without the given coin ids.
func withoutCoins(t *testing.T, ids ...string) string {
	t.Helper()
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(readFixture(t, "markets.json")), &rows); err != nil {
		t.Fatal(err)
	}
	kept := rows[:0]
	for _, r := range rows {
		drop := false
		for _, id := range ids {
			drop = drop || string(r["id"]) == `"`+id+`"`
		}
		if !drop {
			kept = append(kept, r)
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func symbols(qs []feed.Quote) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Symbol
	}
	return out
}
