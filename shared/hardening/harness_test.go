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
	"os"
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
	"github.com/cryptovault/serverless/shared/testkit/openapicheck"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
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
	s.writePrices(coins)
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

// writePrices replaces the price file (a temporary file renamed over it: a refresh never reads
// half a file).
func (s *stack) writePrices(prices map[string]string) {
	s.t.Helper()
	type quote struct {
		Symbol string `json:"symbol"`
		Price  string `json:"price"`
	}
	var doc struct {
		Quotes []quote `json:"quotes"`
	}
	for _, sym := range slices.Sorted(maps.Keys(prices)) {
		doc.Quotes = append(doc.Quotes, quote{sym, prices[sym]})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		s.t.Fatal(err)
	}
	tmp := s.priceFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.priceFile); err != nil {
		s.t.Fatal(err)
	}
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
	m := expect(s.t, r, 201, "")
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

// expect fails the test unless r has the status (and, for errors, the envelope with code), and
// returns the decoded body.
func expect(t testing.TB, r response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := r.JSON(t)
	if code != "" && body["code"] != code {
		t.Fatalf("code %v, want %s: %s", body["code"], code, r.Body)
	}
	if status >= 400 && (body["error"] == nil || body["error"] != body["detail"] || body["request_id"] == nil) {
		t.Fatalf("not the error envelope: %s", r.Body)
	}
	return body
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

// The stored shapes, decoded independently of the packages' own types.
type rawAccount struct {
	Cash          int64            `bson:"cash"`
	CashAvailable int64            `bson:"cash_available"`
	Holdings      map[string]int64 `bson:"holdings"`
	Available     map[string]int64 `bson:"available"`
	Pending       bson.M           `bson:"pending"`
	Open          bson.M           `bson:"open_orders"`
	// Writes are order documents the account still has to write to the orders collection (a
	// transition whose follow-up write did not happen yet; the next update writes them).
	Writes map[string]rawOrder `bson:"order_writes"`
}

type rawEntry struct {
	ID      string  `bson:"_id"`
	Type    string  `bson:"type"`
	Symbol  string  `bson:"symbol"`
	Amount  int64   `bson:"amount"`
	Value   int64   `bson:"value"`
	OrderID *string `bson:"order_id"`
}

type rawOrder struct {
	ID             string `bson:"_id"`
	Symbol         string `bson:"symbol"`
	Side           string `bson:"side"`
	Status         string `bson:"status"`
	Amount         int64  `bson:"amount"`
	Fee            int64  `bson:"fee"`
	Total          int64  `bson:"total"`
	ReservedCash   int64  `bson:"reserved_cash"`
	ReservedAmount int64  `bson:"reserved_amount"`
}

func findAll[T any](s *stack, collection string, filter bson.D) []T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := s.database().Collection(collection).Find(ctx, filter)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// assertLedger checks the ledger invariant for one user after flushing what is pending: every
// balance equals the sum of the user's entries and none is negative (available ≤ balance too);
// what the account holds back equals the reservations of its open orders and nothing else (no
// reservation survives on a closed order, and every account mark names an open order); a filled
// order has exactly one trade and one fee entry and a closed unfilled order none.
func (s *stack) assertLedger(userID string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.ledger.Flush(ctx, userID); err != nil {
		s.t.Fatalf("flush %s: %v", userID, err)
	}
	accs := findAll[rawAccount](s, ledger.AccountsCollection, bson.D{{Key: "_id", Value: userID}})
	if len(accs) != 1 {
		s.t.Fatalf("%s: %d accounts", userID, len(accs))
	}
	acc := accs[0]
	if len(acc.Pending) != 0 {
		s.t.Errorf("%s: %d entries still pending after a flush", userID, len(acc.Pending))
	}
	var cash int64
	holdings := map[string]int64{}
	byOrder := map[string][]rawEntry{}
	for _, e := range findAll[rawEntry](s, ledger.TransactionsCollection, bson.D{{Key: "user_id", Value: userID}}) {
		switch e.Type {
		case "deposit":
			cash += e.Amount
		case "withdrawal", "fee":
			cash -= e.Amount
		case "buy":
			cash -= e.Value
			holdings[e.Symbol] += e.Amount
		case "sell":
			cash += e.Value
			holdings[e.Symbol] -= e.Amount
		case "adjustment":
			holdings[e.Symbol] += e.Amount
		default:
			s.t.Errorf("%s: entry %s of unknown type %q", userID, e.ID, e.Type)
		}
		if e.OrderID != nil {
			byOrder[*e.OrderID] = append(byOrder[*e.OrderID], e)
		}
	}
	if acc.Cash != cash || acc.Cash < 0 || acc.CashAvailable < 0 || acc.CashAvailable > acc.Cash {
		s.t.Errorf("%s: cash %d, available %d; the ledger says %d", userID, acc.Cash, acc.CashAvailable, cash)
	}
	for sym := range union(holdings, acc.Holdings) {
		if acc.Holdings[sym] != holdings[sym] || acc.Holdings[sym] < 0 || acc.Available[sym] < 0 || acc.Available[sym] > acc.Holdings[sym] {
			s.t.Errorf("%s: holdings.%s %d, available %d; the ledger says %d", userID, sym, acc.Holdings[sym], acc.Available[sym], holdings[sym])
		}
	}
	var reservedCash int64
	reservedCoins := map[string]int64{}
	open := map[string]bool{}
	orders := map[string]rawOrder{}
	for _, o := range findAll[rawOrder](s, trading.OrdersCollection, bson.D{{Key: "user_id", Value: userID}}) {
		orders[o.ID] = o
	}
	for _, o := range acc.Writes { // not written yet: the account's snapshot is the order's state
		if cur, ok := orders[o.ID]; !ok || (cur.Status == "open" && o.Status != "open") {
			orders[o.ID] = o
		}
	}
	for _, o := range orders {
		entries := byOrder[o.ID]
		delete(byOrder, o.ID)
		switch o.Status {
		case "open":
			open[o.ID] = true
			reservedCash += o.ReservedCash
			reservedCoins[o.Symbol] += o.ReservedAmount
			if len(entries) != 0 {
				s.t.Errorf("%s: open order %s has %d entries", userID, o.ID, len(entries))
			}
		case "filled":
			var trade, fee int
			var value, feeAmount, amount int64
			for _, e := range entries {
				switch e.Type {
				case o.Side:
					trade++
					value, amount = e.Value, e.Amount
				case "fee":
					fee++
					feeAmount = e.Amount
				}
			}
			total := value + feeAmount
			if o.Side == "sell" {
				total = value - feeAmount
			}
			if trade != 1 || fee != 1 || len(entries) != 2 || amount != o.Amount || feeAmount != o.Fee || total != o.Total {
				s.t.Errorf("%s: filled order %s (%+v) has entries %+v", userID, o.ID, o, entries)
			}
		default:
			if len(entries) != 0 {
				s.t.Errorf("%s: %s order %s has %d entries", userID, o.Status, o.ID, len(entries))
			}
		}
	}
	for id, es := range byOrder {
		s.t.Errorf("%s: %d entries of order %s, which is not stored", userID, len(es), id)
	}
	if held := acc.Cash - acc.CashAvailable; held != reservedCash {
		s.t.Errorf("%s: the account holds back %d cents, the open orders reserve %d", userID, held, reservedCash)
	}
	for sym := range union(reservedCoins, acc.Holdings) {
		if held := acc.Holdings[sym] - acc.Available[sym]; held != reservedCoins[sym] {
			s.t.Errorf("%s: the account holds back %d %s, the open orders reserve %d", userID, held, sym, reservedCoins[sym])
		}
	}
	for id := range acc.Open {
		if !open[id] {
			s.t.Errorf("%s: the account still reserves for order %s, which is not open", userID, id)
		}
	}
	for id := range open {
		if _, ok := acc.Open[id]; !ok {
			s.t.Errorf("%s: open order %s has no account mark", userID, id)
		}
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
