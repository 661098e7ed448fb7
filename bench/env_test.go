package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// The secrets the functions read at init, as in AWS: the JWT key ring and the connection string.
const (
	jwtSecretID   = "cryptovault/dev/jwt-signing-key"
	mongoSecretID = "cryptovault/dev/mongodb-uri"
)

// pricesJSON is what the file feed serves (PRICE_FEED=file:...): the market every run starts from.
const pricesJSON = `{"quotes": [
	{"symbol": "BTC", "price": "65000.12", "change_24h": "2.5", "market_cap": 1283550000000, "volume_24h": 45000000000},
	{"symbol": "ETH", "price": "3500.5", "change_24h": "-1.25", "market_cap": 420000000000, "volume_24h": 20000000000},
	{"symbol": "SOL", "price": "150.5", "change_24h": "0.5", "market_cap": 70000000000, "volume_24h": 3000000000}]}`

// env is one embedded database and one Secrets Manager endpoint, shared by the in-process
// instances and the bootstraps of a run: the database and Secrets Manager endpoints are local,
// as the cold-start comparison requires.
type env struct {
	db         *devdb.Server
	sm         *smfake.Server
	pricesFile string
	// lambdaAPI stands in for Lambda's Invoke API (the stream function's asynchronous
	// self-invocation after $connect): it accepts and drops the events.
	lambdaAPI *httptest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{db: testenv.DB(t), sm: smfake.Start(t)}
	e.lambdaAPI = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(e.lambdaAPI.Close)
	e.sm.Put(jwtSecretID, `{"kid":"dev-1","secret":"`+testenv.JWTSecret+`"}`)
	e.sm.Put(mongoSecretID, e.db.URI())
	e.pricesFile = filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(e.pricesFile, []byte(pricesJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// vars is the function configuration of a run, as the template sets it in AWS: both the
// connection string and the JWT key come from Secrets Manager.
func (e *env) vars() map[string]string {
	return map[string]string{
		"ENVIRONMENT":        "dev",
		"MONGODB_SECRET_ARN": mongoSecretID,
		"JWT_SECRET_ARN":     jwtSecretID,
		"CORS_ORIGINS":       testenv.Origin,
		"COOKIE_SAMESITE":    "None",
		"PRICE_FEED":         "file:" + e.pricesFile,
		"BCRYPT_COST":        "10",
	}
}

// lambdaEnv is the environment of a bootstrap under the emulator.
func (e *env) lambdaEnv(tmp string) map[string]string {
	v := e.vars()
	v["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = e.sm.URL()
	v["AWS_ENDPOINT_URL_LAMBDA"] = e.lambdaAPI.URL
	v["TMPDIR"] = tmp
	return v
}

// config is the validated configuration of an in-process instance; extra overrides variables.
func (e *env) config(t testing.TB, extra map[string]string) *config.Config {
	t.Helper()
	v := e.vars()
	v["MONGODB_URI"], v["JWT_SECRET"] = "", "" // testenv.Config's defaults: the secrets replace them
	for k, val := range extra {
		v[k] = val
	}
	return testenv.Config(t, "", v)
}

// instance is one warm function instance in this process: its own dependencies (Mongo client,
// secrets cache), as one Lambda execution environment has, and a log of its Mongo commands.
type instance struct {
	fn   *lambdahttp.Function
	deps *app.Deps
	cmds *cmdlog.Log
}

// newInstance builds the catalog function name as its main does, with its indexes in place.
func (e *env) newInstance(t testing.TB, name string, extra map[string]string) *instance {
	t.Helper()
	entry := catalogEntry(t, name)
	cmds := &cmdlog.Log{Tag: tagRevocations}
	// Each instance has an outbox of its own (MAILER=log), as each Lambda instance has its own
	// /tmp: a run reads the verification codes its auth instance sent, and no other run's.
	d := testenv.NewDeps(t, e.config(t, extra), app.Options{SecretsAPI: e.sm.Client(t), Monitor: cmds.Monitor(), OutboxDir: t.TempDir()}).Deps
	fn, err := entry.Build(d)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	app.EnsureIndexes(ctx, d, fn.Indexes)
	return &instance{fn: fn, deps: d, cmds: cmds}
}

func catalogEntry(t testing.TB, name string) catalog.Entry {
	t.Helper()
	for _, e := range catalog.All {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no function %q in the catalog", name)
	return catalog.Entry{}
}

// refreshPrices runs the prices function once (its scheduled event): the price store is filled.
func (e *env) refreshPrices(t testing.TB) {
	t.Helper()
	p := e.newInstance(t, "prices", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.fn.Handle(ctx, []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil {
		t.Fatalf("prices run: %v", err)
	}
}

// session is a signed-up user's tokens (bearer delivery, as mobile and CLI clients use).
type session struct {
	userID, email, password string
	access, refresh         string
}

// signup creates a user through the auth instance and returns its session.
func signup(t testing.TB, authFn *instance, email string) *session {
	t.Helper()
	s := &session{email: email, password: "Sup3rSecret9-bench"}
	body, _ := json.Marshal(map[string]string{"email": email, "password": s.password, "name": "Bench User"})
	h := testenv.JSONHeader()
	h.Set("X-Token-Delivery", "body")
	r := testenv.Do(t, authFn.fn, testenv.Request{Method: http.MethodPost, Path: "/api/auth/signup", Header: h, Body: string(body)})
	if r.Status != http.StatusCreated {
		t.Fatalf("signup: %d %s", r.Status, r.Body)
	}
	s.take(t, r)
	return s
}

// take records the tokens and user id a token response carries.
func (s *session) take(t testing.TB, r testenv.Response) {
	t.Helper()
	var out struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
		User    struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil || out.Access == "" {
		t.Fatalf("token response %d: %s", r.Status, r.Body)
	}
	s.access = out.Access
	if out.Refresh != "" {
		s.refresh = out.Refresh
	}
	if out.User.ID != "" {
		s.userID = out.User.ID
	}
}

// header is the frontend's header set with the session's bearer token.
func (s *session) header() http.Header {
	h := testenv.JSONHeader()
	h.Set("Authorization", "Bearer "+s.access)
	h.Set("X-Token-Delivery", "body")
	return h
}

// revocations tags the guard's view of revoked sessions: one query per instance at most every
// 5 s (auth.RevocationRefreshInterval), not a per-request cost.
const revocations = "revocations"

// tagRevocations is the instances' cmdlog.Log.Tag. The guard's query asks for sessions revoked
// since a time ({revoked_at: {$gte: ...}}); the auth function's own session lookups name
// revoked_at too ({$exists: false}: live sessions), and are per-request work.
func tagRevocations(c cmdlog.Command, body bson.Raw) string {
	if c.Collection == auth.SessionsCollection && c.Name == "find" {
		if _, err := body.LookupErr("filter", auth.SessionRevokedAtField, "$gte"); err == nil {
			return revocations
		}
	}
	return ""
}
