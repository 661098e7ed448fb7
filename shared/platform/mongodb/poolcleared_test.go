package mongodb_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

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

// TestClassifyStateChange: a node that answers it is shutting down or not the primary (a
// failover, a maintenance window) leaves the request as unserved as an unreachable one: 503
// DATABASE_UNAVAILABLE with Retry-After, not a 500, once the driver's one retry met it too. A
// command the server refuses for what it is stays an error of its own (nil here: the caller's 500
// or its own mapping).
func TestClassifyStateChange(t *testing.T) {
	db := testenv.DB(t)
	// The driver retries a read that meets a state change until the operation's timeout (the
	// client-side timeout): a short one keeps the read cases short.
	c := mongodb.New(mongodb.Options{URI: constURI(db.URI()), Database: "test", ServerSelectionTimeout: 2 * time.Second, OperationTimeout: time.Second})
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	ctx := context.Background()
	d, err := c.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		code    int
		command string
		want503 bool
	}{
		{"shutdown in progress", 91, "insert", true},
		{"not writable primary", 10107, "insert", true},
		{"primary stepped down", 189, "insert", true},
		{"interrupted at shutdown", 11600, "insert", true},
		{"interrupted by a state change", 11602, "insert", true},
		{"not primary, no secondaryOk", 13435, "insert", true},
		{"not primary or secondary", 13436, "insert", true},
		// A read is retried until the operation's timeout: what surfaces is the state change or
		// the timeout, whichever the last attempt met (the web layer answers a timeout itself).
		{"primary stepped down, read", 189, "find", true},
		{"bad value", 2, "insert", false},
		{"internal error", 1, "find", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// More often than the driver retries within the operation's timeout: a write is
			// retried once, a read until the timeout.
			db.Inject(devdb.Fault{Command: tt.command, Times: 1000, ErrorCode: tt.code, ErrorMessage: "injected"})
			t.Cleanup(db.ClearFaults)
			if tt.command == "insert" {
				_, err = d.Collection("x").InsertOne(ctx, bson.D{{Key: "a", Value: 1}})
			} else {
				err = d.Collection("x").FindOne(ctx, bson.D{}).Err()
			}
			if err == nil {
				t.Fatal("the injected error did not reach the caller")
			}
			if tt.command == "find" && mongo.IsTimeout(err) {
				t.Logf("the read timed out while retrying: %v", err)
				return
			}
			e := mongodb.Classify(err)
			switch {
			case tt.want503 && (e == nil || e.Status != http.StatusServiceUnavailable || e.Code != web.CodeDatabaseUnavailable || e.RetryAfter == 0):
				t.Fatalf("Classify(%v) = %+v, want 503 %s with Retry-After", err, e, web.CodeDatabaseUnavailable)
			case !tt.want503 && e != nil:
				t.Fatalf("Classify(%v) = %+v, want nil (not an availability error)", err, e)
			}
		})
	}
}
