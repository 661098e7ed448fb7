package transactions_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/transactions"
)

// TestIdempotentRetry: a retry with the same key and the same parsed request gets the first
// response byte for byte and books nothing; another request under the key is refused.
func TestIdempotentRetry(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	first := u.post(movement("deposit", "0.5"), "k1")
	testenv.Expect(t, first, http.StatusCreated, "")

	same := []string{
		movement("deposit", `"0.50"`),
		movement("deposit", "0.50"),
		`{"amount":"0.5","type":"deposit","symbol":"usd","description":"  "}`,
	}
	for _, body := range same {
		h.Clock.Advance(time.Second) // a replay is not re-rendered: even its times are the first's
		r := u.post(body, "k1")
		if r.Status != http.StatusCreated || !bytes.Equal(r.Body, first.Body) || r.Header.Get(idempotency.ReplayedHeader) != "true" {
			t.Fatalf("retry %s: %d %s; want the first response %s", body, r.Status, r.Body, first.Body)
		}
	}
	for _, body := range []string{movement("deposit", "0.51"), movement("withdrawal", "0.5"), `{"type":"deposit","amount":0.5,"description":"x"}`} {
		testenv.Expect(t, u.post(body, "k1"), http.StatusConflict, idempotency.CodeKeyReused)
	}
	if n := h.countType("u1", "deposit"); n != 2 {
		t.Fatalf("%d deposits, want the opening one and one more", n)
	}
	// The key's marker stays in the account until the account's next update, which removes it
	// without a command of its own (replays do not touch the account).
	if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash)+50 || len(acc.Markers) != 1 {
		t.Fatalf("cash %d, markers %v; want +0.50 and the key's marker, not removed yet", acc.Cash, acc.Markers)
	}
	testenv.Expect(t, u.post(movement("deposit", "0.25"), ""), http.StatusCreated, "")
	if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash)+75 || len(acc.Markers) != 0 {
		t.Fatalf("cash %d, markers %v; want +0.75 and no marker left after the next update", acc.Cash, acc.Markers)
	}

	// The key is the user's: another user may use the same one.
	testenv.Expect(t, h.newUser("u2").post(movement("deposit", "0.5"), "k1"), http.StatusCreated, "")
	// A malformed key is refused before anything runs.
	testenv.Expect(t, u.post(movement("deposit", "0.5"), "\x01"), http.StatusUnprocessableEntity, web.CodeValidation)
	h.assertInvariant("u1")
}

// TestKeyUsedOnAnotherRoute: a key the user spent on another route (as the orders function
// stores it) is IDEMPOTENCY_KEY_REUSED here.
func TestKeyUsedOnAnotherRoute(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	orders := idempotency.NewStore(h.Deps.Mongo.Database, h.Clock.Now)
	ctx := testCtx(t)
	c, _, err := orders.Begin(ctx, "u1", "shared-key", "POST /api/orders", `{"order":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(ctx, http.StatusCreated, []byte(`{"order":{}}`)); err != nil {
		t.Fatal(err)
	}
	testenv.Expect(t, u.post(movement("deposit", "1"), "shared-key"), http.StatusConflict, idempotency.CodeKeyReused)
	if n := h.countType("u1", "deposit"); n != 1 {
		t.Fatalf("%d deposits, want only the opening one", n)
	}
}

// TestKeyInProgress: while the first request is held (its account update delayed in the
// engine's proxy), a duplicate is 409 IDEMPOTENCY_KEY_IN_PROGRESS; afterwards it is replayed.
func TestKeyInProgress(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.get("/api/transactions?limit=1") // load the guard's revocation view first

	h.Server.Inject(devdb.Fault{Command: "findAndModify", Times: 1, Delay: 1500 * time.Millisecond})
	done := make(chan testenv.Response, 1)
	go func() { done <- u.post(movement("deposit", "3"), "held") }()
	waitFor(t, func() bool {
		n, err := h.DB.Collection(idempotency.Collection).CountDocuments(testCtx(t), bson.D{{Key: "user_id", Value: "u1"}})
		return err == nil && n == 1
	})
	dup := u.post(movement("deposit", "3"), "held")
	testenv.Expect(t, dup, http.StatusConflict, idempotency.CodeKeyInProgress)
	if dup.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on IN_PROGRESS")
	}
	first := <-done
	testenv.Expect(t, first, http.StatusCreated, "")
	if again := u.post(movement("deposit", "3"), "held"); !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("after the first finished: %s; want its response", again.Body)
	}
	if n := h.countType("u1", "deposit"); n != 2 {
		t.Fatalf("%d deposits, want 2", n)
	}
}

// TestConcurrentSameKey: 20 simultaneous requests with one key book exactly one deposit; each
// gets either that deposit's response or IN_PROGRESS.
func TestConcurrentSameKey(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.get("/api/transactions?limit=1")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		created   [][]byte
		inFlight  int
		unexpects []string
	)
	for range 20 {
		wg.Go(func() {
			r := u.post(movement("deposit", "1.23"), "burst")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == http.StatusCreated:
				created = append(created, r.Body)
			case r.Status == http.StatusConflict && bytes.Contains(r.Body, []byte(idempotency.CodeKeyInProgress)):
				inFlight++
			default:
				unexpects = append(unexpects, string(r.Body))
			}
		})
	}
	wg.Wait()
	if len(unexpects) > 0 || len(created) == 0 {
		t.Fatalf("%d created, %d in progress, unexpected: %v", len(created), inFlight, unexpects)
	}
	t.Logf("%d answered 201 (one booked, the rest replayed), %d IN_PROGRESS", len(created), inFlight)
	for _, b := range created[1:] {
		if !bytes.Equal(b, created[0]) {
			t.Fatalf("two different 201s: %s and %s", created[0], b)
		}
	}
	if n := h.countType("u1", "deposit"); n != 2 {
		t.Fatalf("%d deposits, want exactly one besides the opening one", n)
	}
	if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash)+123 {
		t.Fatalf("cash %d, want %d", acc.Cash, int64(moneyenv.StartCash)+123)
	}
	h.assertInvariant("u1")
}

// TestRefusalReplayed: a 4xx outcome (INSUFFICIENT_FUNDS) is stored: the retry is answered the
// same even once the funds are there, and moves nothing.
func TestRefusalReplayed(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	first := u.post(movement("withdrawal", "20000"), "w1")
	testenv.Expect(t, first, http.StatusUnprocessableEntity, transactions.CodeInsufficientFunds)
	testenv.Expect(t, u.post(movement("deposit", "20000"), ""), http.StatusCreated, "")
	again := u.post(movement("withdrawal", "20000"), "w1")
	if again.Status != http.StatusUnprocessableEntity || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("retry: %d %s; want the stored 422 %s", again.Status, again.Body, first.Body)
	}
	if n := h.countType("u1", "withdrawal"); n != 0 {
		t.Fatalf("%d withdrawals, want none", n)
	}
}

// TestFailureNotStored: a 5xx is not an outcome: the retry with the same key runs the operation
// and books it once — with the engine down before the request, and with the account update
// failing mid-request (the claim is then released, so the retry does not wait).
func TestFailureNotStored(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.get("/api/transactions?limit=1")

	if err := h.Server.StopEngine(); err != nil {
		t.Fatal(err)
	}
	testenv.Expect(t, u.post(movement("deposit", "4"), "down"), http.StatusServiceUnavailable, web.CodeDatabaseUnavailable)
	if err := h.Server.StartEngine(); err != nil {
		t.Fatal(err)
	}
	var r testenv.Response
	waitFor(t, func() bool {
		r = u.post(movement("deposit", "4"), "down")
		if r.Status == http.StatusConflict {
			// An attempt got its claim while the client was reconnecting but could neither run
			// nor release it: it is abandoned after InFlightTimeout, like a crash.
			h.Clock.Advance(idempotency.InFlightTimeout + time.Second)
		}
		return r.Status != http.StatusServiceUnavailable && r.Status != http.StatusConflict
	})
	testenv.Expect(t, r, http.StatusCreated, "")

	h.Server.Inject(devdb.Fault{Command: "findAndModify", Times: 1, Fail: true}) // the account update
	testenv.Expect(t, u.post(movement("deposit", "6"), "dropped"), http.StatusServiceUnavailable, web.CodeDatabaseUnavailable)
	testenv.Expect(t, u.post(movement("deposit", "6"), "dropped"), http.StatusCreated, "")

	cash := int64(moneyenv.StartCash) + 400 + 600
	if acc := h.Account("u1"); acc.Cash != cash || h.countType("u1", "deposit") != 3 {
		t.Fatalf("cash %d with %d deposits; want %d with 3", acc.Cash, h.countType("u1", "deposit"), cash)
	}
	h.assertInvariant("u1")
}

// TestRerunAfterBalanceChange: the request dies after its balance change committed and before its
// response was stored. The retry re-runs the operation, which must find the change made instead
// of making it again: one ledger entry, and the retry's response names it.
func TestRerunAfterBalanceChange(t *testing.T) {
	tests := []struct {
		name string
		// fail is what happens right after the commit: a crash (panic: nothing is released, the
		// retry waits for InFlightTimeout) or a 5xx (the claim is released at once).
		fail    func() error
		waitFor time.Duration
		body    string
		typ     string
	}{
		{name: "crash, deposit", fail: func() error { panic("crash after commit") }, waitFor: idempotency.InFlightTimeout + time.Second, body: movement("deposit", "7.77"), typ: "deposit"},
		{name: "5xx, deposit", fail: func() error { return errors.New("lost the reply") }, body: movement("deposit", "7.77"), typ: "deposit"},
		// After the first attempt the whole balance is gone: the re-run's update fails on funds
		// as well as on the marker, and must still answer 201.
		{name: "crash, whole-balance withdrawal", fail: func() error { panic("crash after commit") }, waitFor: idempotency.InFlightTimeout + time.Second, body: movement("withdrawal", "10000"), typ: "withdrawal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			var once atomic.Bool
			fail := func() error {
				if once.CompareAndSwap(false, true) {
					return tt.fail()
				}
				return nil
			}
			h.afterApply.Store(&fail)

			testenv.Expect(t, u.post(tt.body, "r1"), http.StatusInternalServerError, web.CodeInternal)
			moved := h.Account("u1").Cash
			if moved == int64(moneyenv.StartCash) {
				t.Fatal("the first attempt should have committed its change")
			}
			if tt.waitFor > 0 {
				testenv.Expect(t, u.post(tt.body, "r1"), http.StatusConflict, idempotency.CodeKeyInProgress)
				h.Clock.Advance(tt.waitFor)
			}
			retry := testenv.Expect(t, u.post(tt.body, "r1"), http.StatusCreated, "")
			entries := 0
			var id string
			for _, e := range h.Entries("u1") {
				if e.Type == tt.typ && e.ID != ledger.DerivedID("open-account", "u1") {
					entries++
					id = e.ID
				}
			}
			if entries != 1 || txOf(t, retry)["id"] != id {
				t.Fatalf("%d %s entries, response id %v, ledger id %s; want one, named by the response", entries, tt.typ, txOf(t, retry)["id"], id)
			}
			if acc := h.Account("u1"); acc.Cash != moved {
				t.Fatalf("cash %d after the re-run, want %d (applied once)", acc.Cash, moved)
			}
			replay := u.post(tt.body, "r1")
			if replay.Header.Get(idempotency.ReplayedHeader) != "true" || txOf(t, replay.JSON(t))["id"] != id {
				t.Fatalf("replay %s; want the re-run's response", replay.Body)
			}
			h.assertInvariant("u1")

			// The taken-over claim left its marker (its abandoned attempt might still have had an
			// update in flight); it is pruned by the account's later updates once old enough: a
			// later keyed request finds it stale, and the next update carries its removal with
			// that request's own marker's.
			if m := h.Account("u1").Markers; len(m) != 1 {
				t.Fatalf("markers %v; want the taken-over claim's", m)
			}
			h.Clock.Advance(idempotency.MarkerRetention + time.Second)
			testenv.Expect(t, u.post(movement("deposit", "1"), "later"), http.StatusCreated, "")
			testenv.Expect(t, u.post(movement("deposit", "1"), ""), http.StatusCreated, "")
			if m := h.Account("u1").Markers; len(m) != 0 {
				t.Fatalf("markers %v; want all pruned", m)
			}
		})
	}
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestFollowUpFailures: after the account update, the entry's insert, the audit insert and the
// stored response run side by side, and any of them may fail without changing the answer: the
// movement happened. What each failure leaves behind is repaired, and the key still books once:
//   - the entry's insert fails: the entry stays pending in the account, where every read finds it
//     (once) and the next update records it;
//   - storing the response fails: the claim is not stored, so the key's marker must stay (the
//     claim is taken over after InFlightTimeout, and the re-run must find the marker): the
//     account's next update does not remove it, and the re-run answers the same entry.
func TestFollowUpFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault devdb.Fault // injected right after the account update
		// storeLost: the response was not stored (the retry waits for the takeover).
		storeLost bool
	}{
		// Both inserts fail (the entry's and the audit's: they race for the fault).
		{name: "entry insert", fault: devdb.Fault{Command: "insert", Times: 2, ErrorCode: 1}},
		{name: "stored response", fault: devdb.Fault{Command: "update", Times: 1, ErrorCode: 1}, storeLost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			u := h.newUser("u1")
			u.get("/api/transactions?limit=1")
			var once atomic.Bool
			inject := func() error {
				if once.CompareAndSwap(false, true) {
					h.Server.Inject(tt.fault)
				}
				return nil
			}
			h.afterApply.Store(&inject)

			first := testenv.Expect(t, u.post(movement("deposit", "8.88"), "f1"), http.StatusCreated, "")
			id := txOf(t, first)["id"].(string)
			h.Server.ClearFaults()
			if acc := h.Account("u1"); acc.Cash != int64(moneyenv.StartCash)+888 || len(acc.Markers) != 1 {
				t.Fatalf("cash %d, markers %v; want the deposit applied under its marker", acc.Cash, acc.Markers)
			}
			// The list shows the entry once, whether it reached transactions or not.
			list := testenv.Expect(t, u.get("/api/transactions?limit=50"), http.StatusOK, "")
			if n := countID(t, list, id); n != 1 {
				t.Fatalf("the entry is listed %d times, want once", n)
			}

			// The account's next update: it carries the removals handed to it, and no other.
			testenv.Expect(t, u.post(movement("deposit", "1"), ""), http.StatusCreated, "")
			markers := len(h.Account("u1").Markers)
			if tt.storeLost && markers != 1 || !tt.storeLost && markers != 0 {
				t.Fatalf("%d markers after the next update, want %d", markers, map[bool]int{true: 1, false: 0}[tt.storeLost])
			}

			if tt.storeLost {
				testenv.Expect(t, u.post(movement("deposit", "8.88"), "f1"), http.StatusConflict, idempotency.CodeKeyInProgress)
				h.Clock.Advance(idempotency.InFlightTimeout + time.Second)
			}
			again := testenv.Expect(t, u.post(movement("deposit", "8.88"), "f1"), http.StatusCreated, "")
			if txOf(t, again)["id"] != id {
				t.Fatalf("the retry names %v, want %s", txOf(t, again)["id"], id)
			}
			n := 0
			for _, e := range h.Entries("u1") {
				if e.Amount == 888 {
					n++
				}
			}
			if acc := h.Account("u1"); n != 1 || acc.Cash != int64(moneyenv.StartCash)+888+100 {
				t.Fatalf("%d entries of 8.88, cash %d; want one, booked once", n, acc.Cash)
			}
			h.assertInvariant("u1")
		})
	}
}

// TestDeferredRemovalForgotten: the instance that stored the response and holds the marker's
// removal for the account's next update is gone (a crash, a scale-in), and the next requests
// reach another instance. The key still replays and books nothing; the leftovers are repaired by
// the other instance: the entry the first one recorded is cleaned by its read, and the marker,
// once older than any retry, is pruned by its updates.
func TestDeferredRemovalForgotten(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	first := u.post(movement("deposit", "2.5"), "gone")
	testenv.Expect(t, first, http.StatusCreated, "")

	other := transactions.NewFunctionWithHook(h.Deps, h.Guard.Require, h.Clock.Now, func() error { return nil })
	do := func(method, body, key string) testenv.Response {
		t.Helper()
		return testenv.Do(t, other, testenv.Request{Method: method, Path: "/api/transactions", Header: h.Header(u.id, key), Body: body})
	}
	replay := do(http.MethodPost, movement("deposit", "2.5"), "gone")
	if replay.Status != http.StatusCreated || !bytes.Equal(replay.Body, first.Body) {
		t.Fatalf("replay on another instance: %d %s; want %s", replay.Status, replay.Body, first.Body)
	}
	list := testenv.Expect(t, do(http.MethodGet, "", ""), http.StatusOK, "")
	if n := countID(t, list, txOf(t, first.JSON(t))["id"].(string)); n != 1 {
		t.Fatalf("the entry is listed %d times, want once", n)
	}
	if acc := h.Account("u1"); len(acc.Pending) != 0 || len(acc.Markers) != 1 {
		t.Fatalf("pending %v, markers %v; want the entry cleaned by the read and the marker still there", acc.Pending, acc.Markers)
	}

	testenv.Expect(t, do(http.MethodPost, movement("deposit", "1"), ""), http.StatusCreated, "")
	if m := h.Account("u1").Markers; len(m) != 1 {
		t.Fatalf("markers %v; a marker younger than MarkerRetention must stay", m)
	}
	h.Clock.Advance(idempotency.MarkerRetention + time.Second)
	for range 2 { // the first update finds it stale, the second carries its removal
		testenv.Expect(t, do(http.MethodPost, movement("deposit", "1"), ""), http.StatusCreated, "")
	}
	if m := h.Account("u1").Markers; len(m) != 0 {
		t.Fatalf("markers %v; want the stale one pruned", m)
	}
	if n := h.countType("u1", "deposit"); n != 5 {
		t.Fatalf("%d deposits, want the opening one and four", n)
	}
	h.assertInvariant("u1")
}

// countID counts the entries with id in a GET /api/transactions answer.
func countID(t *testing.T, list map[string]any, id string) int {
	t.Helper()
	txs, ok := list["transactions"].([]any)
	if !ok {
		t.Fatalf("no transactions in %v", list)
	}
	n := 0
	for _, tx := range txs {
		if m, _ := tx.(map[string]any); m["id"] == id {
			n++
		}
	}
	return n
}
