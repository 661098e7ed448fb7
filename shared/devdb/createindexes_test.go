package devdb

import (
	"context"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TestCreateIndexesAgain: asking again, in one command, for indexes of which two or more exist
// (what every cold start's mongodb.EnsureIndexes does) keeps the connection, creates the new
// ones, and answers as MongoDB does. Straight to the engine, the command panics it (the driver
// clears its pool) or silently skips a new index.
func TestCreateIndexesAgain(t *testing.T) {
	s := startServer(t, Options{Dir: t.TempDir()})
	var replies []bson.Raw
	c := connect(t, s.URI(), func(o *options.ClientOptions) {
		o.SetMonitor(&event.CommandMonitor{Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if e.CommandName == "createIndexes" {
				replies = append(replies, e.Reply)
			}
		}})
		o.SetPoolMonitor(&event.PoolMonitor{Event: func(e *event.PoolEvent) {
			if e.Type == event.ConnectionPoolCleared {
				t.Errorf("the driver cleared its pool: the engine dropped a connection")
			}
		}})
	})
	ctx := testCtx(t)
	coll := c.Database("db").Collection("orders")
	model := func(name string, keys ...string) mongo.IndexModel {
		var d bson.D
		for _, k := range keys {
			d = append(d, bson.E{Key: k, Value: 1})
		}
		return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name)}
	}
	a, b, n := model("a", "user_id", "created_at"), model("b", "status", "symbol"), model("n", "symbol")

	for i, models := range [][]mongo.IndexModel{{a, b}, {a, b}, {a, b, n}} {
		if _, err := coll.Indexes().CreateMany(ctx, models); err != nil {
			t.Fatalf("CreateMany #%d: %v", i, err)
		}
	}
	var names []string
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var specs []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &specs); err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		names = append(names, sp.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"_id_", "a", "b", "n"}) {
		t.Errorf("indexes %v, want _id_ a b n", names)
	}

	want := []struct {
		before, after int32
		note          bool
	}{{1, 3, false}, {3, 3, true}, {3, 4, false}}
	if len(replies) != len(want) {
		t.Fatalf("%d createIndexes replies, want %d", len(replies), len(want))
	}
	for i, w := range want {
		r := replies[i]
		before, _ := r.Lookup("numIndexesBefore").Int32OK()
		after, _ := r.Lookup("numIndexesAfter").Int32OK()
		_, note := r.Lookup("note").StringValueOK()
		if before != w.before || after != w.after || note != w.note {
			t.Errorf("reply #%d = %v, want before %d, after %d, note %v", i, r, w.before, w.after, w.note)
		}
	}

	// A failing index is the answer, as the engine gives it.
	bad := mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}}, Options: options.Index().SetName("a")}
	if _, err := coll.Indexes().CreateMany(ctx, []mongo.IndexModel{a, bad}); err == nil {
		t.Errorf("an index named like another with other keys was accepted")
	}
	if err := c.Ping(ctx, nil); err != nil {
		t.Errorf("ping after the refused command: %v", err)
	}
}
