package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestLoggerJSONWithLambdaRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo, slog.String("function", "health"))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	log.InfoContext(ctx, "hello", "route", "GET /health")
	log.Debug("dropped below level")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %s", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	for k, want := range map[string]string{"message": "hello", "requestId": "req-123", "function": "health", "route": "GET /health", "level": "INFO"} {
		if got[k] != want {
			t.Errorf("%s = %v, want %q", k, got[k], want)
		}
	}
	if _, ok := got["timestamp"]; !ok {
		t.Errorf("no timestamp key: %v", got)
	}
}

func TestLoggerRedactsCredentialKeys(t *testing.T) {
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelDebug)
	log.Info("oops", "password", "hunter2", "refresh_token", "tok-abc", "Authorization", "Bearer xyz",
		slog.Group("req", slog.String("cookie", "sid=zzz")), "user_id", "u1")
	out := buf.String()
	for _, leak := range []string{"hunter2", "tok-abc", "Bearer xyz", "sid=zzz"} {
		if strings.Contains(out, leak) {
			t.Errorf("log leaks %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, `"user_id":"u1"`) {
		t.Errorf("non-sensitive attribute lost: %s", out)
	}
}

func TestEMFDocument(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics(&buf, map[string]string{"Service": "health", "Environment": "dev"})
	m.now = func() time.Time { return time.UnixMilli(1764321300000) }
	if err := m.Emit(Metric{"Healthy", Count, 1}, Metric{"DatabaseLatencyMs", Milliseconds, 3}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Service, Environment string
		Healthy              float64
		DatabaseLatencyMs    float64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("EMF line is not JSON: %v", err)
	}
	cw := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp != 1764321300000 || len(cw) != 1 || cw[0].Namespace != Namespace ||
		strings.Join(cw[0].Dimensions[0], ",") != "Environment,Service" || len(cw[0].Metrics) != 2 ||
		cw[0].Metrics[1].Name != "DatabaseLatencyMs" || cw[0].Metrics[1].Unit != "Milliseconds" {
		t.Errorf("EMF metadata = %+v", doc.AWS)
	}
	if doc.Service != "health" || doc.Environment != "dev" || doc.Healthy != 1 || doc.DatabaseLatencyMs != 3 {
		t.Errorf("EMF values = %+v", doc)
	}
	if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("EMF must be exactly one line: %q", buf.String())
	}
}

func TestEMFRejectsNameClash(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics(&buf, map[string]string{"Service": "health"})
	for _, name := range []string{"Service", "_aws"} {
		if err := m.Emit(Metric{name, Count, 1}); err == nil {
			t.Errorf("Emit(%q) succeeded, want clash error", name)
		}
	}
	if err := m.Emit(); err != nil || buf.Len() != 0 {
		t.Errorf("empty Emit wrote %q, err %v", buf.String(), err)
	}
}
