package idempotency_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
}
