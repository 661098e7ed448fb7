// Package fuzzapi is the fuzzing harness of the money functions (transactions, orders,
// portfolio): the function as built for Lambda on an embedded database, one user with an open
// account, a market from a price file, and Send, which drives one request and checks the
// invariants of every fuzz input: no 5xx, nothing written on a refusal, balances never negative.
// Test-only: never linked into a Lambda binary.
package fuzzapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// API is a money function as built for Lambda (its catalog builder, with the real guard) on an embedded
// database, a user with an open account, and the market of a price file, refreshed often enough
// that it never goes stale while a fuzz target runs.
type API struct {
	fn        *lambdahttp.Function
	db        *mongo.Database
	token     string
	refresher *market.Refresher

	mu        sync.Mutex
	refreshed time.Time
	// last is the snapshot after the last refused request, which is the next one's "before"
	// (nothing changes in between); nil after a success.
	last map[string][sha256.Size]byte
}

const fzUser = "fuzz-user"

const fzQuotes = `[
  {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5"},
  {"symbol": "ETH", "price": "3500.5", "change_24h": "-1.25"},
  {"symbol": "SOL", "price": "150.5"},
  {"symbol": "DOGE", "price": "0.15123456"},
  {"symbol": "USDT", "price": "1"}
]`

func New(f *testing.F, build app.Build) *API {
	srv := testenv.DB(f)
	cfg := testenv.Config(f, srv.URI(), nil)
	env := testenv.NewDeps(f, cfg, app.Options{})
	d := env.Deps
	fn, err := build(d)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	app.EnsureIndexes(ctx, d, append(fn.Indexes, market.Indexes()...))
	db, err := d.Mongo.Database(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if err := ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger}).OpenAccount(ctx, fzUser, money.USD(1_000_000)); err != nil {
		f.Fatal(err)
	}
	token, _, err := d.Auth().Tokens.Issue(ctx, fzUser, "fuzz-session")
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "prices.json")
	pricefile.WriteQuotes(f, path, fzQuotes)
	fd, err := feed.New(ctx, "file:"+path, feed.Options{})
	if err != nil {
		f.Fatal(err)
	}
	a := &API{fn: fn, db: db, token: token,
		refresher: market.NewRefresher(d.Mongo.Database, fd, market.RefresherOptions{Logger: d.Logger, BackfillDays: -1})}
	a.refresh(f)
	return a
}

// refresh stores the file's prices again once a minute (PRICE_MAX_AGE is 5).
func (a *API) refresh(tb testing.TB) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.refreshed) < time.Minute {
		return
	}
	if _, err := a.refresher.Refresh(context.Background()); err != nil {
		tb.Fatalf("price refresh: %v", err)
	}
	a.refreshed, a.last = time.Now(), nil
}

// send POSTs body to path as the user (with the Idempotency-Key when key is not empty) and checks
// the invariants: no 5xx; an error in the envelope; a refused request writes nothing (but its
// idempotency record, when it carried a valid key: 4xx outcomes are replayed); and whatever
// happened, the account's balances are non-negative and what is available never exceeds them.
func (a *API) Send(t *testing.T, path, body, key string) testenv.Response {
	a.refresh(t)
	header := testenv.JSONHeader()
	header.Set("Authorization", "Bearer "+a.token)
	if key != "" {
		header.Set(idempotency.HeaderName, key)
	}
	before := a.last
	if before == nil {
		before = Snapshot(t, a.db)
	}
	a.last = nil
	r := testenv.Do(t, a.fn, testenv.Request{Method: http.MethodPost, Path: path, Header: header, Body: body})
	if r.Status >= 500 {
		t.Fatalf("POST %s %q (key %q): %d %s", path, body, key, r.Status, r.Body)
	}
	if r.Status >= 400 {
		var env map[string]any
		if json.Unmarshal(r.Body, &env) != nil {
			t.Fatalf("%d without a JSON body: %s", r.Status, r.Body)
		}
		msg, _ := env["error"].(string)
		code, _ := env["code"].(string)
		if id, _ := env["request_id"].(string); msg == "" || env["detail"] != msg || code == "" || id == "" {
			t.Fatalf("%d not in the envelope: %s", r.Status, r.Body)
		}
		after := Snapshot(t, a.db)
		for name, d := range after {
			if before[name] != d && !(name == idempotency.Collection && key != "") {
				t.Fatalf("POST %s %q (key %q) refused %d %s, but %s changed", path, body, key, r.Status, code, name)
			}
		}
		for name := range before {
			if _, ok := after[name]; !ok {
				t.Fatalf("a refused request dropped the collection %s", name)
			}
		}
		a.last = after
	}
	a.checkAccount(t)
	return r
}

// checkAccount reads the account as stored: no balance is negative and none is more available
// than held (moneycheck.State.Bounds).
func (a *API) checkAccount(t *testing.T) {
	for _, err := range (moneycheck.State{Account: moneycheck.ReadAccount(t, a.db, fzUser)}).Bounds() {
		t.Fatal(err)
	}
}

// Snapshot digests every document of every collection of db, by collection: two snapshots
// are equal when a request changed nothing (a fuzzer's "bad input changes nothing" check).
func Snapshot(t testing.TB, db *mongo.Database) map[string][sha256.Size]byte {
	ctx := context.Background()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][sha256.Size]byte{}
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for cur.Next(ctx) {
			h.Write(cur.Current)
		}
		if err := cur.Err(); err != nil {
			t.Fatal(err)
		}
		_ = cur.Close(ctx)
		var d [sha256.Size]byte
		h.Sum(d[:0])
		out[name] = d
	}
	return out
}
