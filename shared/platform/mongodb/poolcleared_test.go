package mongodb_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestClassifyPoolCleared: when one operation's connection breaks, the driver clears the pool and
// fails the operations waiting for a connection with "connection pool ... was cleared" (a write on
// a standalone server, which cannot retry it, returns it as is). The database is unreachable for
// them as much as for the one that broke: 503 DATABASE_UNAVAILABLE, not a 500. (Found by the
// engine-restart burst in shared/hardening.)
func TestClassifyPoolCleared(t *testing.T) {
	db := testenv.DB(t)
	c := mongodb.New(mongodb.Options{URI: constURI(db.URI()), Database: "test", MaxPoolSize: 1, ServerSelectionTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	ctx := context.Background()
	d, err := c.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		// The pool's one connection is held by a slow find while a write waits for it; then the
		// engine stops: the find's connection breaks, the pool is cleared, and the waiting write
		// (and its retry, the engine being down) fail.
		db.Inject(devdb.Fault{Command: "find", Delay: 500 * time.Millisecond, Times: 1})
		var wg sync.WaitGroup
		wg.Go(func() { _ = d.Collection("x").FindOne(ctx, bson.D{}).Err() })
		var err error
		wg.Go(func() {
			time.Sleep(100 * time.Millisecond)
			_, err = d.Collection("x").InsertOne(ctx, bson.D{{Key: "a", Value: attempt}})
		})
		time.Sleep(250 * time.Millisecond)
		if err := db.StopEngine(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		db.ClearFaults()
		if err := db.StartEngine(); err != nil {
			t.Fatal(err)
		}
		t.Logf("attempt %d: %v", attempt, err)
		if err != nil && strings.Contains(err.Error(), "was cleared") {
			e := mongodb.Classify(err)
			if e == nil || e.Status != http.StatusServiceUnavailable || e.Code != web.CodeDatabaseUnavailable {
				t.Fatalf("Classify(%v) = %+v, want 503 DATABASE_UNAVAILABLE", err, e)
			}
			if !mongodb.IsUnavailable(err) {
				t.Fatalf("IsUnavailable(%v) = false", err)
			}
			return
		}
		if attempt == 10 {
			t.Fatalf("no pool-cleared error in %d attempts (last: %v)", attempt, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
