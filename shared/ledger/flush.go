package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// flushTimeout bounds the flush that follows a commit. It runs even if the request's context
// ends right after the commit: the change has happened, and finishing its flush now saves the
// next reader the work.
const flushTimeout = 3 * time.Second

// Flush copies the account's pending entries to transactions and removes them from pending. It
// is idempotent and safe to run concurrently with anything; ErrNoAccount if there is no account.
func (l *Ledger) Flush(ctx context.Context, userID string) error {
	db, err := l.db(ctx)
	if err != nil {
		return fmt.Errorf("ledger: flush user %s: %w", userID, err)
	}
	var doc struct {
		Pending map[string]entryDoc `bson:"pending"`
	}
	err = db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}},
		options.FindOne().SetProjection(bson.D{{Key: "pending", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("ledger: flush user %s: %w", userID, ErrNoAccount)
	}
	if err != nil {
		return fmt.Errorf("ledger: flush user %s: read pending: %w", userID, err)
	}
	return l.flushEntries(ctx, db, userID, pendingDocs(doc.Pending))
}

// flushCommitted flushes the entries of a change just committed. A failure leaves them pending
// for the next reader and is only logged: the change itself succeeded.
func (l *Ledger) flushCommitted(ctx context.Context, db *mongo.Database, userID string, docs []entryDoc) {
	if len(docs) == 0 {
		return
	}
	ctx, cancel := mongodb.Detach(ctx, flushTimeout)
	defer cancel()
	if err := l.flushEntries(ctx, db, userID, docs); err != nil {
		l.log.WarnContext(ctx, "ledger entries left pending; the next read flushes them",
			"user_id", userID, "entries", len(docs), "error", err.Error())
	}
}

// flushEntries is steps 2 and 3 of a change: insert the entries (a duplicate key means already
// inserted), then unset them from pending. The unset runs only when every entry is known to be
// in transactions.
func (l *Ledger) flushEntries(ctx context.Context, db *mongo.Database, userID string, docs []entryDoc) error {
	if len(docs) == 0 {
		return nil
	}
	if err := insertEntries(ctx, db, docs); err != nil {
		return fmt.Errorf("ledger: flush user %s: %w", userID, err)
	}
	l.stepped(stepInserted)
	if err := l.clearPending(ctx, db, userID, docs); err != nil {
		return fmt.Errorf("ledger: flush user %s: %w", userID, err)
	}
	return nil
}

// insertEntries is step 2: insert the entries into transactions, unordered (one duplicate must
// not stop the entries after it); a duplicate key means that entry is there already.
func insertEntries(ctx context.Context, db *mongo.Database, docs []entryDoc) error {
	batch := make([]any, len(docs))
	for i, d := range docs {
		batch[i] = d
	}
	_, err := db.Collection(TransactionsCollection).InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicates(err) {
		return fmt.Errorf("insert %d entries: %w", len(docs), err)
	}
	return nil
}

// clearPending is step 3 as a command of its own: unset the entries, which the caller knows are
// in transactions, from pending, with the clean stamp.
func (l *Ledger) clearPending(ctx context.Context, db *mongo.Database, userID string, docs []entryDoc) error {
	fields := make([]string, len(docs))
	for i, d := range docs {
		fields[i] = "pending." + d.ID
	}
	update, token := l.cleanUpdate(fields)
	if _, err := db.Collection(AccountsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}}, update); err != nil {
		return fmt.Errorf("clear pending: %w", err)
	}
	l.cleans.acked(userID, token)
	return nil
}

// onlyDuplicates reports whether an insert failed only because some documents exist already.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		switch we.Code {
		case 11000, 11001, 12582: // the duplicate-key codes, as in mongo.IsDuplicateKeyError
		default:
			return false
		}
	}
	return true
}

// pendingDocs lists a pending map in id order. The map key is authoritative: it is what $unset
// must name.
func pendingDocs(pending map[string]entryDoc) []entryDoc {
	docs := make([]entryDoc, 0, len(pending))
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		d := pending[id]
		d.ID = id
		docs = append(docs, d)
	}
	return docs
}
