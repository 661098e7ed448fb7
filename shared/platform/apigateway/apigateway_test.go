package apigateway_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/cryptovault/serverless/shared/platform/apigateway"
)

// TestEventRoundTrip: a request translated to an event and back through the real Lambda
// adapter reaches the handler as the client sent it.
func TestEventRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		target   string
		pattern  string
		resource string
		body     []byte
		header   http.Header
	}{
		{"plain GET", "GET", "/api/status", "GET /api/status", "/api/status", nil, nil},
		{"path parameter and repeated query", "GET", "/api/crypto/btc/history?days=7&days=8", "GET /api/crypto/{symbol}/history",
			"/api/crypto/{symbol}/history", nil, http.Header{"X-Multi": {"a", "b"}}},
		{"JSON body", "POST", "/api/status", "POST /api/status", "/api/status", []byte(`{"a":"ü"}`), http.Header{"Content-Type": {"application/json"}}},
		{"binary body", "POST", "/api/status", "POST /api/status", "/api/status", []byte{0xff, 0xfe, 0x00, 0x01}, nil},
		{"escaped path", "GET", "/api/crypto/a%20b", "GET /api/crypto/{symbol}", "/api/crypto/{symbol}", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := httptest.NewRequest(tt.method, tt.target, strings.NewReader(string(tt.body)))
			for k, vs := range tt.header {
				for _, v := range vs {
					in.Header.Add(k, v)
				}
			}
			// Route the incoming request as the local gateway does, so PathValue works.
			var ev events.APIGatewayProxyRequest
			mux := http.NewServeMux()
			mux.HandleFunc(tt.pattern, func(_ http.ResponseWriter, r *http.Request) {
				ev = apigateway.Event(r, tt.resource, tt.body, apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, "req-1")
			})
			mux.ServeHTTP(httptest.NewRecorder(), in)
			if ev.RequestContext.RequestID != "req-1" || ev.RequestContext.Path != "/dev"+in.URL.Path || ev.Resource != tt.resource || ev.RequestContext.Stage != "dev" {
				t.Fatalf("event context = %+v", ev.RequestContext)
			}
			if strings.Contains(tt.resource, "{symbol}") && ev.PathParameters["symbol"] == "" {
				t.Errorf("path parameters = %v", ev.PathParameters)
			}

			var seen *http.Request
			var seenBody []byte
			adapter := httpadapter.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = r
				seenBody, _ = io.ReadAll(r.Body)
				w.WriteHeader(http.StatusNoContent)
			}))
			if _, err := adapter.ProxyWithContext(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if seen.Method != tt.method || seen.URL.Path != in.URL.Path || seen.URL.Query().Encode() != in.URL.Query().Encode() ||
				string(seenBody) != string(tt.body) {
				t.Errorf("handler saw %s %s?%s body %q; sent %s %s body %q",
					seen.Method, seen.URL.Path, seen.URL.RawQuery, seenBody, tt.method, tt.target, tt.body)
			}
			for k, vs := range tt.header {
				if got := seen.Header.Values(k); strings.Join(got, ",") != strings.Join(vs, ",") {
					t.Errorf("header %s = %v, want %v", k, got, vs)
				}
			}
		})
	}
}

func TestWriteResponse(t *testing.T) {
	rec := httptest.NewRecorder()
	err := apigateway.WriteResponse(rec, events.APIGatewayProxyResponse{
		StatusCode:        201,
		Headers:           map[string]string{"X-One": "1"},
		MultiValueHeaders: map[string][]string{"Set-Cookie": {"a=1", "b=2"}},
		Body:              base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}),
		IsBase64Encoded:   true,
	})
	if err != nil || rec.Code != 201 || rec.Body.String() != "\xff\x00" || len(rec.Header().Values("Set-Cookie")) != 2 || rec.Header().Get("X-One") != "1" {
		t.Errorf("WriteResponse: err %v, %d %v %q", err, rec.Code, rec.Header(), rec.Body.String())
	}

	rec = httptest.NewRecorder()
	err = apigateway.WriteResponse(rec, events.APIGatewayProxyResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true})
	if err == nil || rec.Code != http.StatusBadGateway {
		t.Errorf("bad base64 body: err %v, status %d, want an error and 502", err, rec.Code)
	}

	rec = httptest.NewRecorder()
	if err := apigateway.WriteResponse(rec, events.APIGatewayProxyResponse{StatusCode: 204}); err != nil || rec.Code != 204 {
		t.Errorf("204: err %v status %d", err, rec.Code)
	}
}
