package transactions_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestRoundTrips counts the database commands of each route (the architecture's cost budget),
// with the guard's revocation view already loaded (its refresh is per instance, not per request).
// The sequential chains are in the comments; commands on one line run in parallel.
func TestRoundTrips(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.get("/api/transactions?limit=1")
	id := txOf(t, expect(t, u.post(movement("deposit", "1"), ""), http.StatusCreated, ""))["id"].(string)

	tests := []struct {
		name string
		send func() int
		want string // command names, sorted by the order sent where sequential
	}{
		// update account (commit) → insert entry (flush) → update account (clear pending) →
		// insert audit: 4 sequential, 4 commands.
		{"POST without key", func() int { return u.post(movement("deposit", "1"), "").Status },
			"update insert update insert"},
		// insert record → commit → flush insert → flush clear → (update record ∥ insert audit)
		// → findAndModify (remove the marker): 6 sequential, 7 commands.
		{"POST with key", func() int { return u.post(movement("deposit", "2"), "rt").Status },
			"insert update insert update update insert findAndModify"},
		// insert record (duplicate) → find record: 2 sequential.
		{"POST replay", func() int { return u.post(movement("deposit", "2"), "rt").Status },
			"insert find"},
		// find pending (flush) → (count ∥ find page): 2 sequential, 3 commands (ledger.Entries).
		{"GET list", func() int { return u.get("/api/transactions").Status },
			"find aggregate find"},
		// find pending (flush) ∥ find entry: 1 sequential, 2 commands.
		{"GET one", func() int { return u.get("/api/transactions/" + id).Status },
			"find find"},
		// find pending (flush) → (find account ∥ sum ∥ count): 2 sequential, 4 commands.
		{"GET stats", func() int { return u.get("/api/transactions/stats/overview").Status },
			"find find aggregate aggregate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.commands.len()
			if status := tt.send(); status >= 300 {
				t.Fatalf("status %d", status)
			}
			got := h.commands.since(before)
			if sorted(got) != sorted(strings.Fields(tt.want)) {
				t.Fatalf("commands %v, want %s", got, tt.want)
			}
			t.Logf("%d commands: %v", len(got), got)
		})
	}
}

// sorted compares command lists regardless of the order of parallel commands.
func sorted(names []string) string {
	c := slices.Clone(names)
	slices.Sort(c)
	return strings.Join(c, " ")
}
