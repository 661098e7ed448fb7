package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// probeFunction is a function with one route that needs the database (and so, with
// MONGODB_SECRET_ARN, a secret): the shape of every data route of the later functions.
func probeFunction(t *testing.T, d *app.Deps) *lambdahttp.Function {
	t.Helper()
	rt := d.Router()
	rt.Handle("GET /api/probe", func(w http.ResponseWriter, r *http.Request) error {
		db, err := d.Mongo.Database(r.Context())
		if err != nil {
			return err
		}
		n, err := db.Collection("probe").CountDocuments(r.Context(), bson.D{})
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]int64{"count": n})
		return nil
	})
	return &lambdahttp.Function{Name: "probe", HTTP: d.HTTP("probe", rt), Routes: rt.Routes()}
}

func getProbe(t *testing.T, fn *lambdahttp.Function) testenv.Response {
	return testenv.Do(t, fn, testenv.Request{Method: http.MethodGet, Path: "/api/probe", Header: testenv.JSONHeader()})
}

// check503 asserts a 503 with the code, CORS headers, and no internals in the body.
func check503(t *testing.T, r testenv.Response, code string, secrets ...string) {
	t.Helper()
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if body["code"] != code || r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin || r.Header.Get("Retry-After") == "" {
		t.Errorf("503 = %v %v, want code %s with CORS and Retry-After", body, r.Header, code)
	}
	for _, s := range append(secrets, "127.0.0.1", "mongodb://", "connection", "server selection") {
		if strings.Contains(strings.ToLower(string(r.Body)), strings.ToLower(s)) {
			t.Errorf("503 body leaks %q: %s", s, r.Body)
		}
	}
}

// TestSecretsUnavailableAtColdStart: the connection string lives in Secrets Manager, which is
// down when the instance starts. The instance starts anyway, data routes answer 503
// SECRETS_UNAVAILABLE with CORS headers, and they recover once the endpoint is back.
func TestSecretsUnavailableAtColdStart(t *testing.T) {
	db := testenv.DB(t)
	sm := smfake.Start(t)
	sm.Put("cryptovault/mongo", db.URI())
	sm.SetDown(true)
	cfg := testenv.Config(t, "", map[string]string{"MONGODB_URI": "", "MONGODB_SECRET_ARN": "cryptovault/mongo"})
	env := testenv.NewDeps(t, cfg, app.Options{SecretsAPI: sm.Client(t)})
	fn := probeFunction(t, env.Deps)

	check503(t, getProbe(t, fn), "SECRETS_UNAVAILABLE", db.URI())

	sm.SetDown(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := getProbe(t, fn)
		if r.Status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %d %s", r.Status, r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(env.Logs.String(), db.URI()) {
		t.Error("the connection string reached a log line")
	}
}

// TestDatabaseUnavailable: a data route on a warm instance whose database stops answers 503
// DATABASE_UNAVAILABLE (never a 500 with a driver message) and recovers.
func TestDatabaseUnavailable(t *testing.T) {
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})
	fn := probeFunction(t, env.Deps)
	if r := getProbe(t, fn); r.Status != http.StatusOK {
		t.Fatalf("warm-up: %d %s", r.Status, r.Body)
	}
	if err := db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	check503(t, getProbe(t, fn), "DATABASE_UNAVAILABLE")
	if err := db.StartEngine(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for getProbe(t, fn).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("no recovery after the engine restarted")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestNewRequiresAKey: Deps cannot be built without a JWT key (the local server generates one).
func TestNewRequiresAKey(t *testing.T) {
	cfg := testenv.Config(t, "mongodb://127.0.0.1:1", nil)
	cfg.JWTSecret = ""
	if _, err := app.New(context.Background(), cfg, app.Options{}); err == nil {
		t.Fatal("app.New without a key succeeded")
	}
}
