package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/testkit/rie"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// expectation is what invoking one events file must return.
type expectation struct {
	status int               // statusCode of the API Gateway response; 0 for a scheduled event
	body   map[string]string // top-level string fields of the JSON body
	header map[string]string
}

// expectations covers every events file: a new file without an entry fails the test.
var expectations = map[string]expectation{
	"health-get-health.json":             {status: 200, body: map[string]string{"status": "healthy"}, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin}},
	"health-get-api-health.json":         {status: 200, body: map[string]string{"status": "healthy", "environment": "dev"}},
	"health-get-api-root.json":           {status: 200, body: map[string]string{"message": "CryptoVault API", "status": "operational"}},
	"health-get-status.json":             {status: 200, body: map[string]string{"status": "ok"}},
	"health-post-status.json":            {status: 200, body: map[string]string{"message": "Status check received"}},
	"health-post-status-not-object.json": {status: 422, body: map[string]string{"code": "VALIDATION_ERROR"}},
	"health-post-status-text-plain.json": {status: 415, body: map[string]string{"code": "UNSUPPORTED_MEDIA_TYPE"}},
	"health-delete-status.json":          {status: 405, body: map[string]string{"code": "METHOD_NOT_ALLOWED"}, header: map[string]string{"Allow": "GET, HEAD, POST"}},
	"health-options-status.json":         {status: 204, header: map[string]string{"Access-Control-Allow-Origin": testenv.Origin, "Access-Control-Max-Age": "600"}},
	"health-scheduled.json":              {},
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
	sm.Put("cryptovault/dev/jwt-signing-key", `{"kid":"dev-1","secret":"`+testenv.JWTSecret+`"}`)

	for _, e := range catalog.All {
		t.Run(e.Name, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(root, "events", e.Name+"-*.json"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no events for %s (%v)", e.Name, err)
			}
			bootstrap := rie.BuildFunction(t, e.Package())
			p := rie.Start(t, bootstrap, map[string]string{
				"ENVIRONMENT":                      "dev",
				"MONGODB_URI":                      db.URI(),
				"JWT_SECRET_ARN":                   "cryptovault/dev/jwt-signing-key",
				"AWS_ENDPOINT_URL_SECRETS_MANAGER": sm.URL(),
				"CORS_ORIGINS":                     testenv.Origin,
				"COOKIE_SAMESITE":                  "None",
			})
			for _, file := range files {
				name := filepath.Base(file)
				want, ok := expectations[name]
				if !ok {
					t.Errorf("%s has no expectation in this test", name)
					continue
				}
				event, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := p.Invoke(ctx, event)
				cancel()
				if err != nil {
					t.Fatalf("%s: invoke: %v", name, err)
				}
				if res.IsError() {
					t.Fatalf("%s: function error %s: %s\n%s", name, res.ErrorType, res.ErrorMessage, p.Logs())
				}
				checkResult(t, name, want, res.Payload)
			}
			if inits := p.InitDurations(); len(inits) != 1 {
				t.Errorf("%d inits for %d invokes, want 1 (the instance stays warm)", len(inits), len(files))
			}
			logs := p.Logs()
			if strings.Contains(logs, testenv.JWTSecret) || strings.Contains(logs, db.URI()) {
				t.Error("a secret or the connection string reached the logs")
			}
			if !strings.Contains(logs, `"Healthy":1`) && e.Name == "health" {
				t.Errorf("the scheduled run wrote no EMF Healthy metric:\n%s", logs)
			}
		})
	}
}

func checkResult(t *testing.T, name string, want expectation, payload []byte) {
	t.Helper()
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
	if len(want.body) > 0 {
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%s: body is not a JSON object: %s", name, resp.Body)
		}
		for k, v := range want.body {
			if body[k] != v {
				t.Errorf("%s: body %s = %v, want %q", name, k, body[k], v)
			}
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
