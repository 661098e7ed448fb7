package idempotency_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
)

const docs = "docs"

// guardedInc runs the operation a guarded update stands for: n += 1 on the document, at most once
// per claim. It reports whether the update applied.
func (e *testEnv) guardedInc(t *testing.T, c *idempotency.Claim, id string) bool {
	t.Helper()
	filter, set := c.Guard(docs, id)
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	res, err := e.db.Collection(docs).UpdateOne(testCtx(t), append(bson.D{{Key: "_id", Value: id}}, filter...), update)
	if err != nil {
		t.Fatalf("guarded update: %v", err)
	}
	return res.MatchedCount == 1
}

func (e *testEnv) counter(t *testing.T, id string) int {
	t.Helper()
	var doc struct {
		N int `bson:"n"`
	}
	if err := e.db.Collection(docs).FindOne(testCtx(t), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.N
}

// TestGuard: the guarded update applies once per claim however often it is sent, also across a
// takeover; Finish removes the marker of a claim that ran alone and keeps that of a claim taken
// over (the abandoned request may still have an update in flight).
func TestGuard(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	if _, err := e.db.Collection(docs).InsertOne(ctx, bson.D{{Key: "_id", Value: "acc"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}

	c := e.mustClaim(t, "u1", "alone", route, fp)
	if !e.guardedInc(t, c, "acc") || e.guardedInc(t, c, "acc") {
		t.Fatal("the guarded update must apply the first time only")
	}
	if m := e.markers(t, docs, "acc"); len(m) != 1 || !m[c.Token()].Equal(clockBase) {
		t.Fatalf("markers %v; want {%s: the record's creation time}", m, c.Token())
	}
	if err := c.Finish(ctx, http.StatusCreated, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m := e.markers(t, docs, "acc"); len(m) != 0 {
		t.Fatalf("markers after Finish: %v; want none", m)
	}

	crashed := e.mustClaim(t, "u1", "crashed", route, fp)
	e.guardedInc(t, crashed, "acc") // ... and the request dies before Finish
	e.clock.Advance(idempotency.InFlightTimeout + time.Second)
	retry := e.mustClaim(t, "u1", "crashed", route, fp)
	if e.guardedInc(t, retry, "acc") {
		t.Fatal("the re-run's update applied again")
	}
	if err := retry.Finish(ctx, http.StatusCreated, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if m := e.markers(t, docs, "acc"); len(m) != 1 {
		t.Fatalf("markers after the takeover's Finish: %v; want the taken-over claim's kept", m)
	}
	if n := e.counter(t, "acc"); n != 2 {
		t.Fatalf("n = %d, want 2 (one per key)", n)
	}
}

// TestMarkerPruning: a marker left behind is pruned by a later Finish on the same document once
// it is older than MarkerRetention — never earlier, while its key could still be taken over.
func TestMarkerPruning(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	if _, err := e.db.Collection(docs).InsertOne(ctx, bson.D{{Key: "_id", Value: "acc"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	old := e.mustClaim(t, "u1", "old", route, fp)
	e.guardedInc(t, old, "acc") // left behind: no Finish

	e.clock.Advance(idempotency.Retention) // "old" has just expired; "young" is fresh
	young := e.mustClaim(t, "u1", "young", route, fp)
	e.guardedInc(t, young, "acc")

	finishOne := func(key string) {
		t.Helper()
		c := e.mustClaim(t, "u1", key, route, fp)
		e.guardedInc(t, c, "acc")
		if err := c.Finish(ctx, http.StatusCreated, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	finishOne("a")
	if m := e.markers(t, docs, "acc"); len(m) != 2 {
		t.Fatalf("markers %v; want old and young kept (old is not past MarkerRetention yet)", m)
	}

	e.clock.Advance(idempotency.MarkerRetention - idempotency.Retention + time.Second)
	finishOne("b")
	m := e.markers(t, docs, "acc")
	if _, ok := m[old.Token()]; ok || len(m) != 1 {
		t.Fatalf("markers %v; want only young's", m)
	}
	if _, ok := m[young.Token()]; !ok {
		t.Fatalf("markers %v; young's was pruned", m)
	}
	if !strings.Contains(e.logs.String(), "stale idempotency markers pruned") {
		t.Errorf("no log line for the pruning:\n%s", e.logs.String())
	}
}

// TestNilClaim: without a key an operation runs the same code with a nil claim.
func TestNilClaim(t *testing.T) {
	var c *idempotency.Claim
	filter, set := c.Guard(docs, "acc")
	if c.Token() != "" || c.Reclaimed() || filter != nil || set != nil || c.Finish(testCtx(t), 500, nil) != nil {
		t.Fatal("a nil claim must be inert")
	}
	filter, set = c.GuardDeferred(func(string) { t.Fatal("a nil claim called back") })
	if filter != nil || set != nil || c.Finish(testCtx(t), http.StatusCreated, nil) != nil {
		t.Fatal("a nil claim must be inert")
	}
}

// deferredInc is guardedInc with GuardDeferred, sent twice (a re-run of the same attempt): the
// paths Finish hands back are appended to got. It reports whether each update applied.
func (e *testEnv) deferredInc(t *testing.T, c *idempotency.Claim, id string, got *[]string) (first, second bool) {
	t.Helper()
	filter, set := c.GuardDeferred(func(field string) { *got = append(*got, field) })
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}, {Key: "$set", Value: set}}
	applied := make([]bool, 2)
	for i := range applied {
		res, err := e.db.Collection(docs).UpdateOne(testCtx(t), append(bson.D{{Key: "_id", Value: id}}, filter...), update)
		if err != nil {
			t.Fatalf("guarded update: %v", err)
		}
		applied[i] = res.MatchedCount == 1
	}
	return applied[0], applied[1]
}

// TestGuardDeferred: the deferred guard stops re-runs as Guard does, but Finish leaves the marker
// in place and hands its path to the caller — only once a 2xx is stored by a claim that ran alone.
// Not for a refusal or a failure (the failed attempt's retry must still find the marker), not when
// the store itself failed (the claim can still be taken over), not for a takeover.
func TestGuardDeferred(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	if _, err := e.db.Collection(docs).InsertOne(ctx, bson.D{{Key: "_id", Value: "acc"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		finish func(c *idempotency.Claim) error
		want   bool // the path is handed back
	}{
		{"2xx stored", func(c *idempotency.Claim) error { return c.Finish(ctx, http.StatusCreated, []byte("{}")) }, true},
		{"4xx stored", func(c *idempotency.Claim) error {
			return c.Finish(ctx, http.StatusUnprocessableEntity, []byte("{}"))
		}, false},
		{"5xx released", func(c *idempotency.Claim) error { return c.Finish(ctx, http.StatusInternalServerError, nil) }, false},
		{"store failed", func(c *idempotency.Claim) error {
			e.srv.Inject(devdb.Fault{Command: "update", Times: 1, ErrorCode: 1})
			defer e.srv.ClearFaults()
			if err := c.Finish(ctx, http.StatusCreated, []byte("{}")); err == nil {
				return errors.New("Finish succeeded through an injected failure")
			}
			return nil
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.mustClaim(t, "u1", tt.name, route, fp)
			var got []string
			if first, second := e.deferredInc(t, c, "acc", &got); !first || second {
				t.Fatal("the guarded update must apply the first time only")
			}
			if err := tt.finish(c); err != nil {
				t.Fatal(err)
			}
			path := idempotency.MarkerField + "." + c.Token()
			if tt.want && (len(got) != 1 || got[0] != path) || !tt.want && len(got) != 0 {
				t.Fatalf("handed back %v, want %v", got, tt.want)
			}
			if m := e.markers(t, docs, "acc"); !m[c.Token()].Equal(clockBase) {
				t.Fatalf("markers %v; Finish must leave %s to the caller", m, c.Token())
			}
		})
	}

	t.Run("takeover", func(t *testing.T) {
		var got []string
		crashed := e.mustClaim(t, "u1", "crashed", route, fp)
		e.deferredInc(t, crashed, "acc", &got) // ... and the request dies before Finish
		e.clock.Advance(idempotency.InFlightTimeout + time.Second)
		retry := e.mustClaim(t, "u1", "crashed", route, fp)
		if first, second := e.deferredInc(t, retry, "acc", &got); first || second {
			t.Fatal("the re-run's update applied again")
		}
		if err := retry.Finish(ctx, http.StatusCreated, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Fatalf("handed back %v for a taken-over claim", got)
		}
	})
}

// TestStaleMarkers: only markers older than MarkerRetention are stale; values that are not times
// are someone else's and are left alone.
func TestStaleMarkers(t *testing.T) {
	now := clockBase
	doc, err := bson.Marshal(bson.D{
		{Key: "_id", Value: "acc"},
		{Key: idempotency.MarkerField, Value: bson.D{
			{Key: "old", Value: now.Add(-idempotency.MarkerRetention - time.Second)},
			{Key: "edge", Value: now.Add(-idempotency.MarkerRetention)},
			{Key: "young", Value: now.Add(-time.Hour)},
			{Key: "odd", Value: "not a time"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := idempotency.StaleMarkers(doc, now); len(got) != 1 || got[0] != idempotency.MarkerField+".old" {
		t.Fatalf("stale %v, want only %s.old", got, idempotency.MarkerField)
	}
	none, _ := bson.Marshal(bson.D{{Key: "_id", Value: "acc"}})
	if got := idempotency.StaleMarkers(none, now); len(got) != 0 {
		t.Fatalf("stale %v in a document without markers", got)
	}
}
