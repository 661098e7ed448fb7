package audit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

type exportJSON struct {
	Logs  []logJSON `json:"logs"`
	Count int       `json:"count"`
}

// csvRows checks a CSV export's headers and parses its body.
func csvRows(t *testing.T, r testenv.Response) [][]string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="audit-logs.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("security headers missing: %v", r.Header)
	}
	if !bytes.HasSuffix(r.Body, []byte("\n")) {
		t.Errorf("CSV must end with a line end: %q", r.Body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, r.Body)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"id", "action", "resource", "status", "ip_address", "user_agent", "details", "created_at", "createdAt"}) {
		t.Fatalf("header row %q", rows)
	}
	return rows
}

func TestExportJSON(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	day := 24 * time.Hour
	for i, age := range []time.Duration{time.Minute, 20 * day, 89 * day, 91 * day, 200 * day} {
		h.record("alice", []string{"USER_LOGIN", "DEPOSIT", "ORDER_CREATED", "ORDER_FILLED", "WITHDRAWAL"}[i], now.Add(-age))
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"USER_LOGIN", "DEPOSIT", "ORDER_CREATED"}},
		{"?format=json&days=", []string{"USER_LOGIN", "DEPOSIT", "ORDER_CREATED"}},
		{"?days=1", []string{"USER_LOGIN"}},
		{"?days=365", []string{"USER_LOGIN", "DEPOSIT", "ORDER_CREATED", "ORDER_FILLED", "WITHDRAWAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got exportJSON
			decode(t, h.get("alice", "/api/audit-logs/export"+tt.query), &got)
			if got.Count != len(tt.want) || !slices.Equal(actions(got.Logs), tt.want) {
				t.Errorf("export %v (count %d), want %v", actions(got.Logs), got.Count, tt.want)
			}
			for _, l := range got.Logs {
				if l.ID == "" || l.CreatedAt != l.CreatedAtCamel || l.Details == nil {
					t.Errorf("log %+v", l)
				}
			}
		})
	}
	var empty map[string]any
	decode(t, h.get("carol", "/api/audit-logs/export"), &empty)
	if logs, ok := empty["logs"].([]any); !ok || len(logs) != 0 || empty["count"] != 0.0 {
		t.Errorf("empty export %v", empty)
	}
}

func TestExportCSV(t *testing.T) {
	h := newHarness(t)
	at := time.Now().Add(-time.Hour)
	cells := []struct{ resource, formula string }{
		{"=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tcmd", "'\tcmd"},
		{"\rcmd", "'\rcmd"},
		{"plain, with \"quotes\"\nand a newline", "plain, with \"quotes\"\nand a newline"},
		{"a=b", "a=b"}, // only a leading character is a formula
	}
	for i, c := range cells {
		h.recordEvent(audit.Event{
			UserID: "alice", Action: audit.ActionOrderCreated, Resource: c.resource, Status: audit.StatusFailure,
			Details: map[string]any{"note": `say "hi", then` + "\n" + "leave", "i": i, "nested": map[string]any{"ok": true}},
		}, at.Add(-time.Duration(i)*time.Second))
	}
	rows := csvRows(t, h.get("alice", "/api/audit-logs/export?format=csv"))
	if len(rows) != 1+len(cells) {
		t.Fatalf("%d rows, want %d", len(rows), 1+len(cells))
	}
	var list listJSON
	decode(t, h.get("alice", "/api/audit-logs"), &list)
	for i, c := range cells {
		row, l := rows[i+1], list.Logs[i] // both newest first
		want := []string{l.ID, "ORDER_CREATED", c.formula, "failure", "198.51.100.7", "audit-test/1.0", row[6], l.CreatedAt, l.CreatedAt}
		if !slices.Equal(row, want) {
			t.Errorf("row %d = %q, want %q", i, row, want)
		}
		var details map[string]any
		if err := json.Unmarshal([]byte(row[6]), &details); err != nil {
			t.Errorf("details cell %q is not JSON: %v", row[6], err)
		} else if details["i"] != float64(i) || details["note"] != "say \"hi\", then\nleave" || details["nested"].(map[string]any)["ok"] != true {
			t.Errorf("details %v", details)
		}
	}
}

// TestExportCap: an export stops at the cap, keeping the newest entries (the production cap is
// audit.MaxExport; the service is built with a lower one so the test stays small).
func TestExportCap(t *testing.T) {
	h := newHarness(t)
	h.withExportLimit(3)
	now := time.Now()
	for i := range 5 {
		h.record("alice", audit.ActionDeposit, now.Add(-time.Duration(5-i)*time.Minute))
	}
	var all listJSON
	decode(t, h.get("alice", "/api/audit-logs"), &all)
	var got exportJSON
	decode(t, h.get("alice", "/api/audit-logs/export"), &got)
	if got.Count != 3 || len(got.Logs) != 3 {
		t.Fatalf("count %d, %d logs; want 3", got.Count, len(got.Logs))
	}
	for i := range 3 {
		if got.Logs[i].ID != all.Logs[i].ID {
			t.Errorf("export[%d] = %s, want the newest entries %s", i, got.Logs[i].ID, all.Logs[i].ID)
		}
	}
	if rows := csvRows(t, h.get("alice", "/api/audit-logs/export?format=csv")); len(rows) != 4 {
		t.Errorf("CSV has %d rows, want header + 3", len(rows))
	}
	if audit.MaxExport != 10_000 {
		t.Errorf("MaxExport = %d, the contract says 10,000", audit.MaxExport)
	}
}

func TestExportBadQuery(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		query  string
		fields []string
	}{
		{"format=xml", []string{"format"}},
		{"format=CSV", []string{"format"}},
		{"format=csv&format=json", []string{"format"}},
		{"days=0", []string{"days"}},
		{"days=366", []string{"days"}},
		{"days=ninety", []string{"days"}},
		{"days=90&days=90", []string{"days"}},
		{"days=0&format=pdf", []string{"days", "format"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			checkError(t, h.get("alice", "/api/audit-logs/export?"+tt.query), http.StatusUnprocessableEntity, "VALIDATION_ERROR", tt.fields...)
		})
	}
}

// TestExportByteBudget: an export also stops before its body would be too large for a Lambda
// response, keeping the newest entries (the service is built with a small budget here).
func TestExportByteBudget(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	for i := range 6 {
		h.record("alice", audit.ActionDeposit, now.Add(-time.Duration(6-i)*time.Minute))
	}
	var all listJSON
	decode(t, h.get("alice", "/api/audit-logs"), &all)
	one, err := json.Marshal(all.Logs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Room for about two and a half entries: two fit, the third does not.
	s := audit.NewService(h.env.Deps.Mongo.Database, audit.Options{ExportBytes: len(one)*5/2 + 40})
	h.fn = audit.NewFunctionWithService(h.env.Deps, s, requireTestUser)

	r := h.get("alice", "/api/audit-logs/export")
	var got exportJSON
	decode(t, r, &got)
	if got.Count != 2 || len(got.Logs) != 2 || got.Logs[0].ID != all.Logs[0].ID || got.Logs[1].ID != all.Logs[1].ID {
		t.Errorf("export of %d bytes: count %d, %v; want the 2 newest", len(r.Body), got.Count, actions(got.Logs))
	}
	rows := csvRows(t, h.get("alice", "/api/audit-logs/export?format=csv"))
	if len(rows) < 2 || len(rows) >= 1+6 || rows[1][0] != all.Logs[0].ID {
		t.Errorf("CSV rows %d, want the header and fewer than all 6 entries, newest first", len(rows))
	}
}
