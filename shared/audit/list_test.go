package audit_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/audit"
)

func TestRoutes(t *testing.T) {
	h := newHarness(t)
	want := []string{"GET /api/audit-logs", "GET /api/audit-logs/export", "GET /api/audit-logs/summary", "GET /api/audit-logs/{id}"}
	if !slices.Equal(h.fn.Routes, want) || h.fn.Name != "audit" {
		t.Errorf("function %q routes %v, want %v", h.fn.Name, h.fn.Routes, want)
	}
	if fn, err := audit.NewFunction(h.env.Deps, nil); err == nil || fn != nil {
		t.Error("NewFunction without a guard must fail")
	}
}

func TestListNewestFirstWithPaging(t *testing.T) {
	h := newHarness(t)
	base := time.Now().Add(-time.Hour).UTC()
	acts := []string{audit.ActionUserSignup, audit.ActionUserLogin, audit.ActionDeposit, audit.ActionOrderCreated, audit.ActionUserLogout}
	for i, a := range acts {
		h.record("alice", a, base.Add(time.Duration(i)*time.Minute))
	}
	// Two entries in the same millisecond: _id orders them, so pages neither repeat nor skip.
	h.record("alice", audit.ActionOrderFilled, base.Add(10*time.Minute))
	h.record("alice", audit.ActionOrderCancelled, base.Add(10*time.Minute))
	h.record("bob", audit.ActionUserLogin, base.Add(30*time.Minute))
	newestFirst := []string{"ORDER_CANCELLED", "ORDER_FILLED", "USER_LOGOUT", "ORDER_CREATED", "DEPOSIT", "USER_LOGIN", "USER_SIGNUP"}

	tests := []struct {
		query         string
		want          []string
		limit, offset int
	}{
		{"", newestFirst, 50, 0},
		{"?limit=&offset=", newestFirst, 50, 0},
		{"?limit=2", newestFirst[:2], 2, 0},
		{"?limit=2&offset=2", newestFirst[2:4], 2, 2},
		{"?limit=2&offset=6", newestFirst[6:], 2, 6},
		{"?offset=7", []string{}, 50, 7},
		{"?offset=1000000", []string{}, 50, 1000000},
		{"?offset=9223372036854775807", []string{}, 50, 9223372036854775807},
		{"?limit=200&unknown=ignored", newestFirst, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var got listJSON
			decode(t, h.get("alice", "/api/audit-logs"+tt.query), &got)
			if got.Logs == nil || !slices.Equal(actions(got.Logs), tt.want) {
				t.Errorf("actions %v, want %v", actions(got.Logs), tt.want)
			}
			if got.Total == nil || *got.Total != 7 || got.Limit == nil || *got.Limit != tt.limit || got.Offset == nil || *got.Offset != tt.offset {
				t.Errorf("total/limit/offset = %v/%v/%v, want 7/%d/%d", got.Total, got.Limit, got.Offset, tt.limit, tt.offset)
			}
		})
	}

	// The log object: every field, both time spellings equal, UTC with Z.
	var got listJSON
	decode(t, h.get("alice", "/api/audit-logs?limit=1&offset=6"), &got)
	l := got.Logs[0]
	if len(l.ID) != 24 || l.Action != "USER_SIGNUP" || l.Resource != "test" || l.Status != "success" ||
		l.IPAddress != "198.51.100.7" || l.UserAgent != "audit-test/1.0" || l.Details["n"] != 1.0 {
		t.Errorf("log %+v", l)
	}
	if l.CreatedAt != l.CreatedAtCamel || !checkTime(t, l.CreatedAt).Equal(base.Truncate(time.Second)) {
		t.Errorf("created_at %q createdAt %q, want %s", l.CreatedAt, l.CreatedAtCamel, base)
	}
}

func TestListActionFilter(t *testing.T) {
	h := newHarness(t)
	at := time.Now().Add(-time.Hour)
	for i, a := range []string{"USER_LOGIN", "LOGIN_FAILED", "LOGINX", "BLOGIN", "USER_LOGOUT", "TWO_FACTOR_ENABLED", "LOGIN"} {
		h.record("alice", a, at.Add(time.Duration(i)*time.Second))
	}
	h.record("bob", "USER_LOGIN", at)

	tests := []struct {
		action string
		want   []string // newest first
	}{
		{"login", []string{"LOGIN", "LOGIN_FAILED", "USER_LOGIN"}},
		{"LOGIN", []string{"LOGIN", "LOGIN_FAILED", "USER_LOGIN"}},
		{"LoGiN", []string{"LOGIN", "LOGIN_FAILED", "USER_LOGIN"}},
		{"user_login", []string{"USER_LOGIN"}},
		{"factor", []string{"TWO_FACTOR_ENABLED"}},
		{"two_factor", []string{"TWO_FACTOR_ENABLED"}},
		{"two_factor_enabled", []string{"TWO_FACTOR_ENABLED"}},
		{"user", []string{"USER_LOGOUT", "USER_LOGIN"}},
		{"loginx", []string{"LOGINX"}},
		{"log", []string{}},
		{"ogin", []string{}},
		{"user_logi", []string{}},
		{"failed_login", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			var got listJSON
			decode(t, h.get("alice", "/api/audit-logs?action="+tt.action), &got)
			if !slices.Equal(actions(got.Logs), tt.want) || got.Total == nil || *got.Total != len(tt.want) {
				t.Errorf("action=%s: %v (total %v), want %v", tt.action, actions(got.Logs), got.Total, tt.want)
			}
		})
	}
	// Filter and paging combine; total counts the filtered entries.
	var got listJSON
	decode(t, h.get("alice", "/api/audit-logs?action=login&limit=1&offset=1"), &got)
	if !slices.Equal(actions(got.Logs), []string{"LOGIN_FAILED"}) || *got.Total != 3 {
		t.Errorf("filtered page %v total %v", actions(got.Logs), *got.Total)
	}
}

func TestListBadQuery(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=201", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=1.5", []string{"limit"}},
		{"limit=abc", []string{"limit"}},
		{"limit=1&limit=2", []string{"limit"}},
		{"limit=99999999999999999999", []string{"limit"}},
		{"offset=-1", []string{"offset"}},
		{"offset=x", []string{"offset"}},
		{"offset=0&offset=0", []string{"offset"}},
		{"action=login&action=logout", []string{"action"}},
		{"action=log-in", []string{"action"}},
		{"action=.*", []string{"action"}},
		{"action=%28%5E%7C_%29", []string{"action"}}, // (^|_)
		{"action=login%20failed", []string{"action"}},
		{"action=" + fmt.Sprintf("%065d", 0), []string{"action"}},
		{"action=%C3%A9", []string{"action"}}, // é
		{"limit=0&offset=-1&action=$", []string{"limit", "offset", "action"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			checkError(t, h.get("alice", "/api/audit-logs?"+tt.query), http.StatusUnprocessableEntity, "VALIDATION_ERROR", tt.fields...)
		})
	}
	// 64 characters is the longest accepted filter.
	var got listJSON
	decode(t, h.get("alice", "/api/audit-logs?action="+fmt.Sprintf("%064d", 0)), &got)
}

func TestGetByID(t *testing.T) {
	h := newHarness(t)
	h.record("alice", audit.ActionDeposit, time.Now())
	h.record("bob", audit.ActionWithdrawal, time.Now())
	var list listJSON
	decode(t, h.get("alice", "/api/audit-logs"), &list)
	aliceID := list.Logs[0].ID
	decode(t, h.get("bob", "/api/audit-logs"), &list)
	bobID := list.Logs[0].ID

	var got struct {
		Log logJSON `json:"log"`
	}
	decode(t, h.get("alice", "/api/audit-logs/"+aliceID), &got)
	if got.Log.ID != aliceID || got.Log.Action != "DEPOSIT" || got.Log.CreatedAt != got.Log.CreatedAtCamel {
		t.Errorf("log %+v", got.Log)
	}

	for _, tt := range []struct{ name, user, id string }{
		{"another user's id", "bob", aliceID},
		{"another user's id, other way", "alice", bobID},
		{"unknown id", "alice", "0123456789abcdef01234567"},
		{"malformed", "alice", "nope"},
		{"too short", "alice", aliceID[:23]},
		{"not hex", "alice", "zzzzzzzzzzzzzzzzzzzzzzzz"},
		{"own id and one more character", "alice", aliceID + "0"},
		{"empty", "alice", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, h.get(tt.user, "/api/audit-logs/"+tt.id), http.StatusNotFound, "NOT_FOUND")
		})
	}
}

// TestOwnership: one user's entries never appear in another user's list, filter, summary or
// export.
func TestOwnership(t *testing.T) {
	h := newHarness(t)
	for i := range 3 {
		h.record("alice", audit.ActionUserLogin, time.Now().Add(-time.Duration(i)*time.Minute))
	}
	h.record("bob", audit.ActionDeposit, time.Now())

	var list listJSON
	decode(t, h.get("bob", "/api/audit-logs?action=login"), &list)
	if len(list.Logs) != 0 || *list.Total != 0 {
		t.Errorf("bob's login filter: %v", actions(list.Logs))
	}
	decode(t, h.get("bob", "/api/audit-logs"), &list)
	if !slices.Equal(actions(list.Logs), []string{"DEPOSIT"}) || *list.Total != 1 {
		t.Errorf("bob's list: %v total %d", actions(list.Logs), *list.Total)
	}
	var sum summaryJSON
	decode(t, h.get("bob", "/api/audit-logs/summary?days=365"), &sum)
	if sum.Summary.TotalEvents != 1 || len(sum.Summary.ActionCounts) != 1 || sum.Summary.ActionCounts["DEPOSIT"] != 1 {
		t.Errorf("bob's summary: %+v", sum.Summary)
	}
	var exp exportJSON
	decode(t, h.get("bob", "/api/audit-logs/export?days=365"), &exp)
	if exp.Count != 1 || !slices.Equal(actions(exp.Logs), []string{"DEPOSIT"}) {
		t.Errorf("bob's export: %+v", exp)
	}
	rows := csvRows(t, h.get("bob", "/api/audit-logs/export?format=csv"))
	if len(rows) != 2 || rows[1][1] != "DEPOSIT" {
		t.Errorf("bob's CSV: %q", rows)
	}
	// A user with no entries gets empty results, not errors or nulls.
	decode(t, h.get("carol", "/api/audit-logs"), &list)
	if list.Logs == nil || len(list.Logs) != 0 || *list.Total != 0 {
		t.Errorf("carol's list: %+v", list)
	}
}

// TestUnauthenticated: every route needs a caller. Without the guard's principal the handlers
// answer 401 themselves, in case a route were ever registered without the guard.
func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	paths := []string{"/api/audit-logs", "/api/audit-logs/summary", "/api/audit-logs/export", "/api/audit-logs/0123456789abcdef01234567"}
	for _, p := range paths {
		t.Run("guard "+p, func(t *testing.T) {
			checkError(t, h.get("", p), http.StatusUnauthorized, "UNAUTHENTICATED")
		})
	}
	s := audit.NewService(h.env.Deps.Mongo.Database, audit.Options{})
	h.fn = audit.NewFunctionWithService(h.env.Deps, s, passThrough)
	for _, p := range paths {
		t.Run("no principal "+p, func(t *testing.T) {
			checkError(t, h.get("alice", p), http.StatusUnauthorized, "UNAUTHENTICATED")
		})
	}
}
