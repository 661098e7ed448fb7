package mongodb_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

func newClient(t *testing.T, uri func(context.Context) (string, error)) *mongodb.Client {
	t.Helper()
	c := mongodb.New(mongodb.Options{URI: uri, Database: "test", ServerSelectionTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func constURI(uri string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return uri, nil }
}

func TestConnectPingDisconnect(t *testing.T) {
	db := testenv.DB(t)
	c := newClient(t, constURI(db.URI()))
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if d, err := c.Ping(ctx); err != nil || d <= 0 {
		t.Fatalf("Ping = %v, %v", d, err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if err := c.Disconnect(ctx); err != nil {
		t.Fatalf("second Disconnect: %v", err)
	}
}

// TestDatabaseBacksOff: when no client can be created (the connection string is unavailable),
// attempts are spaced by a growing backoff, requests in between fail at once, and the first
// attempt after the cause is gone succeeds.
func TestDatabaseBacksOff(t *testing.T) {
	db := testenv.DB(t)
	calls := 0
	broken := true
	c := newClient(t, func(context.Context) (string, error) {
		calls++
		if broken {
			return "", errors.New("secret store down")
		}
		return db.URI(), nil
	})
	ctx := context.Background()
	_, err := c.Database(ctx)
	if !errors.Is(err, mongodb.ErrUnavailable) || !mongodb.IsUnavailable(err) {
		t.Fatalf("first attempt err = %v, want ErrUnavailable", err)
	}
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := c.Database(ctx); err == nil {
			t.Fatal("succeeded during backoff")
		}
	}
	if calls != 1 || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("during backoff: %d URI calls (want 1), took %v (want no waiting)", calls, time.Since(start))
	}
	broken = false
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := c.Database(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no recovery after backoff")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if calls != 2 {
		t.Errorf("URI resolved %d times, want 2", calls)
	}
}

func TestInvalidURIDoesNotLeak(t *testing.T) {
	c := newClient(t, constURI("mongodb://user:hunter2@127.0.0.1:1/?maxPoolSize=notanumber"))
	_, err := c.Database(context.Background())
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v; want an error without the password", err)
	}
}

// TestClassify: unreachable database → 503 DATABASE_UNAVAILABLE without the driver's text;
// other errors are left to the next classifier.
func TestClassify(t *testing.T) {
	db := testenv.DB(t)
	c := newClient(t, constURI(db.URI()))
	ctx := context.Background()
	d, err := c.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	_, err = d.Collection("x").InsertOne(ctx, bson.D{{Key: "a", Value: 1}})
	if err == nil {
		t.Fatal("insert succeeded with the engine stopped")
	}
	e := mongodb.Classify(err)
	if e == nil || e.Status != http.StatusServiceUnavailable || e.Code != web.CodeDatabaseUnavailable || strings.Contains(e.Message, "127.0.0.1") {
		t.Fatalf("Classify(%v) = %+v", err, e)
	}
	for _, other := range []error{errors.New("boom"), mongo.ErrNoDocuments, context.Canceled, nil} {
		if e := mongodb.Classify(other); e != nil {
			t.Errorf("Classify(%v) = %+v, want nil", other, e)
		}
	}
}

// TestEnsureIndexes: indexes are created on the local engine; a TTL option it cannot honour is
// dropped with a warning; a unique index works; creating again is a no-op.
func TestEnsureIndexes(t *testing.T) {
	db := testenv.DB(t)
	c := newClient(t, constURI(db.URI()))
	ctx := context.Background()
	d, err := c.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Logs{}
	indexes := []mongodb.Index{
		{Collection: "users", Name: "email_unique", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true},
		{Collection: "sessions", Name: "expires_ttl", Keys: bson.D{{Key: "expires_at", Value: 1}}, ExpireAfter: time.Second},
		{Collection: "orders", Name: "user_created", Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}}},
	}
	for i := 0; i < 2; i++ {
		if err := mongodb.EnsureIndexes(ctx, d, obs.NewLogger(logs, nil), indexes); err != nil {
			t.Fatalf("EnsureIndexes (run %d): %v", i+1, err)
		}
	}
	users := d.Collection("users")
	if _, err := users.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := users.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}}); !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert err = %v, want duplicate key", err)
	}
	names := map[string]bool{}
	ttlHonoured := false
	for _, coll := range []string{"users", "sessions", "orders"} {
		specs, err := d.Collection(coll).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			names[s.Name] = true
			ttlHonoured = ttlHonoured || (s.Name == "expires_ttl" && s.ExpireAfterSeconds != nil)
		}
	}
	// Either the engine has TTL (Atlas) or it said it has not and we were told.
	if !ttlHonoured && !strings.Contains(logs.String(), "expireAfterSeconds") {
		t.Errorf("TTL option neither applied nor reported: %s", logs.String())
	}
	for _, ix := range indexes {
		if !names[ix.Name] {
			t.Errorf("index %s missing; have %v", ix.Name, names)
		}
	}
}

// TestEnsureIndexesFailsOnConflictingData: a unique index over duplicate data is an error,
// never silently skipped.
func TestEnsureIndexesFailsOnConflictingData(t *testing.T) {
	db := testenv.DB(t)
	c := newClient(t, constURI(db.URI()))
	ctx := context.Background()
	d, err := c.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := d.Collection("users").InsertOne(ctx, bson.D{{Key: "email", Value: "dup@example.com"}}); err != nil {
			t.Fatal(err)
		}
	}
	err = mongodb.EnsureIndexes(ctx, d, obs.Discard(), []mongodb.Index{
		{Collection: "users", Name: "email_unique", Keys: bson.D{{Key: "email", Value: 1}}, Unique: true, ExpireAfter: time.Hour},
	})
	if err == nil {
		t.Fatal("unique index over duplicates succeeded")
	}
}
