package accounts_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/cryptovault/serverless/shared/accounts"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/fuzzapi"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// The fuzz targets of this file drive the auth function as built for Lambda (accounts.New), on
// an embedded database, through API Gateway's event translation (testenv.Do, which also checks
// every answer against openapi.yaml). For any body: no 5xx, every error in the envelope, and a
// refused request writes nothing — except what the contract makes a refusal write (see
// refusalWrites). The seed corpora are in testdata/fuzz/<target>.

// fuzzAPI is the auth function and its database, with a signed-up user.
type fuzzAPI struct {
	fn     *lambdahttp.Function
	deps   *app.Deps
	db     *mongo.Database
	userID string
	seq    atomic.Int64
	// last is the snapshot after the last refusal that wrote nothing, which is the next
	// request's "before"; nil when something may have changed since.
	last map[string][sha256.Size]byte
}

const (
	fuzzEmail    = "fuzz@example.com"
	fuzzPassword = "Fuzz9Password"
)

func newFuzzAPI(f *testing.F) *fuzzAPI {
	srv := testenv.DB(f)
	cfg := testenv.Config(f, srv.URI(), nil)
	cfg.BcryptCost = 4 // tests only: the production floor is 10
	env := testenv.NewDeps(f, cfg, app.Options{OutboxDir: f.TempDir()})
	fn, err := accounts.New(env.Deps)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	app.EnsureIndexes(ctx, env.Deps, fn.Indexes)
	db, err := env.Deps.Mongo.Database(ctx)
	if err != nil {
		f.Fatal(err)
	}
	a := &fuzzAPI{fn: fn, deps: env.Deps, db: db}
	a.userID = a.signup(f, fuzzEmail)
	return a
}

// signup creates a user through the function and returns its id.
func (a *fuzzAPI) signup(tb testing.TB, email string) string {
	r := a.do(tb, http.MethodPost, "/api/auth/signup", "", jsonText(map[string]string{"email": email, "password": fuzzPassword, "name": "Fuzz User"}))
	var body struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &body) != nil || body.User.ID == "" {
		tb.Fatalf("signup %s: %d %s", email, r.Status, r.Body)
	}
	return body.User.ID
}

// token is an access token for userID on a fresh session, so that a request that revokes its
// session (a password change) does not lock the next ones out.
func (a *fuzzAPI) token(tb testing.TB, userID string) string {
	tok, _, err := a.deps.Auth().Tokens.Issue(context.Background(), userID, fmt.Sprintf("fuzz-session-%d", a.seq.Add(1)))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// do sends a request with the frontend's JSON header and, when token is set, a bearer token.
func (a *fuzzAPI) do(tb testing.TB, method, path, token, body string) testenv.Response {
	header := testenv.JSONHeader()
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	return testenv.Do(tb, a.fn, testenv.Request{Method: method, Path: path, Header: header, Body: body})
}

// refusalWrites are the collections a refusal with the code may change: a wrong password or code
// is counted toward the lockout and audited, a wrong email code is counted on the user. Every
// other refusal — malformed input above all — writes nothing.
var refusalWrites = map[string][]string{
	"INVALID_CREDENTIALS": {"audit_logs", "login_attempts"},
	"INVALID_TOTP":        {"audit_logs", "login_attempts"},
	"ACCOUNT_LOCKED":      {"audit_logs", "login_attempts"},
	"INVALID_CODE":        {"users"},
}

// send sends the request and checks the invariants. Before it, the lockout is cleared whenever
// an earlier request may have counted a failure, so that every input reaches the route's own
// checks rather than a lock.
func (a *fuzzAPI) send(t *testing.T, path, token, body string) testenv.Response {
	before := a.last
	a.last = nil
	if before == nil {
		if _, err := a.db.Collection("login_attempts").DeleteMany(context.Background(), bson.D{}); err != nil {
			t.Fatal(err)
		}
		before = fuzzapi.Snapshot(t, a.db)
	}
	r := a.do(t, http.MethodPost, path, token, body)
	if r.Status >= 500 {
		t.Fatalf("POST %s %q: %d: %s", path, body, r.Status, r.Body)
	}
	if r.Status < 400 {
		return r
	}
	var env map[string]any
	if json.Unmarshal(r.Body, &env) != nil {
		t.Fatalf("%d without a JSON body: %s", r.Status, r.Body)
	}
	msg, _ := env["error"].(string)
	code, _ := env["code"].(string)
	if id, _ := env["request_id"].(string); msg == "" || env["detail"] != msg || code == "" || id == "" {
		t.Fatalf("%d not in the envelope: %s", r.Status, r.Body)
	}
	after := fuzzapi.Snapshot(t, a.db)
	for name := range union(before, after) {
		if before[name] != after[name] && !slices.Contains(refusalWrites[code], name) {
			t.Fatalf("POST %s %q refused %d %s, but %s changed", path, body, r.Status, code, name)
		}
	}
	if refusalWrites[code] == nil {
		a.last = after
	}
	return r
}

func union[V any](a, b map[string]V) map[string]bool {
	u := map[string]bool{}
	for k := range maps.Keys(a) {
		u[k] = true
	}
	for k := range maps.Keys(b) {
		u[k] = true
	}
	return u
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// addBodies adds seed bodies (the nasty ones are in testdata/fuzz).
func addBodies(f *testing.F, bodies ...string) {
	for _, b := range bodies {
		f.Add(b)
	}
}

// FuzzSignup: POST /api/auth/signup with any body.
func FuzzSignup(f *testing.F) {
	addBodies(f, `{"email":"new@example.com","password":"New9Password","name":"New User"}`,
		`{"email":"`+fuzzEmail+`","password":"New9Password","name":"Taken"}`,
		`{"email":" MiXeD@Example.COM ","password":"New9Password","name":"  Spaced  "}`,
		`{"email":"a@b.c","password":"short","name":"x"}`, `{"email":{"$ne":null},"password":"x","name":"y"}`)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) { a.send(t, "/api/auth/signup", "", body) })
}

// FuzzLogin: POST /api/auth/login with any body (the user exists; a right password logs in).
func FuzzLogin(f *testing.F) {
	addBodies(f, `{"email":"`+fuzzEmail+`","password":"`+fuzzPassword+`"}`,
		`{"email":"`+strings.ToUpper(fuzzEmail)+`","password":"`+fuzzPassword+`","totp_code":"123456"}`,
		`{"email":"`+fuzzEmail+`","password":"wrong"}`, `{"email":"nobody@example.com","password":"x"}`,
		`{"email":"`+fuzzEmail+`","password":{"$ne":null}}`, `{"email":{"$regex":".*"},"password":"`+fuzzPassword+`"}`)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) { a.send(t, "/api/auth/login", "", body) })
}

// FuzzRefresh: POST /api/auth/refresh with any body and any Cookie header.
func FuzzRefresh(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {`{"refresh_token":"abc"}`, ""}, {"", "refresh_token=abc"}, {`{"refresh_token":5}`, ""},
		{`{"refresh_token":{"$ne":null}}`, "refresh_token=x"}, {"{}", "refresh_token=; refresh_token=y"}} {
		f.Add(s[0], s[1])
	}
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body, cookie string) {
		before := fuzzapi.Snapshot(t, a.db)
		header := testenv.JSONHeader()
		header.Set("Cookie", cookie)
		r := testenv.Do(t, a.fn, testenv.Request{Method: http.MethodPost, Path: "/api/auth/refresh", Header: header, Body: body})
		// No input can hold a live refresh token: every answer is a refusal that writes nothing.
		if r.Status >= 500 || r.Status < 400 {
			t.Fatalf("refresh %q with cookie %q: %d %s", body, cookie, r.Status, r.Body)
		}
		after := fuzzapi.Snapshot(t, a.db)
		for name := range union(before, after) {
			if before[name] != after[name] {
				t.Fatalf("a refused refresh changed %s", name)
			}
		}
	})
}

// FuzzVerifyEmail: POST /api/auth/verify-email with any body (the user's address is unverified:
// a wrong code is counted on it).
func FuzzVerifyEmail(f *testing.F) {
	addBodies(f, `{"email":"`+fuzzEmail+`","code":"123456"}`, `{"email":"`+fuzzEmail+`","token":"000000"}`,
		`{"email":"nobody@example.com","code":"123456"}`, `{"email":"`+fuzzEmail+`","code":{"$ne":null}}`,
		`{"email":"`+fuzzEmail+`","code":""}`, `{"email":"`+fuzzEmail+`","code":"`+strings.Repeat("1", 60000)+`"}`)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) { a.send(t, "/api/auth/verify-email", "", body) })
}

// FuzzResendVerification: POST /api/auth/resend-verification with any body.
func FuzzResendVerification(f *testing.F) {
	addBodies(f, `{"email":"`+fuzzEmail+`"}`, `{"email":"nobody@example.com"}`, `{"email":["`+fuzzEmail+`"]}`, `{"email":"a@b"}`)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) { a.send(t, "/api/auth/resend-verification", "", body) })
}

// FuzzTwoFactorCodes: the three routes that take a 2FA code — verify (for a user in the middle of
// setup), disable and backup-codes (for a user with 2FA on) — with any body.
func FuzzTwoFactorCodes(f *testing.F) {
	for i, b := range []string{`{"code":"123456"}`, `{"code":" 123456\n"}`, `{"code":"abcde-fghij"}`, `{"code":"12345"}`,
		`{"password":"` + fuzzPassword + `","code":"123456"}`, `{"password":"wrong","code":"123456"}`, `{"code":123456}`,
		`{"code":{"$ne":null}}`, `{"code":"` + strings.Repeat("9", 70) + `"}`, `{}`} {
		f.Add(uint8(i), b)
	}
	a := newFuzzAPI(f)
	pending := a.signup(f, "pending@example.com")
	enabled := a.signup(f, "enabled@example.com")
	setup := func(userID string) string {
		r := a.do(f, http.MethodPost, "/api/auth/2fa/setup", a.token(f, userID), "")
		var s struct{ Secret string }
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &s) != nil || s.Secret == "" {
			f.Fatalf("2fa setup: %d %s", r.Status, r.Body)
		}
		return s.Secret
	}
	setup(pending)
	secret := setup(enabled)
	c, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		f.Fatal(err)
	}
	if r := a.do(f, http.MethodPost, "/api/auth/2fa/verify", a.token(f, enabled), jsonText(map[string]string{"code": c})); r.Status != http.StatusOK {
		f.Fatalf("2fa verify: %d %s", r.Status, r.Body)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		switch route % 3 {
		case 0:
			a.send(t, "/api/auth/2fa/verify", a.token(t, pending), body)
		case 1:
			a.send(t, "/api/auth/2fa/disable", a.token(t, enabled), body)
		case 2:
			a.send(t, "/api/auth/2fa/backup-codes", a.token(t, enabled), body)
		}
	})
}

// FuzzChangePassword: POST /api/auth/change-password with any body, each on a fresh session.
func FuzzChangePassword(f *testing.F) {
	addBodies(f, `{"current_password":"wrong","new_password":"Another9Password"}`,
		`{"current_password":"`+fuzzPassword+`","new_password":"weak"}`,
		`{"current_password":"`+fuzzPassword+`","new_password":"Another9Password"}`,
		`{"current_password":{"$ne":null},"new_password":"Another9Password"}`,
		`{"current_password":"`+fuzzPassword+`","new_password":"`+strings.Repeat("Aa1", 50)+`"}`)
	a := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, body string) { a.send(t, "/api/auth/change-password", a.token(t, a.userID), body) })
}
