package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/rie"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// expectation is what invoking one events file must return.
type expectation struct {
	file   string
	status int               // statusCode of the API Gateway response; 0 for a scheduled event
	body   map[string]string // top-level string fields of the JSON body
	header map[string]string
}

// invocations lists, per function and in order, every events file with what it must return: a
// file without an entry fails the test. Events may hold the placeholders {{ACCESS_TOKEN}}, the
// newest access token a response returned (for the audit function: one minted for the user the
// auth run signed up), replaced before the invoke.
var invocations = map[string][]expectation{
	"health": {
		{file: "health-get-health.json", status: 200, body: map[string]string{"status": "healthy"}, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin}},
		{file: "health-get-api-health.json", status: 200, body: map[string]string{"status": "healthy", "environment": "dev"}},
		{file: "health-get-api-root.json", status: 200, body: map[string]string{"message": "CryptoVault API", "status": "operational"}},
		{file: "health-get-status.json", status: 200, body: map[string]string{"status": "ok"}},
		{file: "health-post-status.json", status: 200, body: map[string]string{"message": "Status check received"}},
		{file: "health-post-status-not-object.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "health-post-status-text-plain.json", status: 415, body: map[string]string{"code": "UNSUPPORTED_MEDIA_TYPE"}},
		{file: "health-delete-status.json", status: 405, body: map[string]string{"code": "METHOD_NOT_ALLOWED"}, header: map[string]string{"Allow": "GET, HEAD, POST"}},
		{file: "health-options-status.json", status: 204, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin, "Access-Control-Max-Age": "600"}},
		{file: "health-scheduled.json"},
	},
	"auth": {
		{file: "auth-options-login.json", status: 204, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin}},
		{file: "auth-me-anonymous.json", status: 401, body: map[string]string{"code": "UNAUTHENTICATED"}},
		{file: "auth-refresh-anonymous.json", status: 401, body: map[string]string{"code": "UNAUTHENTICATED"}},
		{file: "auth-signup-invalid.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "auth-signup.json", status: 201, body: map[string]string{"token_type": "bearer"}},
		{file: "auth-login-wrong-password.json", status: 401, body: map[string]string{"code": "INVALID_CREDENTIALS"}},
		{file: "auth-login.json", status: 200, body: map[string]string{"token_type": "bearer"}},
		{file: "auth-me.json", status: 200},
		{file: "auth-resend-verification.json", status: 200},
		{file: "auth-verify-email-wrong-code.json", status: 422, body: map[string]string{"code": "INVALID_CODE"}},
		{file: "auth-2fa-status.json", status: 200},
		{file: "auth-2fa-verify-wrong-code.json", status: 409, body: map[string]string{"code": "TWO_FACTOR_NOT_SET_UP"}},
		{file: "auth-2fa-setup.json", status: 200},
		{file: "auth-2fa-disable-not-enabled.json", status: 409, body: map[string]string{"code": "TWO_FACTOR_NOT_ENABLED"}},
		{file: "auth-2fa-backup-codes-not-enabled.json", status: 409, body: map[string]string{"code": "TWO_FACTOR_NOT_ENABLED"}},
		{file: "auth-change-password-wrong.json", status: 422, body: map[string]string{"code": "INVALID_CREDENTIALS"}},
		{file: "auth-logout.json", status: 200, body: map[string]string{"message": "Logged out"}},
	},
	"prices": {
		{file: "prices-scheduled.json"},
	},
	"market": {
		{file: "market-options.json", status: 204, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin}},
		{file: "market-list.json", status: 200, body: map[string]string{"source": "file"}, header: map[string]string{"Cache-Control": "public, max-age=5"}},
		{file: "market-get-btc.json", status: 200},
		{file: "market-get-by-id.json", status: 200},
		{file: "market-get-unknown.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
		{file: "market-history.json", status: 200, body: map[string]string{"symbol": "BTC"}},
		{file: "market-history-bad-days.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
	},
	"transactions": {
		{file: "transactions-deposit.json", status: 201, body: map[string]string{"message": "Deposit completed"}},
		{file: "transactions-deposit.json", status: 201, body: map[string]string{"message": "Deposit completed"}, header: map[string]string{"Idempotency-Replayed": "true"}},
		{file: "transactions-withdrawal-too-much.json", status: 422, body: map[string]string{"code": "INSUFFICIENT_FUNDS"}},
		{file: "transactions-list.json", status: 200},
		{file: "transactions-list-bad-type.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "transactions-stats.json", status: 200},
		{file: "transactions-get-unknown.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
	},
	"orders": {
		{file: "orders-options.json", status: 204, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin}},
		{file: "orders-create-market-buy.json", status: 201},
		{file: "orders-create-market-buy.json", status: 201, header: map[string]string{"Idempotency-Replayed": "true"}},
		{file: "orders-create-invalid-amount.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "orders-create-limit-sell-insufficient.json", status: 422, body: map[string]string{"code": "INSUFFICIENT_FUNDS"}},
		{file: "orders-list.json", status: 200},
		{file: "orders-list-bad-status.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "orders-get-unknown.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
		{file: "orders-cancel-unknown.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
	},
	"portfolio": {
		{file: "portfolio-get.json", status: 200},
		{file: "portfolio-holding-btc.json", status: 200},
		{file: "portfolio-add-holding.json", status: 201},
		{file: "portfolio-add-unsupported.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "portfolio-remove-eth.json", status: 200},
		{file: "portfolio-holding-not-held.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
	},
	"stream": {
		{file: "stream-connect.json", status: 200},
		{file: "stream-default-ping.json", status: 200, body: map[string]string{"type": "pong"}},
		{file: "stream-default-subscribe.json", status: 200, body: map[string]string{"type": "subscribed"}},
		{file: "stream-default-invalid.json", status: 200, body: map[string]string{"type": "error", "error": "Invalid JSON"}},
		{file: "stream-disconnect.json", status: 200},
	},
	"audit": {
		{file: "audit-list-anonymous.json", status: 401, body: map[string]string{"code": "UNAUTHENTICATED"}},
		{file: "audit-list.json", status: 200},
		{file: "audit-list-bad-limit.json", status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
		{file: "audit-summary.json", status: 200},
		{file: "audit-export-csv.json", status: 200, header: map[string]string{"Content-Type": "text/csv; charset=utf-8"}},
		{file: "audit-get-unknown.json", status: 404, body: map[string]string{"code": "NOT_FOUND"}},
	},
}

// proxyResponse is the API Gateway proxy response as the function returns it.
type proxyResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
}

func (p proxyResponse) header(k string) string {
	if v, ok := p.Headers[k]; ok {
		return v
	}
	if vs := p.MultiValueHeaders[k]; len(vs) > 0 {
		return strings.Join(vs, ", ")
	}
	return ""
}

// TestBootstrapsUnderEmulator builds every function as the bootstrap Lambda runs (host
// architecture: the machine has no arm64 emulation) and invokes it through the AWS Lambda Runtime
// Interface Emulator with every events file, one at a time. The JWT key comes from Secrets
// Manager through the real SDK inside the binary, pointed at a local endpoint.
func TestBootstrapsUnderEmulator(t *testing.T) {
	db := testenv.DB(t)
	sm := smfake.Start(t)
	// Lambda's Invoke API for the stream's $connect hand-off (an asynchronous self-invocation):
	// it records the events instead of running them.
	var handOffs logbuf.Buffer
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Amz-Invocation-Type") == "Event" && strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			handOffs.Write(append(body, '\n'))
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(lambdaAPI.Close)
	sm.Put("cryptovault/dev/jwt-signing-key", `{"kid":"dev-1","secret":"`+testenv.JWTSecret+`"}`)
	vars := map[string]string{}
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"quotes": [
		{"symbol": "BTC", "price": "65000.12", "change_24h": "2.5", "market_cap": 1283550000000, "volume_24h": 45000000000},
		{"symbol": "ETH", "price": "3500.5", "change_24h": "-1.25", "market_cap": 420000000000, "volume_24h": 20000000000}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, e := range catalog.All {
		t.Run(e.Name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(root, "events", e.Name+"-*.json"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no events for %s (%v)", e.Name, err)
			}
			planned := map[string]bool{}
			for _, want := range invocations[e.Name] {
				planned[want.file] = true
			}
			for _, f := range files {
				if !planned[filepath.Base(f)] {
					t.Errorf("%s has no expectation in this test", filepath.Base(f))
				}
			}
			if e.Name == "audit" || e.Name == "transactions" || e.Name == "orders" || e.Name == "portfolio" {
				vars["ACCESS_TOKEN"] = mintToken(t, vars["USER_ID"])
			}
			bootstrap := rie.BuildFunction(t, e.Package())
			p := rie.Start(t, bootstrap, map[string]string{
				"ENVIRONMENT":                      "dev",
				"MONGODB_URI":                      db.URI(),
				"JWT_SECRET_ARN":                   "cryptovault/dev/jwt-signing-key",
				"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL(),
				"CORS_ORIGINS":                     testenv.Origin,
				"COOKIE_SAMESITE":                  "None",
				"PRICE_FEED":                       "file:" + prices,
				"TMPDIR":                           t.TempDir(),
				"AWS_ENDPOINT_URL_LAMBDA":          lambdaAPI.URL,
			})
			for _, want := range invocations[e.Name] {
				event, err := os.ReadFile(filepath.Join(root, "events", want.file))
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range vars {
					event = bytes.ReplaceAll(event, []byte("{{"+k+"}}"), []byte(v))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := p.Invoke(ctx, event)
				cancel()
				if err != nil {
					t.Fatalf("%s: invoke: %v", want.file, err)
				}
				if res.IsError() {
					t.Fatalf("%s: function error %s: %s\n%s", want.file, res.ErrorType, res.ErrorMessage, p.Logs())
				}
				checkResult(t, want, res.Payload, vars)
			}
			if inits := p.InitDurations(); len(inits) != 1 {
				t.Errorf("%d inits for %d invokes, want 1 (the instance stays warm)", len(inits), len(invocations[e.Name]))
			}
			logs := p.Logs()
			for _, secret := range []string{testenv.JWTSecret, db.URI(), "Sup3rSecret9", vars["ACCESS_TOKEN"]} {
				if secret != "" && strings.Contains(logs, secret) {
					t.Errorf("a secret (%.8s…) reached the logs", secret)
				}
			}
			if e.Name == "stream" && !strings.Contains(handOffs.String(), `{"stream_task":"initial_prices","connection_id":"L0SM9cOFvHcCIhw="}`) {
				t.Errorf("$connect handed off no initial_prices task: %q\n%s", handOffs.String(), logs)
			}
			if !strings.Contains(logs, `"Healthy":1`) && e.Name == "health" {
				t.Errorf("the scheduled run wrote no EMF Healthy metric:\n%s", logs)
			}
		})
	}
}

// mintToken signs an access token for userID with the key the functions read from Secrets
// Manager, on a fresh (never revoked) session id.
func mintToken(t *testing.T, userID string) string {
	t.Helper()
	if userID == "" {
		t.Fatal("the auth run returned no user id")
	}
	tokens := auth.NewTokens(auth.TokensOptions{
		Keys:   secrets.NewStaticKeyRing(secrets.Key{ID: "dev-1", Secret: []byte(testenv.JWTSecret)}),
		Issuer: "cryptovault", Audience: "cryptovault-api",
	})
	tok, _, err := tokens.Issue(context.Background(), userID, "emulator-test-session")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkResult compares one response with its expectation and records the access token and user
// id it carries in vars.
func checkResult(t *testing.T, want expectation, payload []byte, vars map[string]string) {
	t.Helper()
	name := want.file
	if want.status == 0 {
		var out map[string]string
		if err := json.Unmarshal(payload, &out); err != nil || out["status"] != "ok" {
			t.Errorf("%s: scheduled result %s", name, payload)
		}
		return
	}
	var resp proxyResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		t.Fatalf("%s: not a proxy response: %v\n%s", name, err, payload)
	}
	if resp.StatusCode != want.status {
		t.Errorf("%s: status %d, want %d: %s", name, resp.StatusCode, want.status, resp.Body)
	}
	var body map[string]any
	if len(want.body) > 0 || resp.header("Content-Type") == "application/json; charset=utf-8" {
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%s: body is not a JSON object: %s", name, resp.Body)
		}
	}
	for k, v := range want.body {
		if body[k] != v {
			t.Errorf("%s: body %s = %v, want %q", name, k, body[k], v)
		}
	}
	if tok, ok := body["access_token"].(string); ok && tok != "" {
		vars["ACCESS_TOKEN"] = tok
	}
	if user, ok := body["user"].(map[string]any); ok {
		if id, ok := user["id"].(string); ok {
			vars["USER_ID"] = id
		}
	}
	for k, v := range want.header {
		if got := resp.header(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", name, k, got, v)
		}
	}
	if resp.header("X-Request-Id") != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
		t.Errorf("%s: X-Request-Id = %q, want the API Gateway request id", name, resp.header("X-Request-Id"))
	}
}

// TestBootstrapRefusesBadConfig: a bad configuration ends init with one log line that names
// every bad variable and quotes no secret (the Lambda service then reports the init failure).
func TestBootstrapRefusesBadConfig(t *testing.T) {
	for _, e := range catalog.All {
		t.Run(e.Name, func(t *testing.T) {
			bootstrap := rie.BuildFunction(t, e.Package())
			cmd := exec.Command(bootstrap)
			cmd.Env = []string{
				"PATH=/usr/bin:/bin",
				"ENVIRONMENT=staging",
				"MONGODB_URI=postgres://admin:hunter2-password@db.internal/prod",
				"CORS_ORIGINS=*",
				"JWT_SECRET=hunter2-short",
			}
			out, err := cmd.Output()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("bootstrap with bad config: err %v, want a non-zero exit\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one log line, got %d:\n%s", len(lines), out)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatalf("log line is not JSON: %s", lines[0])
			}
			msg, _ := line["message"].(string)
			for _, v := range []string{"ENVIRONMENT", "MONGODB_URI", "CORS_ORIGINS", "JWT_SECRET"} {
				if !strings.Contains(msg, v) {
					t.Errorf("log line does not name %s: %s", v, msg)
				}
			}
			if strings.Contains(string(out), "hunter2") || line["level"] != "ERROR" {
				t.Errorf("log line leaks a secret or is not an error: %s", out)
			}
		})
	}
}
