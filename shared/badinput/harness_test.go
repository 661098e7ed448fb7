package badinput_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// root is the repository root, from this package's directory.
const root = "../.."

// quotes is the market of the test, in the file feed's format: every supported coin has a price,
// so that orders and holdings of any coin can be valued.
const quotes = `{"quotes": [
  {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5", "market_cap": 1283550000000, "volume_24h": 45000000000},
  {"symbol": "ETH", "price": "3500.5", "change_24h": "-1.25", "market_cap": 420000000000, "volume_24h": 20000000000},
  {"symbol": "USDT", "price": "1", "change_24h": "0", "market_cap": 110000000000, "volume_24h": 50000000000},
  {"symbol": "BNB", "price": "600", "change_24h": "0.5", "market_cap": 90000000000, "volume_24h": 2000000000},
  {"symbol": "SOL", "price": "150.5", "change_24h": "3", "market_cap": 70000000000, "volume_24h": 3000000000},
  {"symbol": "XRP", "price": "0.52", "change_24h": "-0.4", "market_cap": 28000000000, "volume_24h": 1000000000},
  {"symbol": "USDC", "price": "1", "change_24h": "0", "market_cap": 33000000000, "volume_24h": 5000000000},
  {"symbol": "ADA", "price": "0.45", "change_24h": "1.1", "market_cap": 16000000000, "volume_24h": 400000000},
  {"symbol": "DOGE", "price": "0.15123456", "change_24h": "0", "market_cap": 21000000000, "volume_24h": 900000000},
  {"symbol": "TRX", "price": "0.12", "change_24h": "0.2", "market_cap": 10000000000, "volume_24h": 300000000}
]}`

// Credentials of the table's user.
const (
	userEmail    = "table@example.com"
	userPassword = "Table9Password"
	userName     = "Table User"
)

// harness is every function of the catalog on one embedded database, with the real guard, and a
// user with an account, an open order, a holding, transactions and audit entries.
type harness struct {
	t      *testing.T
	env    *testenv.Env
	db     *mongo.Database
	routes []samtemplate.Route
	// fns serves each template route ("POST /api/orders") with its function.
	fns map[samtemplate.Route]*lambdahttp.Function

	userID, token string
	// Ids of the user's resources, for the id-taking routes.
	orderID, transactionID, auditID string

	// last is the snapshot taken after the last refused request; lastValid says nothing can have
	// changed since. lockoutDirty: a refused request may have counted a login failure.
	last         snapshot
	lastValid    bool
	lockoutDirty bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, fns: map[samtemplate.Route]*lambdahttp.Function{}}
	srv := testenv.DB(t)
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(quotes), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testenv.Config(t, srv.URI(), map[string]string{"PRICE_FEED": "file:" + prices})
	cfg.BcryptCost = 4 // tests only: the production floor is 10
	h.env = testenv.NewDeps(t, cfg, app.Options{OutboxDir: t.TempDir()})
	d := h.env.Deps
	ctx := ctxFor(t)

	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var indexes []mongodb.Index
	var pricesFn *lambdahttp.Function
	for _, f := range tpl.Functions() {
		e, ok := catalog.ByLogicalID(f.LogicalID)
		if !ok {
			t.Fatalf("template function %s is not in the catalog", f.LogicalID)
		}
		fn, err := e.Build(d)
		if err != nil {
			t.Fatalf("build %s: %v", f.LogicalID, err)
		}
		indexes = append(indexes, fn.Indexes...)
		if fn.Scheduled != nil && f.LogicalID == "PricesFunction" {
			pricesFn = fn
		}
		for _, r := range f.Routes {
			if r.Method == http.MethodOptions {
				continue
			}
			h.routes = append(h.routes, r)
			h.fns[r] = fn
		}
	}
	slices.SortFunc(h.routes, func(a, b samtemplate.Route) int { return strings.Compare(a.String(), b.String()) })
	app.EnsureIndexes(ctx, d, indexes)
	if h.db, err = d.Mongo.Database(ctx); err != nil {
		t.Fatal(err)
	}
	if pricesFn == nil {
		t.Fatal("no prices function in the template")
	}
	if err := pricesFn.Scheduled(ctx, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}); err != nil {
		t.Fatalf("price refresh: %v", err)
	}
	h.setUp()
	return h
}

// ctxFor bounds a test's direct database calls.
func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setUp signs the user up through the auth function and gives it one resource of every kind.
func (h *harness) setUp() {
	t := h.t
	signup := h.mustDo(http.MethodPost, "/api/auth/signup", "",
		`{"email":"`+userEmail+`","password":"`+userPassword+`","name":"`+userName+`"}`,
		http.Header{"X-Token-Delivery": {"body"}}, http.StatusCreated)
	h.token, _ = signup["access_token"].(string)
	user, _ := signup["user"].(map[string]any)
	h.userID, _ = user["id"].(string)
	if h.token == "" || h.userID == "" {
		t.Fatalf("signup answered no token or user id: %v", signup)
	}
	// An open order (a limit buy far below the market), a BTC holding, and so transactions and
	// audit entries.
	order := h.mustDo(http.MethodPost, "/api/orders", "",
		`{"trading_pair":"BTC/USD","order_type":"limit","side":"buy","amount":"0.001","price":"1000"}`, nil, http.StatusCreated)
	h.orderID, _ = order["order"].(map[string]any)["id"].(string)
	h.mustDo(http.MethodPost, "/api/portfolio/holding", "", `{"symbol":"BTC","amount":"0.5"}`, nil, http.StatusCreated)
	txs := h.mustDo(http.MethodGet, "/api/transactions", "", "", nil, http.StatusOK)
	if list, _ := txs["transactions"].([]any); len(list) > 0 {
		h.transactionID, _ = list[0].(map[string]any)["id"].(string)
	}
	logs := h.mustDo(http.MethodGet, "/api/audit-logs", "", "", nil, http.StatusOK)
	if list, _ := logs["logs"].([]any); len(list) > 0 {
		h.auditID, _ = list[0].(map[string]any)["id"].(string)
	}
	if h.orderID == "" || h.transactionID == "" || h.auditID == "" {
		t.Fatalf("set-up left an id empty: order %q, transaction %q, audit %q", h.orderID, h.transactionID, h.auditID)
	}
}

// mustDo sends a request as the user (the JSON header and the bearer token) to the function of
// the route serving path, and fails the test unless the status is want.
func (h *harness) mustDo(method, path, resource, body string, extra http.Header, want int) map[string]any {
	h.t.Helper()
	header := h.header(true)
	maps.Copy(header, extra)
	fn, res := h.function(method, path, resource)
	r := testenv.Do(h.t, fn, testenv.Request{Method: method, Path: path, Resource: res, Header: header, Body: body})
	if r.Status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r.JSON(h.t)
}

// header is the frontend's header set, with the user's bearer token when auth.
func (h *harness) header(auth bool) http.Header {
	header := testenv.JSONHeader()
	if auth && h.token != "" {
		header.Set("Authorization", "Bearer "+h.token)
	}
	return header
}

// function finds the function and template resource serving method and path (the query is
// ignored), as API Gateway does; resource, when set, is used as is.
func (h *harness) function(method, path, resource string) (*lambdahttp.Function, string) {
	h.t.Helper()
	p, _, _ := strings.Cut(path, "?")
	r, _, allowed, ok := samtemplate.Resolve(h.routes, method, p)
	if !ok && len(allowed) > 0 {
		// A wrong method: the function of the path's first route answers it.
		r, _, _, ok = samtemplate.Resolve(h.routes, allowed[0], p)
	}
	if !ok {
		h.t.Fatalf("no route serves %s %s", method, path)
	}
	if resource == "" {
		resource = r.Path
	}
	return h.fns[r], resource
}

// raw sends req to fn through the same event translation as testenv.Do, without the OpenAPI
// check: for paths the http package cannot represent (a NUL byte), which the Lambda adapter
// answers itself with a 400 that openapi.yaml lists for one operation only.
func raw(t *testing.T, fn *lambdahttp.Function, method, target, resource string, header http.Header, body string) testenv.Response {
	t.Helper()
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	r.URL.Path = target // already unescaped: the event carries the decoded path
	r.Header = header.Clone()
	ev := apigateway.Event(r, resource, []byte(body), apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, "test-"+t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := fn.ServeEvent(ctx, ev)
	if err != nil {
		t.Fatalf("ServeEvent(%s %q): %v", method, target, err)
	}
	rec := httptest.NewRecorder()
	if err := apigateway.WriteResponse(rec, resp); err != nil {
		t.Fatalf("WriteResponse: %v", err)
	}
	b, _ := io.ReadAll(rec.Result().Body)
	return testenv.Response{Status: rec.Code, Header: rec.Result().Header, Body: b}
}

// snapshot is a digest of every document of every collection: two equal snapshots mean that
// nothing was inserted, updated or deleted in between.
type snapshot map[string]digest

type digest struct {
	count int
	sum   [sha256.Size]byte
}

func (h *harness) snapshot() snapshot {
	h.t.Helper()
	ctx := ctxFor(h.t)
	names, err := h.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		h.t.Fatalf("list collections: %v", err)
	}
	// One reader per collection, side by side: the table takes a snapshot per refused request.
	digests := make([]digest, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		if strings.HasPrefix(name, "system.") {
			continue
		}
		wg.Go(func() { digests[i], errs[i] = h.digest(ctx, name) })
	}
	wg.Wait()
	s := snapshot{}
	for i, name := range names {
		if errs[i] != nil {
			h.t.Fatalf("read %s: %v", name, errs[i])
		}
		if !strings.HasPrefix(name, "system.") {
			s[name] = digests[i]
		}
	}
	return s
}

// digest reads every document of a collection in _id order.
func (h *harness) digest(ctx context.Context, name string) (digest, error) {
	cur, err := h.db.Collection(name).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return digest{}, err
	}
	defer func() { _ = cur.Close(ctx) }()
	sum := sha256.New()
	var d digest
	for cur.Next(ctx) {
		sum.Write(cur.Current)
		d.count++
	}
	sum.Sum(d.sum[:0])
	return d, cur.Err()
}

// changed lists the collections whose documents differ between s and after, except allowed ones.
func (s snapshot) changed(after snapshot, allowed []string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(union(s, after))) {
		if slices.Contains(allowed, name) {
			continue
		}
		b, a := s[name], after[name]
		if a != b {
			out = append(out, fmt.Sprintf("%s (%d → %d documents)", name, b.count, a.count))
		}
	}
	return out
}

func union(a, b snapshot) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// clearLockout forgets every failed-login count, so that each case sees the route's own answer
// rather than a lock started by earlier cases.
func (h *harness) clearLockout() {
	h.t.Helper()
	if _, err := h.db.Collection("login_attempts").DeleteMany(ctxFor(h.t), bson.D{}); err != nil {
		h.t.Fatalf("clear login_attempts: %v", err)
	}
}

// jsonString is v as JSON text.
func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
