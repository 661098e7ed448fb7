package ledger

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Apply runs the three steps of a change one after the other. A caller with writes of its own
// (the orders package: the order document, the audit entry, the idempotency response) can run
// them beside the ledger's and save round trips by taking the steps apart:
//
//	c, err := l.Commit(ctx, change) // step 1: the account update (the point of no return)
//	... in parallel: c.Record(ctx)  // step 2: the entries into transactions
//	                 own writes
//	// step 3 is deferred: the account's next update through l unsets the recorded entries
//	// (or l.Settle(ctx, userID) does it now), and every reader flushes anyway.
//
// The crash-safety argument of the package documentation holds step by step: a crash after
// Commit leaves the entries pending, where every reader and the next Record find them.

// Committed is a change whose account update is acknowledged: it happened, whatever fails later.
// Its entries are in the account's pending map until Record copies them to transactions.
type Committed struct {
	// Entries are the change's entries as committed (ids, times and status completed).
	Entries []Entry
	// Account is the balances right after the change.
	Account Account
	// Doc is the whole account document right after the change, for the caller's own fields
	// (markers set with Change.Set); the ledger's fields are decoded in Account.
	Doc bson.Raw

	l      *Ledger
	userID string
	// docs are the change's entries followed by entries that earlier changes left pending (seen
	// in Doc): Record copies them all, so the next change repairs an interrupted one for free.
	docs []entryDoc
	// reopen marks a CommitOpening that found the account open: nothing was committed, and what
	// a crashed opening left pending is known only to the stored account, so Record flushes it.
	reopen bool
}

// Commit is step 1 of Apply alone: one conditional update of the account (a findAndModify that
// returns the account after the change, so that the caller sees its own fields and the ledger
// sees entries left pending before), which also carries the unsets deferred to this account's
// next update (UnsetLater, Record). Errors are Apply's; a nil error means the change happened.
func (l *Ledger) Commit(ctx context.Context, c Change) (*Committed, error) {
	p, err := l.buildChange(c)
	if err != nil {
		return nil, fmt.Errorf("ledger: commit for user %s: %w: %v", c.UserID, ErrInvalid, err)
	}
	db, err := l.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: commit for user %s: %w", c.UserID, err)
	}
	var raw bson.Raw
	err = db.Collection(AccountsCollection).FindOneAndUpdate(ctx, p.filter, p.update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&raw)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, l.explainMiss(ctx, db, c, p)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: commit for user %s: update account: %w", c.UserID, err)
	}
	l.later.sent(c.UserID, p.deferred)
	l.cleans.acked(c.UserID, p.cleanID)
	l.stepped(stepCommitted)

	cm := &Committed{Entries: p.entries, Doc: raw, l: l, userID: c.UserID, docs: p.docs}
	var doc accountDoc
	if err := bson.Unmarshal(raw, &doc); err != nil {
		// The change is committed; only the view of it is unreadable. Report nothing but the
		// change's own entries to Record, and leave the rest to the next reader.
		l.log.WarnContext(ctx, "ledger: account after commit not decodable", "user_id", c.UserID, "error", err.Error())
		return cm, nil
	}
	cm.Account = doc.account()
	own := make(map[string]bool, len(p.docs))
	for _, d := range p.docs {
		own[d.ID] = true
	}
	for _, d := range pendingDocs(doc.Pending) {
		if !own[d.ID] {
			cm.docs = append(cm.docs, d)
		}
	}
	return cm, nil
}

// Record is step 2: it inserts the change's entries, and any that earlier changes left pending,
// into transactions (unordered; a duplicate key means already there). It runs detached from ctx's
// cancellation (bounded by its own timeout), since the change has happened and finishing its
// record saves the next reader the work. On success the entries are remembered as recorded: the
// account's next update through this Ledger unsets them from pending, with the clean stamp, as
// Settle does at once.
// A failure leaves them pending, where every reader and the next Record find them. For a
// CommitOpening that found the account open it is Flush instead (read, insert, clear now).
func (c *Committed) Record(ctx context.Context) error {
	if len(c.docs) == 0 && !c.reopen {
		return nil
	}
	ctx, cancel := mongodb.Detach(ctx, flushTimeout)
	defer cancel()
	if c.reopen {
		return c.l.Flush(ctx, c.userID)
	}
	db, err := c.l.db(ctx)
	if err != nil {
		return fmt.Errorf("ledger: record for user %s: %w", c.userID, err)
	}
	batch := make([]any, len(c.docs))
	fields := make([]string, len(c.docs))
	for i, d := range c.docs {
		batch[i] = d
		fields[i] = "pending." + d.ID
	}
	_, err = db.Collection(TransactionsCollection).InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicates(err) {
		return fmt.Errorf("ledger: record for user %s: insert %d entries: %w", c.userID, len(c.docs), err)
	}
	c.l.stepped(stepInserted)
	c.l.later.add(c.userID, fields)
	return nil
}

// RecordOrLeave is Record for a caller that answers its request whatever happens to the record:
// the change has happened, so a failure is only logged, and the entries stay pending in the
// account, where its next update and every reader of the ledger find them.
func (c *Committed) RecordOrLeave(ctx context.Context) {
	if err := c.Record(ctx); err != nil {
		c.l.log.WarnContext(ctx, "ledger entries left pending; the next update or read records them",
			"user_id", c.userID, "entries", len(c.docs), "error", err.Error())
	}
}

// Settle sends the unsets deferred to userID's account (recorded entries, UnsetLater fields) now,
// with one update, instead of letting them ride on the account's next update. It is for callers
// with no next update in sight (the order matcher). Nothing deferred: no command.
func (l *Ledger) Settle(ctx context.Context, userID string) error {
	fields := l.later.pending(userID)
	if len(fields) == 0 {
		return nil
	}
	db, err := l.db(ctx)
	if err != nil {
		return fmt.Errorf("ledger: settle user %s: %w", userID, err)
	}
	update, token := l.cleanUpdate(fields)
	if _, err := db.Collection(AccountsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}}, update); err != nil {
		return fmt.Errorf("ledger: settle user %s: %w", userID, err)
	}
	l.later.sent(userID, fields)
	l.cleans.acked(userID, token)
	return nil
}
