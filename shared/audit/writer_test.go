package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// stored reads the one entry of user directly from the collection, as raw BSON.
func (h *harness) stored(user string) bson.M {
	h.t.Helper()
	var doc bson.M
	if err := h.collection().FindOne(context.Background(), bson.D{{Key: "user_id", Value: user}}).Decode(&doc); err != nil {
		h.t.Fatalf("entry of %s: %v", user, err)
	}
	return doc
}

func TestWriterRecords(t *testing.T) {
	h := newHarness(t)
	at := time.Date(2026, 11, 28, 9, 15, 0, 123456789, time.FixedZone("CET", 3600))
	h.clock = at
	longUA := strings.Repeat("a", 511) + "é" + strings.Repeat("b", 100) // é straddles byte 512
	tests := []struct {
		name       string
		remoteAddr string
		userAgent  string
		event      audit.Event
		wantIP     string
		wantUA     string
		wantStatus string
	}{
		{"IPv4 with port", "203.0.113.7:4242", "Mozilla/5.0", audit.Event{Action: audit.ActionUserLogin}, "203.0.113.7", "Mozilla/5.0", "success"},
		{"IPv6 with port", "[2001:db8::1]:443", "curl/8", audit.Event{Action: audit.ActionLoginFailed, Status: audit.StatusFailure}, "2001:db8::1", "curl/8", "failure"},
		{"sourceIp without port", "198.51.100.2", "", audit.Event{Action: audit.ActionUserLogout, Status: audit.StatusSuccess}, "198.51.100.2", "", "success"},
		{"long User-Agent cut at a character", "192.0.2.9", longUA, audit.Event{Action: audit.ActionDeposit}, "192.0.2.9", strings.Repeat("a", 511), "success"},
		{"invalid UTF-8 User-Agent", "192.0.2.9", "bad\xffua", audit.Event{Action: audit.ActionWithdrawal}, "192.0.2.9", "bad\uFFFDua", "success"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := "user-" + string(rune('a'+i))
			tt.event.UserID = user
			tt.event.Resource = "res-" + user
			tt.event.Details = map[string]any{"symbol": "BTC", "amount": "0.5", "nested": map[string]any{"list": []any{1, "two"}}}
			r, _ := http.NewRequest(http.MethodPost, "/api/x", nil)
			r.RemoteAddr = tt.remoteAddr
			if tt.userAgent != "" {
				r.Header.Set("User-Agent", tt.userAgent)
			}
			h.writer.Record(r, tt.event)

			doc := h.stored(user)
			if doc["ip_address"] != tt.wantIP || doc["user_agent"] != tt.wantUA || doc["status"] != tt.wantStatus ||
				doc["action"] != tt.event.Action || doc["resource"] != "res-"+user {
				t.Errorf("stored %v", doc)
			}
			if _, ok := doc["_id"].(bson.ObjectID); !ok {
				t.Errorf("_id %T, want an ObjectID", doc["_id"])
			}
			created, ok := doc["created_at"].(bson.DateTime)
			if !ok || !created.Time().Equal(at.Truncate(time.Millisecond)) {
				t.Errorf("created_at %v (%T), want the date %v", doc["created_at"], doc["created_at"], at)
			}
			details, ok := doc["details"].(bson.D)
			if !ok || len(details) != 3 {
				t.Errorf("details %v (%T), want an embedded document", doc["details"], doc["details"])
			}
			// And through the API: the details come back as a plain JSON object.
			var got listJSON
			decode(t, h.get(user, "/api/audit-logs"), &got)
			b, _ := json.Marshal(got.Logs[0].Details)
			if string(b) != `{"amount":"0.5","nested":{"list":[1,"two"]},"symbol":"BTC"}` {
				t.Errorf("details via API %s", b)
			}
			if got.Logs[0].CreatedAt != "2026-11-28T08:15:00Z" {
				t.Errorf("created_at via API %q", got.Logs[0].CreatedAt)
			}
		})
	}
}

// TestWriterThroughLambdaAdapter: in a function, the client IP is API Gateway's sourceIp, which
// the adapter puts in RemoteAddr; a forged X-Forwarded-For is not used.
func TestWriterThroughLambdaAdapter(t *testing.T) {
	h := newHarness(t)
	rt := h.env.Deps.Router()
	rt.Handle("POST /api/orders", func(w http.ResponseWriter, r *http.Request) error {
		h.writer.Record(r, audit.Event{UserID: "alice", Action: audit.ActionOrderCreated, Resource: "order:1"})
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{}`))
		return nil
	})
	fn := &lambdahttp.Function{Name: "orders", HTTP: h.env.Deps.HTTP("orders", rt)}
	hdr := testenv.JSONHeader()
	hdr.Set("User-Agent", "CryptoVaultApp/2.1")
	hdr.Set("X-Forwarded-For", "10.9.9.9")
	if r := testenv.Do(t, fn, testenv.Request{Method: http.MethodPost, Path: "/api/orders", Header: hdr}); r.Status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	doc := h.stored("alice")
	// httptest.NewRequest's client is 192.0.2.1:1234; API Gateway reports it without the port.
	if doc["ip_address"] != "192.0.2.1" || doc["user_agent"] != "CryptoVaultApp/2.1" {
		t.Errorf("stored ip %v ua %v", doc["ip_address"], doc["user_agent"])
	}
}

func TestWriterRecordSystem(t *testing.T) {
	h := newHarness(t)
	h.writer.RecordSystem(context.Background(), audit.Event{UserID: "alice", Action: audit.ActionOrderFilled, Resource: "order:9"})
	doc := h.stored("alice")
	if doc["ip_address"] != "" || doc["user_agent"] != "" || doc["action"] != "ORDER_FILLED" || doc["status"] != "success" {
		t.Errorf("stored %v", doc)
	}
}

// errorLines returns the error-level lines of a log buffer.
func errorLines(t *testing.T, logs *logbuf.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if line == "" || json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if m["level"] == "ERROR" {
			out = append(out, m)
		}
	}
	return out
}

// TestWriterFailures: a write that cannot happen never panics, never reaches the caller, and is
// logged at error level with the action and user, never the details.
func TestWriterFailures(t *testing.T) {
	const secret = "hunter2-do-not-log"
	dbDown := func(context.Context) (*mongo.Database, error) {
		return nil, errors.New("database unavailable: no client")
	}
	secrets := map[string]any{"password": secret, "token": secret}
	tests := []struct {
		name  string
		event audit.Event
	}{
		{"lower-case action", audit.Event{UserID: "alice", Action: "user_login", Details: secrets}},
		{"empty action", audit.Event{UserID: "alice", Details: secrets}},
		{"action too long", audit.Event{UserID: "alice", Action: strings.Repeat("A", 65), Details: secrets}},
		{"unknown status", audit.Event{UserID: "alice", Action: audit.ActionUserLogin, Status: "ok", Details: secrets}},
		{"details not encodable", audit.Event{UserID: "alice", Action: audit.ActionUserLogin, Details: map[string]any{"f": func() {}, "x": secret}}},
		{"database unavailable", audit.Event{UserID: "alice", Action: audit.ActionUserLogin, Details: secrets}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logbuf.Buffer{}
			w := audit.NewWriter(dbDown, obs.NewLogger(logs, slog.LevelDebug), nil)
			r, _ := http.NewRequest(http.MethodPost, "/api/auth/login", nil)
			w.Record(r, tt.event) // returns nothing, must not panic
			checkFailureLogged(t, logs, tt.event, secret)
		})
	}
}

func checkFailureLogged(t *testing.T, logs *logbuf.Buffer, e audit.Event, secret string) {
	t.Helper()
	lines := errorLines(t, logs)
	if len(lines) != 1 || lines[0]["message"] != "audit write failed" || lines[0]["action"] != e.Action ||
		lines[0]["user_id"] != e.UserID || lines[0]["error"] == "" {
		t.Errorf("error lines %v, want one \"audit write failed\" with action, user_id and error", lines)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("a detail reached the log: %s", logs)
	}
}

// TestWriterEngineStopped: with the database gone mid-flight, Record returns (within its write
// timeout) and the failure is an error log line.
func TestWriterEngineStopped(t *testing.T) {
	h := newHarness(t)
	h.record("alice", audit.ActionUserLogin, time.Now()) // the client is connected and warm
	if err := h.db.StopEngine(); err != nil {
		t.Fatal(err)
	}
	const secret = "hunter2-do-not-log"
	e := audit.Event{UserID: "alice", Action: audit.ActionLoginFailed, Status: audit.StatusFailure, Details: map[string]any{"password": secret}}
	r, _ := http.NewRequest(http.MethodPost, "/api/auth/login", nil)
	// A request already cancelled (the client hung up) changes nothing: the write is attempted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	h.writer.Record(r.WithContext(ctx), e)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Record took %v with the database down", d)
	}
	checkFailureLogged(t, h.env.Logs, e, secret)
}

// TestWriterOutlivesCancelledRequest: a client hanging up does not suppress its entry.
func TestWriterOutlivesCancelledRequest(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/api/auth/login", nil)
	h.writer.Record(r, audit.Event{UserID: "alice", Action: audit.ActionLoginFailed, Status: audit.StatusFailure})
	if doc := h.stored("alice"); doc["action"] != "LOGIN_FAILED" {
		t.Errorf("stored %v", doc)
	}
}
