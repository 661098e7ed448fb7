package ledger

import (
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The clean stamp: every update that removes entries from an account's pending map (step 3 of a
// change, whether it is a command of its own or rides on a later update) also sets, in the same
// update,
//   - cleaned_at: the database server's clock at the update ($currentDate), and
//   - clean_id: a token fresh for that update,
//
// so that Entries can tell from one read of the account whether an entry may have left pending
// while its own reads of transactions were in flight (see Entries and the package documentation).
const (
	cleanedAtField = "cleaned_at"
	cleanIDField   = "clean_id"
)

// cleanSkew bounds how far the database server's clock (which stamps cleaned_at) and the clock of
// a process calling Entries may differ. Both are kept by NTP (Atlas, and Lambda's time sync
// service), which holds them within milliseconds of true time; a second is two orders of magnitude
// above that. Too small a bound would let Entries take its fast path while a clean it did not see
// was in flight; too large a one only sends more reads down the slow path (a second read of the
// page), and only for reads that start within that time after another process's clean.
const cleanSkew = time.Second

// maxCleanUsers bounds the per-user memory of cleanMarks. Forgetting a user only sends its next
// read through the clock test instead of the token test.
const maxCleanUsers = 4096

// cleanMarks remembers, per user, the clean_id of the last clean this Ledger sent and saw
// acknowledged. When Entries finds that clean_id still in the account, no clean has happened
// since that acknowledgement: no clock is involved, so a process reading right after its own
// clean (the common case: the first read after a trade cleans, the next ones do not) keeps the
// fast path without waiting out cleanSkew.
type cleanMarks struct {
	mu     sync.Mutex
	byUser map[string]string
}

// acked records that the clean stamped token was acknowledged for userID.
func (m *cleanMarks) acked(userID, token string) {
	if token == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byUser == nil {
		m.byUser = map[string]string{}
	}
	if _, ok := m.byUser[userID]; !ok && len(m.byUser) >= maxCleanUsers {
		for u := range m.byUser { // forget an arbitrary user: forgetting is safe (see maxCleanUsers)
			delete(m.byUser, u)
			break
		}
	}
	m.byUser[userID] = token
}

// last is the token of userID's last acknowledged clean through this Ledger, or "".
func (m *cleanMarks) last(userID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byUser[userID]
}

// newCleanID is a token unique to one clean: an ObjectID is unique across processes.
func newCleanID() string {
	return bson.NewObjectID().Hex()
}

// removesPending reports whether an $unset of fields removes entries from pending, so that the
// update must carry the clean stamp.
func removesPending(fields []string) bool {
	for _, f := range fields {
		if strings.HasPrefix(f, "pending.") {
			return true
		}
	}
	return false
}

// cleanUpdate is the update of a clean of its own (Flush, Settle, Entries): unset the fields,
// count the update, stamp the clean when it removes pending entries. token is "" when there is
// no stamp.
func (l *Ledger) cleanUpdate(fields []string) (update bson.D, token string) {
	unset := make(bson.D, len(fields))
	for i, f := range fields {
		unset[i] = bson.E{Key: f, Value: ""}
	}
	set := bson.D{{Key: "updated_at", Value: l.timestamp()}}
	update = bson.D{
		{Key: "$unset", Value: unset},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}
	if removesPending(fields) {
		token = newCleanID()
		set = append(set, bson.E{Key: cleanIDField, Value: token})
		update = append(update, bson.E{Key: "$currentDate", Value: bson.D{{Key: cleanedAtField, Value: true}}})
	}
	return append(update, bson.E{Key: "$set", Value: set}), token
}
