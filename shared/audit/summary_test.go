package audit_test

import (
	"maps"
	"net/http"
	"testing"
	"time"
)

type summaryJSON struct {
	Summary struct {
		TotalEvents  int            `json:"total_events"`
		ActionCounts map[string]int `json:"action_counts"`
		PeriodDays   int            `json:"period_days"`
	} `json:"summary"`
}

func TestSummary(t *testing.T) {
	h := newHarness(t)
	now := time.Now()
	day := 24 * time.Hour
	seed := []struct {
		action string
		age    time.Duration
	}{
		{"USER_LOGIN", time.Minute},
		{"USER_LOGIN", time.Hour},
		{"USER_LOGIN", 2 * time.Hour},
		{"LOGIN_FAILED", 10 * day},
		{"DEPOSIT", 40 * day},
		{"DEPOSIT", 41 * day},
		{"ORDER_CREATED", 400 * day}, // outside every window
	}
	for _, s := range seed {
		h.record("alice", s.action, now.Add(-s.age))
	}
	h.record("bob", "WITHDRAWAL", now)

	tests := []struct {
		query string
		days  int
		want  map[string]int
	}{
		{"", 30, map[string]int{"USER_LOGIN": 3, "LOGIN_FAILED": 1}},
		{"?days=", 30, map[string]int{"USER_LOGIN": 3, "LOGIN_FAILED": 1}},
		{"?days=1", 1, map[string]int{"USER_LOGIN": 3}},
		{"?days=9", 9, map[string]int{"USER_LOGIN": 3}},
		{"?days=45", 45, map[string]int{"USER_LOGIN": 3, "LOGIN_FAILED": 1, "DEPOSIT": 2}},
		{"?days=365", 365, map[string]int{"USER_LOGIN": 3, "LOGIN_FAILED": 1, "DEPOSIT": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got summaryJSON
			decode(t, h.get("alice", "/api/audit-logs/summary"+tt.query), &got)
			total := 0
			for _, n := range tt.want {
				total += n
			}
			s := got.Summary
			if s.PeriodDays != tt.days || s.TotalEvents != total || !maps.Equal(s.ActionCounts, tt.want) {
				t.Errorf("summary %+v, want %d days, %d events, %v", s, tt.days, total, tt.want)
			}
		})
	}

	// No entries: zero and an empty object, never null.
	r := h.get("carol", "/api/audit-logs/summary")
	var empty map[string]map[string]any
	decode(t, r, &empty)
	if counts, ok := empty["summary"]["action_counts"].(map[string]any); !ok || len(counts) != 0 || empty["summary"]["total_events"] != 0.0 {
		t.Errorf("empty summary %s", r.Body)
	}
}

func TestSummaryBadDays(t *testing.T) {
	h := newHarness(t)
	for _, q := range []string{"days=0", "days=366", "days=-5", "days=abc", "days=1.5", "days=30&days=30", "days=99999999999999999999"} {
		t.Run(q, func(t *testing.T) {
			checkError(t, h.get("alice", "/api/audit-logs/summary?"+q), http.StatusUnprocessableEntity, "VALIDATION_ERROR", "days")
		})
	}
}
