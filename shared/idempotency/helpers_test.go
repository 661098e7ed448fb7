package idempotency_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

var clockBase = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

// testEnv is an engine, a warm client on it (the production client type), a store with a clock
// the test moves, and the database for direct checks.
type testEnv struct {
	srv   *devdb.Server
	db    *mongo.Database
	clock *fakeclock.Clock
	store *idempotency.Store
	logs  *logbuf.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	srv := testenv.DB(t)
	uri := srv.URI()
	c := mongodb.New(mongodb.Options{
		URI:      func(context.Context) (string, error) { return uri, nil },
		Database: "idempotency_test",
		// Long enough for the concurrency tests, whose goroutines queue for a Lambda-sized pool
		// behind a proxy that runs one command at a time.
		ServerSelectionTimeout: 10 * time.Second,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	db, err := c.Database(testCtx(t))
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	e := &testEnv{srv: srv, db: db, clock: fakeclock.New(clockBase), logs: &logbuf.Buffer{}}
	e.store = idempotency.NewStore(c.Database, e.clock.Now, idempotency.WithLogger(newLogger(e.logs)))
	return e
}

// testCtx bounds a test's database calls so that a bug fails the test instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// begin calls Begin and fails the test on a database error (a *web.Error is returned as err).
func (e *testEnv) begin(t *testing.T, user, key, route, fp string) (*idempotency.Claim, *idempotency.Response, error) {
	t.Helper()
	return e.store.Begin(testCtx(t), user, key, route, fp)
}

// mustClaim begins and fails the test unless it got a claim.
func (e *testEnv) mustClaim(t *testing.T, user, key, route, fp string) *idempotency.Claim {
	t.Helper()
	c, resp, err := e.begin(t, user, key, route, fp)
	if err != nil || resp != nil || c == nil {
		t.Fatalf("Begin(%s, %s): claim %v, response %v, error %v; want a claim", user, key, c, resp, err)
	}
	return c
}

// markers returns the markers stored in the document id of coll.
func (e *testEnv) markers(t *testing.T, coll, id string) map[string]time.Time {
	t.Helper()
	var doc struct {
		Markers map[string]time.Time `bson:"idem"`
	}
	if err := e.db.Collection(coll).FindOne(testCtx(t), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatalf("read %s/%s: %v", coll, id, err)
	}
	return doc.Markers
}

// wantCode fails the test unless err is a *web.Error with status and code.
func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var we *web.Error
	if !errors.As(err, &we) || we.Status != status || we.Code != code {
		t.Fatalf("error %v, want %d %s", err, status, code)
	}
}

func newLogger(b *logbuf.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(b, nil))
}

func isCode(err error, code string) bool {
	var we *web.Error
	return errors.As(err, &we) && we.Code == code
}
