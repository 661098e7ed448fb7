package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

// session is a sessions document as the accounts package writes it.
type session struct {
	id        string
	revokedAt time.Time // zero: active
	expiresAt time.Time
}

func insertSessions(t *testing.T, tdb *testDB, sessions ...session) {
	t.Helper()
	for _, s := range sessions {
		doc := bson.D{
			{Key: auth.SessionIDField, Value: s.id},
			{Key: auth.SessionUserIDField, Value: "user-of-" + s.id},
			{Key: auth.SessionExpiresAtField, Value: s.expiresAt},
		}
		if !s.revokedAt.IsZero() {
			doc = append(doc, bson.E{Key: auth.SessionRevokedAtField, Value: s.revokedAt})
		}
		if _, err := tdb.db(t).Collection(auth.SessionsCollection).InsertOne(context.Background(), doc); err != nil {
			t.Fatalf("insert session %s: %v", s.id, err)
		}
	}
}

// revokeInDB is what another instance's logout does: set revoked_at once.
func revokeInDB(t *testing.T, tdb *testDB, id string, at time.Time) {
	t.Helper()
	res, err := tdb.db(t).Collection(auth.SessionsCollection).UpdateOne(context.Background(),
		bson.D{{Key: auth.SessionIDField, Value: id}, {Key: auth.SessionRevokedAtField, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: auth.SessionRevokedAtField, Value: at}}}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("revoke %s in the database: matched %v, %v", id, res, err)
	}
}

func newRevocations(tdb *testDB, clk *fakeclock.Clock, log *slog.Logger) *auth.Revocations {
	return auth.NewRevocations(auth.RevocationsOptions{DB: tdb.client.Database, Now: clk.Now, Logger: log})
}

// expectRevoked checks IsRevoked for each session id.
func expectRevoked(t *testing.T, r *auth.Revocations, want map[string]bool) {
	t.Helper()
	for id, w := range want {
		got, err := r.IsRevoked(context.Background(), id)
		if err != nil {
			t.Fatalf("IsRevoked(%s): %v", id, err)
		}
		if got != w {
			t.Errorf("IsRevoked(%s) = %v, want %v", id, got, w)
		}
	}
}

func expectFinds(t *testing.T, tdb *testDB, want int64) {
	t.Helper()
	if got := tdb.finds(); got != want {
		t.Errorf("find commands so far = %d, want %d", got, want)
	}
}

// TestRevocationsFromOtherInstances: the first use loads every revoked, unexpired session; a
// revocation written by another instance becomes visible once the view is older than the
// interval, not before; and between refreshes no query is sent.
func TestRevocationsFromOtherInstances(t *testing.T) {
	tdb := newTestDB(t)
	clk := newClock()
	now := clk.Now()
	insertSessions(t, tdb,
		session{id: "active", expiresAt: now.Add(time.Hour)},
		session{id: "active-2", expiresAt: now.Add(time.Hour)},
		session{id: "revoked", revokedAt: now.Add(-time.Hour), expiresAt: now.Add(time.Hour)},
		session{id: "revoked-long-ago", revokedAt: now.Add(-6 * 24 * time.Hour), expiresAt: now.Add(time.Hour)},
		session{id: "revoked-expired", revokedAt: now.Add(-2 * time.Hour), expiresAt: now.Add(-time.Hour)},
	)
	// A writer that stores revoked_at: null instead of leaving it out must not revoke anything.
	if _, err := tdb.db(t).Collection(auth.SessionsCollection).InsertOne(context.Background(), bson.D{
		{Key: auth.SessionIDField, Value: "active-null"}, {Key: auth.SessionRevokedAtField, Value: nil},
		{Key: auth.SessionExpiresAtField, Value: now.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	r := newRevocations(tdb, clk, nil)

	expectRevoked(t, r, map[string]bool{
		"active": false, "active-2": false, "active-null": false, "revoked": true, "revoked-long-ago": true,
		"revoked-expired": false, "unknown": false,
	})
	expectFinds(t, tdb, 1)

	// Another instance revokes "active" now, and "active-2" with its clock 20 s behind ours.
	revokeInDB(t, tdb, "active", clk.Now())
	revokeInDB(t, tdb, "active-2", clk.Now().Add(-20*time.Second))
	clk.Advance(auth.RevocationRefreshInterval - time.Millisecond)
	expectRevoked(t, r, map[string]bool{"active": false, "active-2": false, "revoked": true})
	expectFinds(t, tdb, 1)

	clk.Advance(time.Millisecond)
	expectRevoked(t, r, map[string]bool{"active": true, "active-2": true, "revoked": true})
	expectFinds(t, tdb, 2)

	// Entries whose session expires are dropped (a dead session is refused by its token anyway).
	clk.Advance(time.Hour)
	expectRevoked(t, r, map[string]bool{"active": false, "revoked": false, "revoked-long-ago": false})
	expectFinds(t, tdb, 3)
}

// TestRevokeIsImmediate: a session revoked by this process is refused at once, before any
// refresh, and stays refused across refreshes.
func TestRevokeIsImmediate(t *testing.T) {
	tdb := newTestDB(t)
	clk := newClock()
	now := clk.Now()
	insertSessions(t, tdb,
		session{id: "s1", expiresAt: now.Add(time.Hour)},
		session{id: "s2", expiresAt: now.Add(time.Hour)},
		session{id: "s3", expiresAt: now.Add(time.Hour)},
	)
	r := newRevocations(tdb, clk, nil)

	r.Revoke("s3") // before the first load: kept through it
	expectRevoked(t, r, map[string]bool{"s1": false, "s2": false, "s3": true})
	expectFinds(t, tdb, 1)

	// The accounts package writes revoked_at, then tells this process.
	revokeInDB(t, tdb, "s1", clk.Now())
	r.Revoke("s1", "s2", "")
	expectRevoked(t, r, map[string]bool{"s1": true, "s2": true, "s3": true, "": false})
	expectFinds(t, tdb, 1) // no round trip

	// Refreshes do not undo a local revocation, whether or not the database reports it.
	clk.Advance(auth.RevocationRefreshInterval)
	expectRevoked(t, r, map[string]bool{"s1": true, "s2": true, "s3": true})
	expectFinds(t, tdb, 2)

	// s1 is confirmed by the database, so it is forgotten when the session expires. s2 never
	// reached the database: it is forgotten after a day, agreeing with the other instances.
	clk.Advance(time.Hour)
	expectRevoked(t, r, map[string]bool{"s1": false, "s2": true})
	clk.Advance(24 * time.Hour)
	expectRevoked(t, r, map[string]bool{"s2": false, "s3": false})
}

// TestRevocationsSingleFlight: concurrent requests arriving when the view is due share one query.
func TestRevocationsSingleFlight(t *testing.T) {
	tdb := newTestDB(t)
	clk := newClock()
	insertSessions(t, tdb, session{id: "revoked", revokedAt: clk.Now().Add(-time.Minute), expiresAt: clk.Now().Add(time.Hour)})
	r := newRevocations(tdb, clk, nil)

	for round := 0; round < 2; round++ { // the first load, then an incremental refresh
		// Slow the query down so that every caller arrives while it is in flight.
		tdb.srv.Inject(devdb.Fault{Command: "find", Times: 1, Delay: 200 * time.Millisecond})
		before := tdb.finds()
		const callers = 40
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := 0; i < callers; i++ {
			wg.Go(func() {
				id := "revoked"
				if i%2 == 1 {
					id = fmt.Sprintf("active-%d", i)
				}
				got, err := r.IsRevoked(context.Background(), id)
				if err == nil && got != (id == "revoked") {
					err = fmt.Errorf("IsRevoked(%s) = %v", id, got)
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		if got := tdb.finds() - before; got != 1 {
			t.Errorf("round %d: %d concurrent callers sent %d queries, want 1", round, callers, got)
		}
		clk.Advance(auth.RevocationRefreshInterval)
	}
}

// TestRevocationsCallerGivesUp: a caller whose request ends while the refresh is in flight gets
// its context's error; the refresh itself is not cancelled, so the next caller has a fresh view.
func TestRevocationsCallerGivesUp(t *testing.T) {
	tdb := newTestDB(t)
	clk := newClock()
	insertSessions(t, tdb, session{id: "revoked", revokedAt: clk.Now().Add(-time.Minute), expiresAt: clk.Now().Add(time.Hour)})
	r := newRevocations(tdb, clk, nil)
	tdb.srv.Inject(devdb.Fault{Command: "find", Times: 1, Delay: 300 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.IsRevoked(ctx, "revoked"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("IsRevoked with an expiring context: %v, want DeadlineExceeded", err)
	}
	expectRevoked(t, r, map[string]bool{"revoked": true}) // waits for the same refresh
	expectFinds(t, tdb, 1)
}

// TestRevocationsDatabaseDown: when a refresh fails, a view up to RevocationMaxStaleness old is
// still used (with a warning); an older one, or none, is an error that the web layer maps to 503
// DATABASE_UNAVAILABLE. Failed attempts are spaced, and the view recovers with the database.
func TestRevocationsDatabaseDown(t *testing.T) {
	tdb := newTestDB(t)
	clk := newClock()
	insertSessions(t, tdb,
		session{id: "revoked", revokedAt: clk.Now().Add(-time.Minute), expiresAt: clk.Now().Add(time.Hour)},
		session{id: "active", expiresAt: clk.Now().Add(time.Hour)},
	)
	logs := &logbuf.Buffer{}
	r := newRevocations(tdb, clk, obs.NewLogger(logs, slog.LevelDebug))
	ctx := context.Background()

	stop := func() {
		if err := tdb.srv.StopEngine(); err != nil {
			t.Fatal(err)
		}
	}
	start := func() { // and wait until the client sees the engine again (pings are not finds)
		if err := tdb.srv.StartEngine(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, err := tdb.client.Ping(ctx); err == nil {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("database not back: %v", err)
			}
		}
	}
	stop()
	if _, err := r.IsRevoked(ctx, "revoked"); err == nil || !mongodb.IsUnavailable(err) {
		t.Fatalf("first load with the database down: %v, want an unavailable error", err)
	}
	start()
	clk.Advance(time.Second) // past the retry spacing
	expectRevoked(t, r, map[string]bool{"revoked": true, "active": false})

	stop()
	clk.Advance(auth.RevocationRefreshInterval)
	expectRevoked(t, r, map[string]bool{"revoked": true, "active": false}) // stale view, still trusted
	if !strings.Contains(logs.String(), "refreshing revoked sessions failed") {
		t.Errorf("no warning logged for the failed refresh:\n%s", logs)
	}
	finds := tdb.finds()
	expectRevoked(t, r, map[string]bool{"revoked": true}) // within a second of the failure: no new attempt
	expectFinds(t, tdb, finds)

	clk.Advance(auth.RevocationMaxStaleness) // the view is now too old to trust
	if _, err := r.IsRevoked(ctx, "active"); err == nil || !mongodb.IsUnavailable(err) {
		t.Errorf("IsRevoked with a view older than the bound: %v, want an unavailable error", err)
	}
	if mongodb.Classify(mustErr(r.IsRevoked(ctx, "active"))) == nil {
		t.Errorf("the error is not classified as DATABASE_UNAVAILABLE")
	}

	start()
	revokeInDB(t, tdb, "active", clk.Now())
	clk.Advance(time.Second)
	expectRevoked(t, r, map[string]bool{"revoked": true, "active": true})
}

func mustErr(_ bool, err error) error { return err }

func TestIndexes(t *testing.T) {
	tdb := newTestDB(t)
	ctx := context.Background()
	db := tdb.db(t)
	if err := mongodb.EnsureIndexes(ctx, db, obs.Discard(), auth.Indexes()); err != nil {
		t.Fatalf("EnsureIndexes: %v", err)
	}
	specs, err := db.Collection(auth.SessionsCollection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range specs {
		names[s.Name] = true
	}
	for _, ix := range auth.Indexes() {
		if ix.Collection != auth.SessionsCollection || !names[ix.Name] {
			t.Errorf("index %s.%s not created (have %v)", ix.Collection, ix.Name, names)
		}
	}
}
