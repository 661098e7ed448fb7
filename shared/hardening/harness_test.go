package hardening_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
	"github.com/cryptovault/serverless/shared/testkit/openapicheck"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// templatePath is template.yaml from this package's directory.
const templatePath = "../../template.yaml"

// coins is the price file every stack starts from: every supported coin, so any route that takes
// a symbol has a price.
var coins = map[string]string{
	"BTC": "65000.12", "ETH": "3500", "USDT": "1", "BNB": "600", "SOL": "150.5",
	"XRP": "0.5", "USDC": "1", "ADA": "0.45", "DOGE": "0.15", "TRX": "0.12",
}

// stack is every function of template.yaml, built from the catalog as the local server builds
// them, on one embedded database and one Deps, with the file price feed. Requests are routed the
// way API Gateway routes them (samtemplate.Resolve) and sent as the stage's events.
type stack struct {
	t         testing.TB
	db        *devdb.Server
	env       *testenv.Env
	routes    []samtemplate.Route
	byRoute   map[samtemplate.Route]*lambdahttp.Function
	byID      map[string]*lambdahttp.Function
	priceFile string
	mdb       *mongo.Database
	ledger    *ledger.Ledger
	// validate checks every response against openapi.yaml (testenv.ValidateResponses).
	validate bool
}

type stackOptions struct {
	// env overrides configuration variables (testenv.Config's defaults plus PRICE_FEED=file:...).
	env map[string]string
	// bcryptCost is the password hashing cost (default 4, as the accounts tests; 10 is the floor
	// outside tests).
	bcryptCost int
	// app are the options of app.New (SecretsAPI for the Secrets Manager tests).
	app app.Options
	// noPrices skips the first price refresh.
	noPrices bool
	// db reuses an embedded database (nil: a new one).
	db *devdb.Server
	// beforeBuild runs between app.New and building the functions (to swap a dependency).
	beforeBuild func(d *app.Deps)
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, db: o.db, byRoute: map[samtemplate.Route]*lambdahttp.Function{}, byID: map[string]*lambdahttp.Function{},
		validate: testenv.ValidateResponses}
	if s.db == nil {
		s.db = testenv.DB(t)
	}
	s.priceFile = filepath.Join(t.TempDir(), "prices.json")
	pricefile.Write(t, s.priceFile, coins)
	vars := map[string]string{"PRICE_FEED": "file:" + s.priceFile}
	maps.Copy(vars, o.env)
	cfg := testenv.Config(t, s.db.URI(), vars)
	cfg.BcryptCost = 4
	if o.bcryptCost != 0 {
		cfg.BcryptCost = o.bcryptCost
	}
	o.app.OutboxDir = t.TempDir()
	s.env = testenv.NewDeps(t, cfg, o.app)
	if o.beforeBuild != nil {
		o.beforeBuild(s.env.Deps)
	}
	s.build()
	if !o.noPrices {
		s.refreshPrices()
	}
	return s
}

// build mounts every template function from the catalog and creates their indexes.
func (s *stack) build() {
	t := s.t
	t.Helper()
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	d := s.env.Deps
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tf := range tpl.Functions() {
		entry, ok := catalog.ByLogicalID(tf.LogicalID)
		if !ok {
			t.Fatalf("template function %s is not in the catalog", tf.LogicalID)
		}
		fn, err := entry.Build(d)
		if err != nil {
			t.Fatalf("build %s: %v", tf.LogicalID, err)
		}
		s.byID[tf.LogicalID] = fn
		for _, r := range tf.Routes {
			s.routes = append(s.routes, r)
			s.byRoute[r] = fn
		}
		app.EnsureIndexes(ctx, d, fn.Indexes)
	}
	s.ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger})
}

// database returns the database handle, waiting for the engine if it is down.
func (s *stack) database() *mongo.Database {
	s.t.Helper()
	if s.mdb == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		db, err := s.env.Deps.Mongo.Database(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		s.mdb = db
	}
	return s.mdb
}

// scheduledEvent is the EventBridge event of the template's schedules.
const scheduledEvent = `{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"000000000000",` +
	`"time":"2026-11-28T09:15:00Z","region":"local","resources":[],"detail":{}}`

// runPrices invokes the prices function as its schedule does (refresh, then the matcher).
func (s *stack) runPrices() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.byID["PricesFunction"].Handle(ctx, json.RawMessage(scheduledEvent))
	return err
}

func (s *stack) refreshPrices() {
	s.t.Helper()
	if err := s.runPrices(); err != nil {
		s.t.Fatalf("prices run: %v", err)
	}
}

// response is what a client receives.
type response = testenv.Response

// send routes one request as the stage would and returns the client's view. It is safe to call
// from several goroutines (it never stops the test); ctx is the Lambda invocation's context, so
// its deadline is the function's.
func (s *stack) send(ctx context.Context, method, target string, header http.Header, body string) (response, error) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, vs := range header {
		r.Header[k] = slices.Clone(vs)
	}
	route, _, _, ok := samtemplate.Resolve(s.routes, method, r.URL.Path)
	if !ok {
		return response{}, fmt.Errorf("no template route for %s %s", method, r.URL.Path)
	}
	fn := s.byRoute[route]
	ev := apigateway.Event(r, route.Path, []byte(body), apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, requestID())
	resp, err := fn.ServeEvent(ctx, ev)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	rec := httptest.NewRecorder()
	if err := apigateway.WriteResponse(rec, resp); err != nil {
		return response{}, err
	}
	raw, _ := io.ReadAll(rec.Result().Body)
	out := response{Status: rec.Code, Header: rec.Result().Header, Body: raw}
	if s.validate {
		openapicheck.Check(s.t, openapicheck.Exchange{Function: fn.Name, Routes: fn.Routes, Method: method,
			Target: target, Status: out.Status, Header: out.Header, Body: out.Body})
	}
	return out, nil
}

// do is send for the test's goroutine, with a generous deadline.
func (s *stack) do(method, target string, header http.Header, body string) response {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.send(ctx, method, target, header, body)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jsonHeader is what the React frontend sends (Content-Type JSON, an allowed Origin), plus kv.
func jsonHeader(kv ...string) http.Header {
	h := testenv.JSONHeader()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// user is a signed-up user: its id, access token, refresh token and session id.
type user struct {
	s        *stack
	id       string
	email    string
	password string
	access   string
	refresh  string
}

const password = "Hardened9Vault"

// signup creates a user through the API (as the frontend does) and keeps its tokens.
func (s *stack) signup(email string) *user {
	s.t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q,"name":"Test User"}`, email, password)
	r := s.do("POST", "/api/auth/signup", jsonHeader(), body)
	m := testenv.Expect(s.t, r, 201, "")
	u := &user{s: s, email: email, password: password}
	u.id, _ = m["user"].(map[string]any)["id"].(string)
	u.access, _ = m["access_token"].(string)
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "refresh_token" {
			u.refresh = c.Value
		}
	}
	if u.id == "" || u.access == "" || u.refresh == "" {
		s.t.Fatalf("signup %s: no id, access or refresh token: %s %v", email, r.Body, r.Header)
	}
	return u
}

// bearer is the header of a bearer client, plus kv.
func (u *user) bearer(kv ...string) http.Header {
	return jsonHeader(append([]string{"Authorization", "Bearer " + u.access}, kv...)...)
}

// cookies is the header of the browser: both cookies, no Authorization.
func (u *user) cookies(kv ...string) http.Header {
	return jsonHeader(append([]string{"Cookie", "access_token=" + u.access + "; refresh_token=" + u.refresh}, kv...)...)
}

func (u *user) do(method, target, body string) response {
	u.s.t.Helper()
	return u.s.do(method, target, u.bearer(), body)
}

// field digs a string out of a decoded body: field(m, "order", "id").
func field(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

// snapshot is every document of every collection, in _id order: what "nothing changed" compares.
func (s *stack) snapshot() map[string][]string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := s.database()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			s.t.Fatal(err)
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			s.t.Fatal(err)
		}
		for _, d := range docs {
			out[name] = append(out[name], d.String())
		}
	}
	return out
}

// assertUnchanged fails if any collection differs from before.
func (s *stack) assertUnchanged(what string, before map[string][]string) {
	s.t.Helper()
	after := s.snapshot()
	for _, name := range slices.Sorted(maps.Keys(union(before, after))) {
		if !slices.Equal(before[name], after[name]) {
			s.t.Errorf("%s changed collection %q: %d documents before, %d after", what, name, len(before[name]), len(after[name]))
		}
	}
}

func union[V any](a, b map[string]V) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// count counts the documents of collection that match filter.
func (s *stack) count(collection string, filter bson.D) int {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := s.database().Collection(collection).CountDocuments(ctx, filter)
	if err != nil {
		s.t.Fatal(err)
	}
	return int(n)
}

// assertLedger checks one user's money after flushing what is pending (moneycheck): every balance
// is the sum of the user's entries and none is negative, nor below what is available of it; what
// the account holds back is what its open orders reserve; a filled order has exactly its trade and
// fee entries. A fault may have cut a transition between the account's update and the order's
// write, so the order documents the account still has to write count as written.
func (s *stack) assertLedger(userID string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.ledger.Flush(ctx, userID); err != nil {
		s.t.Fatalf("flush %s: %v", userID, err)
	}
	st := moneycheck.Read(s.t, s.database(), userID).WithUnwritten()
	for _, err := range slices.Concat(st.Flushed(), st.Balances(), st.Reservations()) {
		s.t.Error(err)
	}
}

// assertNoInternals fails if a 5xx body carries anything but the envelope's fixed message: no
// driver message, host, stack or connection string.
func assertNoInternals(t testing.TB, r response, uri string) {
	t.Helper()
	low := strings.ToLower(string(r.Body))
	for _, leak := range []string{"mongo", "127.0.0.1", "connection", "server selection", "topology", "goroutine", "panic", "context deadline", "i/o timeout", strings.ToLower(uri)} {
		if leak != "" && strings.Contains(low, leak) {
			t.Errorf("%d body leaks %q: %s", r.Status, leak, r.Body)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
