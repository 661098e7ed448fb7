package lambdahttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

func echoFunction(scheduled func(context.Context, events.EventBridgeEvent) error) *lambdahttp.Function {
	return &lambdahttp.Function{
		Name: "echo",
		HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"method": r.Method, "path": r.URL.Path, "request_id": lambdahttp.RequestID(r), "q": r.URL.Query().Get("q"),
			})
		}),
		Scheduled: scheduled,
	}
}

func TestHandleDispatch(t *testing.T) {
	var scheduledRuns int
	fn := echoFunction(func(context.Context, events.EventBridgeEvent) error { scheduledRuns++; return nil })
	ctx := context.Background()

	out, err := fn.Handle(ctx, []byte(`{"httpMethod":"GET","path":"/api/x","resource":"/api/x",
		"multiValueQueryStringParameters":{"q":["1"]},"requestContext":{"requestId":"gw-req-1","stage":"dev"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.APIGatewayProxyResponse)
	if !ok || resp.StatusCode != 200 {
		t.Fatalf("API Gateway event → %T %+v", out, out)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body["path"] != "/api/x" || body["request_id"] != "gw-req-1" || body["q"] != "1" {
		t.Errorf("handler saw %v", body)
	}

	if _, err := fn.Handle(ctx, []byte(`{"detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)); err != nil || scheduledRuns != 1 {
		t.Errorf("scheduled event: err %v, runs %d", err, scheduledRuns)
	}

	for _, ev := range []string{`not json`, `{}`, `{"detail-type":"Object Created","source":"aws.s3"}`, `{"httpMethod":7}`} {
		if _, err := fn.Handle(ctx, []byte(ev)); !errors.Is(err, lambdahttp.ErrUnsupportedEvent) {
			t.Errorf("Handle(%s) err = %v, want ErrUnsupportedEvent", ev, err)
		}
	}
	noSchedule := echoFunction(nil)
	if _, err := noSchedule.Handle(ctx, []byte(`{"detail-type":"Scheduled Event","source":"aws.events"}`)); !errors.Is(err, lambdahttp.ErrUnsupportedEvent) {
		t.Errorf("scheduled event to an HTTP-only function: err = %v", err)
	}
}

// TestMalformedEventIs400: a body flagged base64 that is not gets a 400 envelope, not the
// adapter's 504 or a failed invocation (which API Gateway turns into a bare 502).
func TestMalformedEventIs400(t *testing.T) {
	fn := echoFunction(nil)
	resp, err := fn.ServeEvent(context.Background(), events.APIGatewayProxyRequest{
		HTTPMethod: "POST", Path: "/api/x", Body: "%%%not-base64", IsBase64Encoded: true,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "r1"},
	})
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body["request_id"] != "r1" || body["error"] != body["detail"] {
		t.Errorf("body %s", resp.Body)
	}
}

// TestShutdownHookDisconnectsWithin300ms: the SIGTERM callback closes a live Mongo client well
// inside the ~300 ms Lambda grants after SIGTERM.
func TestShutdownHookDisconnectsWithin300ms(t *testing.T) {
	db := testenv.DB(t)
	client := mongodb.New(mongodb.Options{
		URI:      func(context.Context) (string, error) { return db.URI(), nil },
		Database: "test", ServerSelectionTimeout: 300 * time.Millisecond,
	})
	if err := client.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	warm, err := client.Database(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	hook := lambdahttp.ShutdownHook(obs.NewLogger(&logs, slog.LevelInfo), client.Disconnect)
	start := time.Now()
	hook()
	// The disconnect ran under the hook's 250 ms deadline and finished ("clients closed", not
	// "close failed"): that is the proof it fit. The wall-clock bound below only catches a hang;
	// timings on a loaded shared machine are not asserted tightly.
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if !bytes.Contains(logs.Bytes(), []byte("clients closed")) {
		t.Errorf("no shutdown log line: %s", logs.String())
	}
	// The pool the instance used is closed: nothing of it stays open towards the cluster.
	err = warm.Collection("x").FindOne(context.Background(), map[string]any{}).Err()
	if !errors.Is(err, mongo.ErrClientDisconnected) {
		t.Errorf("query on the old pool after shutdown: %v, want ErrClientDisconnected", err)
	}
}

// TestShutdownHookIsBounded: a close that would hang is cut off at ShutdownTimeout.
func TestShutdownHookIsBounded(t *testing.T) {
	var logs bytes.Buffer
	hook := lambdahttp.ShutdownHook(obs.NewLogger(&logs, slog.LevelInfo), func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	hook()
	// Cut off at the deadline, not after: the lower bound is exact, the upper only catches a hang.
	if d := time.Since(start); d < lambdahttp.ShutdownTimeout || d > 2*time.Second {
		t.Errorf("hook returned after %v, want about %v", d, lambdahttp.ShutdownTimeout)
	}
	if !bytes.Contains(logs.Bytes(), []byte("close failed")) {
		t.Errorf("timeout not logged: %s", logs.String())
	}
}
