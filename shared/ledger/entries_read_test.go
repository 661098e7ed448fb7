package ledger

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

// roundTripDelay is added to every command while a test counts round trips, so that commands sent
// together overlap whatever the scheduler does.
const roundTripDelay = 20 * time.Millisecond

// The command chains of Entries (cmdlog.Levels).
var (
	fastPath    = []string{"aggregate find find"}                                    // account ∥ page ∥ count
	rereadPath  = []string{"aggregate find find", "aggregate find"}                  // then page ∥ count again
	cleanPath   = []string{"aggregate find find", "aggregate find update"}           // ... ∥ clear pending
	flushedPath = []string{"aggregate find find", "insert", "aggregate find update"} // insert first
)

// ledgerEntry is an entry as stored, in transactions or pending, decoded independently of the
// package's own types.
type ledgerEntry struct {
	ID        string    `bson:"_id"`
	Type      string    `bson:"type"`
	Symbol    string    `bson:"symbol"`
	CreatedAt time.Time `bson:"created_at"`
}

// expectedPage is the page and total that Entries must return for q, computed from the ledger as
// the invariant defines it: the user's entries in transactions and in pending, each once.
func expectedPage(t *testing.T, e *testEnv, userID string, q EntryQuery) ([]string, int64) {
	t.Helper()
	ctx := testCtx(t)
	var acc struct {
		Pending map[string]ledgerEntry `bson:"pending"`
	}
	if err := e.db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&acc); err != nil {
		t.Fatalf("read account: %v", err)
	}
	cur, err := e.db.Collection(TransactionsCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		t.Fatalf("find entries: %v", err)
	}
	var stored []ledgerEntry
	if err := cur.All(ctx, &stored); err != nil {
		t.Fatalf("decode entries: %v", err)
	}
	byID := map[string]ledgerEntry{}
	for _, en := range stored {
		byID[en.ID] = en
	}
	for id, en := range acc.Pending {
		en.ID = id
		byID[id] = en
	}
	var all []ledgerEntry
	for _, en := range byID {
		if (q.Type == "" || en.Type == string(q.Type)) && (q.Symbol == "" || en.Symbol == q.Symbol) {
			all = append(all, en)
		}
	}
	slices.SortFunc(all, func(a, b ledgerEntry) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	limit := cmp.Or(q.Limit, DefaultLimit)
	var ids []string
	for i := q.Offset; i < int64(len(all)) && i < q.Offset+limit; i++ {
		ids = append(ids, all[i].ID)
	}
	return ids, int64(len(all))
}

// measured runs f with every command delayed and returns the command chain of e's client.
func measured(e *testEnv, f func()) []string {
	mark := e.cmds.Mark()
	e.srv.Inject(devdb.Fault{Delay: roundTripDelay})
	defer e.srv.ClearFaults()
	f()
	return e.cmds.Levels(mark)
}

func ids(entries []Entry) []string {
	var out []string
	for _, en := range entries {
		out = append(out, en.ID)
	}
	return out
}

func deposit(cents int64) Entry {
	return Entry{Type: TypeDeposit, Symbol: CashSymbol, Amount: cents, Value: money.USD(cents)}
}

// TestEntriesReadPaths: Entries answers exactly from whichever state the account is in, and takes
// the one-round-trip path whenever the account shows that nothing can have been missed. "other"
// is another process's Ledger; e.ledger reads.
func TestEntriesReadPaths(t *testing.T) {
	later := func(l *Ledger) { l.wall = func() time.Time { return time.Now().Add(2 * cleanSkew) } }
	tests := []struct {
		name string
		// setup brings account u1 into the state under test, before the read.
		setup func(t *testing.T, e *testEnv, other *Ledger)
		q     EntryQuery
		path  []string
		// stillPending is how many entries the read leaves pending (those the query does not
		// select, on the fast path).
		stillPending int
		// again is the path of a second read after a flush (default fastPath).
		again []string
	}{
		{name: "own clean, nothing pending: one round trip",
			setup: func(t *testing.T, e *testEnv, _ *Ledger) {
				for _, c := range []int64{100, 200} {
					if _, err := e.ledger.Deposit(testCtx(t), "u1", money.USD(c), ""); err != nil {
						t.Fatal(err)
					}
				}
			},
			path: fastPath},
		{name: "another process's clean, long before: one round trip",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Deposit(testCtx(t), "u1", 100, ""); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			q: EntryQuery{Limit: 1, Offset: 1}, path: fastPath},
		{name: "another process's clean just now: read again",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Deposit(testCtx(t), "u1", 100, ""); err != nil {
					t.Fatal(err)
				}
			},
			// The reader cleaned nothing itself, so it keeps reading twice for cleanSkew.
			path: rereadPath, again: rereadPath},
		{name: "committed, not in transactions yet: flushed before the second read",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			path: flushedPath},
		{name: "recorded, clean deferred: not doubled, no insert",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				c, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Record(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			path: cleanPath},
		{name: "recorded, clean deferred, off the page: not doubled",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				c, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Record(testCtx(t)); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			q: EntryQuery{Limit: 1, Offset: 2}, path: flushedPath},
		{name: "recorded by this Ledger, clean deferred: one round trip, left pending",
			setup: func(t *testing.T, e *testEnv, _ *Ledger) {
				c, err := e.ledger.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(300), fee(2)}})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Record(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			},
			path: fastPath, stillPending: 2},
		{name: "pending entries the filter does not select: one round trip",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				adj := Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: 5}
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{adj, fee(3)}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			q: EntryQuery{Type: TypeDeposit}, path: fastPath, stillPending: 2},
		{name: "pending entry the filter selects: flushed",
			setup: func(t *testing.T, e *testEnv, other *Ledger) {
				adj := Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: 5}
				if _, err := other.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{adj, fee(3)}}); err != nil {
					t.Fatal(err)
				}
				later(e.ledger)
			},
			q: EntryQuery{Symbol: "BTC"}, path: flushedPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.openAccount(t, "u1")
			tt.setup(t, e, e.newLedger(e.client))
			wantIDs, wantTotal := expectedPage(t, e, "u1", tt.q)

			var (
				got   []Entry
				total int64
				err   error
			)
			path := measured(e, func() { got, total, err = e.ledger.Entries(testCtx(t), "u1", tt.q) })
			if err != nil {
				t.Fatalf("Entries: %v", err)
			}
			if !slices.Equal(ids(got), wantIDs) || total != wantTotal {
				t.Errorf("Entries = %v (total %d), want %v (total %d)", ids(got), total, wantIDs, wantTotal)
			}
			if !slices.Equal(path, tt.path) {
				t.Errorf("commands %q, want %q", path, tt.path)
			}
			if n := len(moneycheck.ReadAccount(t, e.db, "u1").Pending); n != tt.stillPending {
				t.Errorf("%d entries pending after the read, want %d", n, tt.stillPending)
			}
			mustFlush(t, e.ledger, "u1")
			assertInvariant(t, e.db, "u1")

			// Having cleaned, or with the last clean long past, the same Ledger reads in one round
			// trip.
			again := tt.again
			if again == nil {
				again = fastPath
			}
			path = measured(e, func() { got, total, err = e.ledger.Entries(testCtx(t), "u1", tt.q) })
			if err != nil || !slices.Equal(ids(got), wantIDs) || total != wantTotal {
				t.Errorf("second read: %v (total %d, %v), want %v (total %d)", ids(got), total, err, wantIDs, wantTotal)
			}
			if !slices.Equal(path, again) {
				t.Errorf("second read: commands %q, want %q", path, again)
			}
		})
	}
}

// TestEntriesCleanBetweenReads is the race that reading the account beside the page opens: an
// entry committed before the read, not yet in transactions when the page and the count are read,
// is recorded and cleared from pending before the account is read, so that none of the three
// reads shows it. The read must notice (the clean stamp) and read again. The test runs the
// interfering change exactly between the reads (the ledger's test hook holds the account read
// back until the page and count are answered).
func TestEntriesCleanBetweenReads(t *testing.T) {
	for _, tt := range cleanInterferences {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.openAccount(t, "u1")
			// The reader's last clean is its own (OpenAccount's flush): without the race the read
			// would take the fast path.
			writer := e.newLedger(e.client)
			c, err := writer.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(4_200)}})
			if err != nil {
				t.Fatal(err)
			}
			committed := c.Entries[0].ID

			interfered := interleave(t, e, func() { tt.interfere(t, e, writer, c) })
			got, total, err := e.ledger.Entries(testCtx(t), "u1", EntryQuery{})
			e.ledger.step = nil
			if err != nil {
				t.Fatalf("Entries: %v", err)
			}
			if !interfered.Load() {
				t.Fatal("the interfering change did not run")
			}
			if _, ok := moneycheck.ReadAccount(t, e.db, "u1").Pending[committed]; ok {
				t.Fatalf("entry %s still pending: the interference did not clean it", committed)
			}
			seen := 0
			for _, en := range got {
				if en.ID == committed {
					seen++
				}
			}
			// Entries committed during the read (the next change's deposit) may or may not be
			// listed; the one committed before it must be, once, and counted.
			if seen != 1 || total < 2 || int64(len(got)) != total {
				t.Fatalf("Entries = %v (total %d): want entry %s once among all %d", ids(got), total, committed, total)
			}
			mustFlush(t, e.ledger, "u1")
			assertInvariant(t, e.db, "u1")
		})
	}
}

// TestEntriesUnderConcurrentChanges: writers (Apply; Commit and Record with the clean deferred;
// Settle; Flush) race readers on two Ledgers. Every read must list, once, every entry whose
// commit was acknowledged before the read started, and count at least those.
func TestEntriesUnderConcurrentChanges(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	opening := DerivedID("open-account", "u1")

	var (
		mu    sync.Mutex
		acked = []string{opening} // entries whose commit was acknowledged, in that order
	)
	ack := func(entries []Entry) {
		mu.Lock()
		defer mu.Unlock()
		for _, en := range entries {
			acked = append(acked, en.ID)
		}
	}
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(acked)
	}

	const changes = 40 // per writer; 3 writers, at most 2 entries a change: below MaxLimit
	var writers sync.WaitGroup
	applier, deferrer, flusher := e.newLedger(e.client), e.newLedger(e.client), e.newLedger(e.client)
	writers.Go(func() {
		for i := range changes {
			got, err := applier.Apply(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(int64(i + 1))}})
			if err != nil {
				t.Errorf("Apply: %v", err)
				return
			}
			ack(got)
		}
	})
	writers.Go(func() {
		for i := range changes {
			c, err := deferrer.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(int64(i + 1)), fee(1)}})
			if err != nil {
				t.Errorf("Commit: %v", err)
				return
			}
			ack(c.Entries)
			if i%3 != 0 { // the others stay pending for a reader or the next Record
				if err := c.Record(testCtx(t)); err != nil {
					t.Errorf("Record: %v", err)
				}
			}
			if i%5 == 4 {
				if err := deferrer.Settle(testCtx(t), "u1"); err != nil {
					t.Errorf("Settle: %v", err)
				}
			}
		}
	})
	writers.Go(func() {
		for range changes {
			if err := flusher.Flush(testCtx(t), "u1"); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}
	})

	var (
		stop    atomic.Bool
		readers sync.WaitGroup
		reads   atomic.Int64
	)
	for _, l := range []*Ledger{e.ledger, e.newLedger(e.client)} {
		readers.Go(func() {
			for !stop.Load() {
				before := snapshot()
				got, total, err := l.Entries(testCtx(t), "u1", EntryQuery{Limit: MaxLimit})
				if err != nil {
					t.Errorf("Entries: %v", err)
					return
				}
				reads.Add(1)
				listed := map[string]int{}
				for _, en := range got {
					listed[en.ID]++
				}
				for _, id := range before {
					if listed[id] != 1 {
						t.Errorf("entry %s committed before the read is listed %d times", id, listed[id])
					}
				}
				for id, n := range listed {
					if n > 1 {
						t.Errorf("entry %s listed %d times", id, n)
					}
				}
				if total < int64(len(before)) {
					t.Errorf("total %d, but %d entries were committed before the read", total, len(before))
				}
				if t.Failed() {
					return
				}
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()

	mustFlush(t, e.ledger, "u1")
	assertInvariant(t, e.db, "u1")
	got, total, err := e.ledger.Entries(testCtx(t), "u1", EntryQuery{Limit: MaxLimit})
	if want := snapshot(); err != nil || total != int64(len(want)) || len(got) != len(want) {
		t.Fatalf("final Entries: %d listed, total %d, %v; want %d", len(got), total, err, len(want))
	}
	t.Logf("%d reads raced %d entries", reads.Load(), len(snapshot()))
}

// TestEveryCleanIsStamped: each way an entry leaves pending stamps the account with the server's
// time and a new token, and an update that removes nothing from pending leaves the stamp alone.
// The fast path of Entries is exact only if no remover is missing here.
func TestEveryCleanIsStamped(t *testing.T) {
	type stamp struct {
		CleanedAt time.Time `bson:"cleaned_at"`
		CleanID   string    `bson:"clean_id"`
	}
	readStamp := func(t *testing.T, e *testEnv) stamp {
		var s stamp
		if err := e.db.Collection(AccountsCollection).FindOne(testCtx(t), bson.D{{Key: "_id", Value: "u1"}}).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	// pendingOnly commits a deposit whose entries stay pending.
	pendingOnly := func(t *testing.T, l *Ledger) *Committed {
		c, err := l.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(10)}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	recorded := func(t *testing.T, l *Ledger) {
		if err := pendingOnly(t, l).Record(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		act     func(t *testing.T, e *testEnv, l *Ledger)
		stamped bool
	}{
		{"Apply's flush", func(t *testing.T, _ *testEnv, l *Ledger) {
			if _, err := l.Deposit(testCtx(t), "u1", 10, ""); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"Flush", func(t *testing.T, _ *testEnv, l *Ledger) {
			pendingOnly(t, l)
			if err := l.Flush(testCtx(t), "u1"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"Account's flush", func(t *testing.T, _ *testEnv, l *Ledger) {
			pendingOnly(t, l)
			if _, err := l.Account(testCtx(t), "u1"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"Settle", func(t *testing.T, _ *testEnv, l *Ledger) {
			recorded(t, l)
			if err := l.Settle(testCtx(t), "u1"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"Commit carrying a deferred clean", func(t *testing.T, _ *testEnv, l *Ledger) {
			recorded(t, l)
			pendingOnly(t, l)
		}, true},
		{"Apply carrying a deferred clean", func(t *testing.T, _ *testEnv, l *Ledger) {
			recorded(t, l)
			if _, err := l.Apply(testCtx(t), Change{UserID: "u1", ReserveCash: 1}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"Entries flushing", func(t *testing.T, _ *testEnv, l *Ledger) {
			pendingOnly(t, l)
			if _, _, err := l.Entries(testCtx(t), "u1", EntryQuery{}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a commit carrying nothing deferred", func(t *testing.T, _ *testEnv, l *Ledger) {
			pendingOnly(t, l)
		}, false},
		{"Settle of caller fields only", func(t *testing.T, _ *testEnv, l *Ledger) {
			if err := l.UnsetLater("u1", "markers.m1"); err != nil {
				t.Fatal(err)
			}
			if err := l.Settle(testCtx(t), "u1"); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.openAccount(t, "u1")
			l := e.newLedger(e.client)
			before := readStamp(t, e)
			if before.CleanID == "" || before.CleanedAt.IsZero() {
				t.Fatalf("OpenAccount's flush left no stamp: %+v", before)
			}
			from := time.Now().Truncate(time.Millisecond)
			tt.act(t, e, l)
			to := time.Now()
			after := readStamp(t, e)
			if !tt.stamped {
				if after != before {
					t.Fatalf("stamp changed from %+v to %+v", before, after)
				}
				return
			}
			// The engine runs on this machine's clock: the stamp falls inside the action.
			if after.CleanID == before.CleanID || after.CleanedAt.Before(from) || after.CleanedAt.After(to) {
				t.Fatalf("stamp %+v after %+v, want a new token and a time in [%v, %v]", after, before, from, to)
			}
			if l.cleans.last("u1") != after.CleanID {
				t.Errorf("the Ledger remembers clean %q, the account holds %q", l.cleans.last("u1"), after.CleanID)
			}
		})
	}
}

// TestSettled is the fast-path decision alone.
func TestSettled(t *testing.T) {
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	btc := map[string]entryDoc{"e1": {Type: string(TypeAdjustment), Symbol: "BTC"}}
	old, recent := start.Add(-cleanSkew-time.Millisecond), start.Add(-cleanSkew+time.Millisecond)
	tests := []struct {
		name     string
		s        cleanState
		q        EntryQuery
		ownClean string
		want     bool
	}{
		{"never cleaned, nothing pending", cleanState{}, EntryQuery{}, "", true},
		{"cleaned long before the start", cleanState{CleanedAt: old, CleanID: "x"}, EntryQuery{}, "", true},
		{"cleaned within the skew bound", cleanState{CleanedAt: recent, CleanID: "x"}, EntryQuery{}, "", false},
		{"cleaned after the start", cleanState{CleanedAt: start.Add(time.Second), CleanID: "x"}, EntryQuery{}, "", false},
		{"own clean, whenever stamped", cleanState{CleanedAt: start.Add(time.Second), CleanID: "x"}, EntryQuery{}, "x", true},
		{"someone else's clean after own", cleanState{CleanedAt: recent, CleanID: "y"}, EntryQuery{}, "x", false},
		{"pending entry selected", cleanState{Pending: btc, CleanedAt: old}, EntryQuery{}, "", false},
		{"pending entry selected, own clean", cleanState{Pending: btc, CleanID: "x"}, EntryQuery{}, "x", false},
		{"pending entry of another symbol", cleanState{Pending: btc, CleanedAt: old}, EntryQuery{Symbol: "ETH"}, "", true},
		{"pending entry of another type", cleanState{Pending: btc, CleanedAt: old}, EntryQuery{Type: TypeBuy}, "", true},
		{"pending entry of the symbol", cleanState{Pending: btc, CleanedAt: old}, EntryQuery{Symbol: "BTC"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.settled(tt.q.matches, start, tt.ownClean); got != tt.want {
				t.Errorf("settled = %v, want %v", got, tt.want)
			}
		})
	}
}

// interference is a change that gets c's entries into transactions and out of pending while a
// settled read is between its reads. writer is the Ledger that committed c; e.ledger is the one
// reading. commitsDuring is how many entries it commits itself (which the read may or may not
// see).
type interference struct {
	name          string
	commitsDuring int
	interfere     func(t *testing.T, e *testEnv, writer *Ledger, c *Committed)
}

// cleanInterferences are the ways an entry can leave pending between a settled read's reads.
var cleanInterferences = []interference{
	{name: "another process flushes", interfere: func(t *testing.T, e *testEnv, _ *Ledger, _ *Committed) {
		if err := e.newLedger(e.client).Flush(testCtx(t), "u1"); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "the writer records, then settles", interfere: func(t *testing.T, _ *testEnv, writer *Ledger, c *Committed) {
		if err := c.Record(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if err := writer.Settle(testCtx(t), "u1"); err != nil {
			t.Fatal(err)
		}
	}},
	{name: "the writer records, then its next change carries the clean", commitsDuring: 1,
		interfere: func(t *testing.T, _ *testEnv, writer *Ledger, c *Committed) {
			if err := c.Record(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			if _, err := writer.Commit(testCtx(t), Change{UserID: "u1", Entries: []Entry{deposit(7)}}); err != nil {
				t.Fatal(err)
			}
		}},
	// The reader's own clean, but acknowledged after the read started: its token must not count
	// as "no clean since".
	{name: "the reading Ledger itself flushes", interfere: func(t *testing.T, e *testEnv, _ *Ledger, _ *Committed) {
		if err := e.ledger.Flush(testCtx(t), "u1"); err != nil {
			t.Fatal(err)
		}
	}},
}

// interleave makes e.ledger's next settled read send its account read only once its read of
// transactions has been answered, and run interfere in between (the ledger's step hook). The
// flag it returns tells whether interfere ran; the hook is removed at the end of the test.
func interleave(t *testing.T, e *testEnv, interfere func()) *atomic.Bool {
	t.Helper()
	listed := make(chan struct{})
	var once sync.Once
	var interfered atomic.Bool
	e.ledger.step = func(name string) {
		switch name {
		case stepListed:
			once.Do(func() { close(listed) })
		case stepReadingPending:
			select {
			case <-listed:
			case <-time.After(10 * time.Second):
				t.Error("transactions were not read before the account: no interleaving to test")
				return
			}
			interfere()
			interfered.Store(true)
		}
	}
	t.Cleanup(func() { e.ledger.step = nil })
	return &interfered
}
