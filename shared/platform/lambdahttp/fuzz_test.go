package lambdahttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/health"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// FuzzHandle feeds arbitrary payloads to Function.Handle, the Lambda entry point, of a real
// function (health: the platform's middleware, router and a database behind it). Whatever the
// payload: no panic; an error only as ErrUnsupportedEvent (what is not an event of this
// function); an API Gateway event always gets a proxy response that API Gateway can send, with
// no 5xx (a malformed event is a 400 envelope), and every error in the envelope. The seed corpus
// (testdata/fuzz/FuzzHandle) holds the events files of every function.
func FuzzHandle(f *testing.F) {
	db := testenv.DB(f)
	env := testenv.NewDeps(f, testenv.Config(f, db.URI(), nil), app.Options{})
	fn, err := health.New(env.Deps)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"httpMethod":"GET","path":"/api/status","requestContext":{"requestId":"r1"}}`,
		`{"httpMethod":"POST","path":"/api/status","headers":{"Content-Type":"application/json"},"body":"{}"}`,
		`{"httpMethod":"POST","path":"/api/status","multiValueHeaders":{"Content-Type":["application/json"]},"body":"e30=","isBase64Encoded":true}`,
		`{"httpMethod":"POST","path":"/api/status","body":"%%%","isBase64Encoded":true}`,
		`{"httpMethod":"GET","path":"/api/status\u0000"}`,
		`{"httpMethod":"GET","path":"/api/%zz"}`,
		`{"httpMethod":"GET","path":"api/status"}`,
		`{"httpMethod":"GET","path":"","requestContext":{"domainName":"bad host/"}}`,
		`{"httpMethod":"GET","path":"/api/status","multiValueQueryStringParameters":{"a":["1","2"],"":[""]}}`,
		`{"httpMethod":"G ET","path":"/health"}`,
		`{"httpMethod":"OPTIONS","path":"/api/status","headers":{"Origin":"http://localhost:3000","Access-Control-Request-Method":"POST"}}`,
		`{"httpMethod":"GET","path":"/../../etc/passwd"}`,
		`{"httpMethod":"GET","path":"/health","multiValueHeaders":{"Authorization":["Bearer x","Bearer y"],"Content-Length":["-1"]}}`,
		`{"httpMethod":"GET","path":"/health","headers":null,"multiValueHeaders":null,"requestContext":null}`,
		`{"httpMethod":"POST","path":"/api/status","headers":{"Content-Type":"application/json"},"body":"` + strings.Repeat("[", 10000) + `"}`,
		`{"httpMethod":["GET"]}`,
		`{"httpMethod":"GET","path":7}`,
		`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`,
		`{"detail-type":"Scheduled Event","detail":[]}`,
		`{"detail-type":"Object Created","source":"aws.s3"}`,
		`{}`, `[]`, `null`, `"x"`, `1`, ``, `{"httpMethod":"GET"`, "{\"httpMethod\":\"GET\",\"path\":\"/\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := fn.Handle(ctx, payload)
		if err != nil {
			if !errors.Is(err, lambdahttp.ErrUnsupportedEvent) {
				t.Fatalf("Handle: %v (not ErrUnsupportedEvent)", err)
			}
			return
		}
		resp, ok := out.(events.APIGatewayProxyResponse)
		if !ok {
			if m, ok := out.(map[string]string); !ok || m["status"] != "ok" {
				t.Fatalf("Handle returned %T %v", out, out)
			}
			return
		}
		if resp.StatusCode < 200 || resp.StatusCode >= 500 {
			t.Fatalf("status %d for %s: %s", resp.StatusCode, payload, resp.Body)
		}
		rec := httptest.NewRecorder()
		if err := apigateway.WriteResponse(rec, resp); err != nil {
			t.Fatalf("API Gateway could not send the response: %v", err)
		}
		if resp.StatusCode < 400 {
			return
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%d without a JSON body: %q", resp.StatusCode, rec.Body)
		}
		if msg, _ := body["error"].(string); msg == "" || body["detail"] != msg || body["code"] == "" || body["code"] == nil {
			t.Fatalf("%d not in the envelope: %s", resp.StatusCode, rec.Body)
		}
		if resp.StatusCode != http.StatusBadRequest && rec.Header().Get("X-Request-Id") == "" {
			t.Fatalf("%d without X-Request-Id", resp.StatusCode)
		}
	})
}
