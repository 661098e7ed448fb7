package accounts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/accounts"
	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/mailer"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// harness is the auth and audit functions on one embedded database, wired as the real builders
// wire them but with an injected clock, a fast bcrypt cost and a readable outbox.
type harness struct {
	t      *testing.T
	db     *devdb.Server
	env    *testenv.Env
	clock  *fakeclock.Clock
	auth   *lambdahttp.Function
	audit  *lambdahttp.Function
	outbox *mailer.Outbox
	ledger *ledger.Ledger
	tokens *auth.Tokens
}

func newHarness(t *testing.T, vars map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, db: testenv.DB(t), clock: fakeclock.New(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))}
	cfg := testenv.Config(t, h.db.URI(), vars)
	cfg.BcryptCost = 4 // tests only: the production floor is 10
	h.env = testenv.NewDeps(t, cfg, app.Options{})
	d := h.env.Deps

	h.tokens = auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Now: h.clock.Now})
	revocations := auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger, Now: h.clock.Now})
	guard := auth.NewGuard(h.tokens, revocations)
	h.outbox = mailer.NewOutbox(t.TempDir())
	h.ledger = ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger, Now: h.clock.Now})
	s := accounts.NewService(accounts.Options{
		DB: d.Mongo.Database, Config: cfg, Logger: d.Logger, Tokens: h.tokens, Revocations: revocations,
		Ledger: h.ledger, Audit: audit.NewWriter(d.Mongo.Database, d.Logger, h.clock.Now), Mailer: h.outbox, Metrics: d.Metrics(accounts.Name), Now: h.clock.Now,
	})
	rt := d.Router()
	s.Routes(rt, guard.Require)
	h.auth = &lambdahttp.Function{Name: accounts.Name, HTTP: d.HTTP(accounts.Name, rt), Routes: rt.Routes()}
	var err error
	if h.audit, err = audit.NewFunction(d, guard.Require); err != nil {
		t.Fatal(err)
	}
	app.EnsureIndexes(context.Background(), d, append(accounts.Indexes(), audit.Indexes()...))
	return h
}

// client is a browser (cookie jar) or a token client for the harness.
type client struct {
	h       *harness
	cookies map[string]*http.Cookie
	bearer  string
	header  http.Header
}

func (h *harness) browser() *client {
	return &client{h: h, cookies: map[string]*http.Cookie{}, header: http.Header{}}
}

// do sends a request to the function serving path, with the client's cookies or bearer token,
// and keeps the cookies the response sets (a deletion removes them), as a browser does.
func (c *client) do(method, path, body string) testenv.Response {
	c.h.t.Helper()
	header := testenv.JSONHeader()
	for k, vs := range c.header {
		header[k] = vs
	}
	if c.bearer != "" {
		header.Set("Authorization", "Bearer "+c.bearer)
	}
	var pairs []string
	for _, ck := range c.cookies {
		pairs = append(pairs, ck.Name+"="+ck.Value)
	}
	if len(pairs) > 0 {
		header.Set("Cookie", strings.Join(pairs, "; "))
	}
	fn := c.h.auth
	if strings.HasPrefix(path, "/api/audit-logs") {
		fn = c.h.audit
	}
	resource := ""
	if strings.HasPrefix(path, "/api/audit-logs/") && !strings.Contains(path, "/summary") && !strings.Contains(path, "/export") {
		resource = "/api/audit-logs/{id}"
	}
	r := testenv.Do(c.h.t, fn, testenv.Request{Method: method, Path: path, Resource: resource, Header: header, Body: body})
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return r
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	testEmail    = "ada@example.com"
	testPassword = "Analytical9Engine"
	testName     = "Ada Lovelace"
)

func signupBody(t *testing.T, email, password string) string {
	return jsonBody(t, map[string]string{"email": email, "password": password, "name": testName})
}

func loginBody(t *testing.T, email, password string) string {
	return jsonBody(t, map[string]string{"email": email, "password": password})
}

// signup creates a user through the API and returns a logged-in browser.
func (h *harness) signup(email, password string) (*client, map[string]any) {
	h.t.Helper()
	c := h.browser()
	body := testenv.Expect(h.t, c.do("POST", "/api/auth/signup", signupBody(h.t, email, password)), 201, "")
	return c, body
}

// login returns a browser logged in as email.
func (h *harness) login(email, password string) *client {
	h.t.Helper()
	c := h.browser()
	testenv.Expect(h.t, c.do("POST", "/api/auth/login", loginBody(h.t, email, password)), 200, "")
	return c
}

// assertNoSecrets fails if a credential (testenv.Env.AssertNoSecrets), the test password, a
// password hash or one of values appears in a log line or metric the test produced.
func (h *harness) assertNoSecrets(values ...string) {
	h.t.Helper()
	// "$2a$" is the prefix of every bcrypt hash: no password hash may reach a log line either.
	h.env.AssertNoSecrets(h.t, append(values, testPassword, "$2a$")...)
}

// foreignToken is a well-formed access token signed with another key.
func (h *harness) foreignToken(userID, sessionID string) string {
	h.t.Helper()
	other := auth.NewTokens(auth.TokensOptions{
		Keys:   secrets.NewStaticKeyRing(secrets.Key{ID: app.LocalKeyID, Secret: []byte("another-signing-key-0123456789abcdef-xyz")}),
		Issuer: h.env.Deps.Config.JWTIssuer, Audience: h.env.Deps.Config.JWTAudience, Now: h.clock.Now,
	})
	tok, _, err := other.Issue(context.Background(), userID, sessionID)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}
