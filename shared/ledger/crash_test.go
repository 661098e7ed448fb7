package ledger

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

// TestFailedFlushIsRepaired: the account update succeeds, then the insert into transactions
// fails (an error reply, or the connection dropping). Deposit reports success — the change is
// committed — the entry stays pending, and the next read (Account) repairs the ledger: the entry
// appears once, never twice, also when flushed again.
func TestFailedFlushIsRepaired(t *testing.T) {
	tests := []struct {
		name  string
		fault devdb.Fault
	}{
		{"error reply", devdb.Fault{Command: "insert", Times: 1, ErrorCode: 91, ErrorMessage: "shutdown in progress"}},
		{"connection dropped", devdb.Fault{Command: "insert", Times: 1, Fail: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := testCtx(t)
			e.openAccount(t, "u1")

			e.srv.Inject(tt.fault)
			entry, err := e.ledger.Deposit(ctx, "u1", 4_200, "")
			if err != nil {
				t.Fatalf("Deposit after commit must succeed, got %v", err)
			}
			acc := moneycheck.ReadAccount(t, e.db, "u1")
			if _, ok := acc.Pending[entry.ID]; !ok || acc.Cash != int64(startCash)+4_200 {
				t.Fatalf("after the failed flush: cash %d, pending %v; want the deposit applied and pending", acc.Cash, acc.Pending)
			}
			if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
				t.Fatalf("%d entries in transactions, want only the opening one", n)
			}
			if !strings.Contains(e.logs.String(), "ledger entries left pending") {
				t.Fatalf("no warning logged; logs:\n%s", e.logs.String())
			}

			if _, err := e.ledger.Account(ctx, "u1"); err != nil {
				t.Fatalf("Account: %v", err)
			}
			assertInvariant(t, e.db, "u1")
			for range 2 { // flushing again changes nothing
				if err := e.ledger.Flush(ctx, "u1"); err != nil {
					t.Fatalf("Flush: %v", err)
				}
			}
			if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 2 {
				t.Fatalf("%d entries, want 2", n)
			}
			assertInvariant(t, e.db, "u1")
		})
	}
}

// TestFailedUnsetIsRepaired: the entry reached transactions but clearing it from pending failed.
// The re-flush meets a duplicate key, treats the entry as flushed, and only clears it.
func TestFailedUnsetIsRepaired(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	e.ledger.step = func(name string) {
		if name == stepInserted {
			e.srv.Inject(devdb.Fault{Command: "update", Times: 1, ErrorCode: 91})
		}
	}
	entry, err := e.ledger.Deposit(ctx, "u1", 4_200, "")
	e.ledger.step = nil
	if err != nil {
		t.Fatalf("Deposit: %v", err)
	}
	acc := moneycheck.ReadAccount(t, e.db, "u1")
	if _, ok := acc.Pending[entry.ID]; !ok {
		t.Fatalf("entry %s not pending after the failed unset: %v", entry.ID, acc.Pending)
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 2 {
		t.Fatalf("%d entries, want 2 (the entry was inserted)", n)
	}
	entries, total, err := e.ledger.Entries(ctx, "u1", EntryQuery{})
	if err != nil || total != 2 || len(entries) != 2 || entries[0].ID != entry.ID {
		t.Fatalf("Entries = %v, %d, %v; want the deposit once, first", entries, total, err)
	}
	assertInvariant(t, e.db, "u1")
}

// TestFailedCommit: the account update itself fails: nothing happened, and the caller is told.
func TestFailedCommit(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	e.srv.Inject(devdb.Fault{Command: "update", Times: 1, ErrorCode: 91})
	if _, err := e.ledger.Deposit(testCtx(t), "u1", 4_200, ""); err == nil {
		t.Fatal("Deposit succeeded although its update failed")
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Cash != int64(startCash) || len(acc.Pending) != 0 {
		t.Fatalf("account changed: %+v", acc)
	}
	assertInvariant(t, e.db, "u1")
}

// TestFlakyFlushesUnderConcurrency: deposits and withdrawals race each other and concurrent
// Flush calls while a third of the inserts and some unsets fail. Whatever interleaving happens,
// one final flush makes balances and ledger agree, with every successful change in it once.
func TestFlakyFlushesUnderConcurrency(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	// Code 1 (InternalError, what the engine itself answers for many failures) rather than a
	// shutdown code: the driver does not treat it as a server state change, so the test is not
	// dominated by the client's rediscovery pauses.
	e.srv.Inject(devdb.Fault{Command: "insert", Times: 20, ErrorCode: 1})
	other := e.newLedger(newClient(t, e.srv, 5*time.Second, nil))

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []string
		stop    atomic.Bool
	)
	for i := range 60 {
		l := e.ledger
		if i%2 == 1 {
			l = other
		}
		entry := Entry{Type: TypeDeposit, Symbol: CashSymbol, Amount: int64(i + 1), Value: money.USD(i + 1)}
		if i%3 == 0 {
			entry = withdrawal(int64(i + 1))
		}
		wg.Go(func() {
			if i == 30 {
				e.srv.Inject(devdb.Fault{Command: "update", Times: 5, ErrorCode: 1})
			}
			got, err := l.Apply(testCtx(t), Change{UserID: "u1", Entries: []Entry{entry}})
			if err == nil {
				mu.Lock()
				applied = append(applied, got[0].ID)
				mu.Unlock()
			}
		})
	}
	var flushers sync.WaitGroup
	for range 3 {
		flushers.Go(func() {
			for !stop.Load() {
				_ = e.ledger.Flush(testCtx(t), "u1") // failures are expected here
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	flushers.Wait()
	e.srv.ClearFaults()

	if !strings.Contains(e.logs.String(), "ledger entries left pending") {
		t.Error("no flush failed: the faults missed the window they were meant for")
	}
	mustFlush(t, e.ledger, "u1")
	assertInvariant(t, e.db, "u1")
	ids := map[string]bool{}
	for _, en := range moneycheck.ReadEntries(t, e.db, "u1") {
		ids[en.ID] = true
	}
	for _, id := range applied {
		if !ids[id] {
			t.Errorf("entry %s of a successful change is missing from the ledger", id)
		}
	}
	t.Logf("%d of 60 changes succeeded", len(applied))
}

// TestEngineStoppedMidBurst: the engine stops while deposits are in flight and comes back.
// Requests that failed may or may not have been applied; either way, after a flush the ledger and
// the balances agree, and every deposit reported as successful is in the ledger.
func TestEngineStoppedMidBurst(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	l := e.newLedger(newClient(t, e.srv, time.Second, nil))

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded []string
		failed    int
		stop      atomic.Bool
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(succeeded)
	}
	for g := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
				entry, err := l.Deposit(ctx, "u1", money.USD(g*1000+i+1), "")
				cancel()
				mu.Lock()
				if err != nil {
					failed++
				} else {
					succeeded = append(succeeded, entry.ID)
				}
				mu.Unlock()
			}
		})
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("only %d deposits succeeded, waiting for %d", count(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	waitFor(20)
	if err := e.srv.StopEngine(); err != nil {
		t.Fatalf("StopEngine: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.srv.StartEngine(); err != nil {
		t.Fatalf("StartEngine: %v", err)
	}
	waitFor(count() + 20) // traffic recovers after the restart
	stop.Store(true)
	wg.Wait()

	pending := len(moneycheck.ReadAccount(t, e.db, "u1").Pending) // left by requests cut between commit and flush
	mustFlush(t, e.ledger, "u1")
	assertInvariant(t, e.db, "u1")
	ids := map[string]bool{}
	for _, en := range moneycheck.ReadEntries(t, e.db, "u1") {
		ids[en.ID] = true
	}
	for _, id := range succeeded {
		if !ids[id] {
			t.Errorf("deposit %s succeeded but is not in the ledger", id)
		}
	}
	// The ledger holds the opening deposit, every successful one, and any failed one whose update
	// reached the engine before its reply was lost.
	t.Logf("%d deposits succeeded, %d failed during the outage (%d of them applied anyway); %d were left pending",
		len(succeeded), failed, len(ids)-1-len(succeeded), pending)
	if failed == 0 {
		t.Log("no request failed: the outage fell between requests")
	}
}

// TestRecordOrLeave: a record that fails after the commit is not the caller's failure: it is
// logged, the entry stays pending (and counted), and the next flush records it once.
func TestRecordOrLeave(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	cm, err := e.ledger.Commit(ctx, Change{UserID: "u1", Entries: []Entry{deposit(4_200)}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Inject(devdb.Fault{Command: "insert", Times: 1, ErrorCode: 91, ErrorMessage: "shutdown in progress"})
	cm.RecordOrLeave(ctx)
	if _, ok := moneycheck.ReadAccount(t, e.db, "u1").Pending[cm.Entries[0].ID]; !ok {
		t.Fatal("the entry whose record failed is not pending")
	}
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 1 {
		t.Fatalf("%d entries in transactions, want only the opening one", n)
	}
	if !strings.Contains(e.logs.String(), "ledger entries left pending") || !strings.Contains(e.logs.String(), "shutdown in progress") {
		t.Fatalf("no warning with the cause logged; logs:\n%s", e.logs.String())
	}
	mustFlush(t, e.ledger, "u1")
	if n := len(moneycheck.ReadEntries(t, e.db, "u1")); n != 2 {
		t.Fatalf("%d entries after the flush, want 2", n)
	}
	assertInvariant(t, e.db, "u1")
}
