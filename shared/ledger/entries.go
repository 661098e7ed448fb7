package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Paging bounds of Entries (api.md: lists).
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// EntryQuery selects and pages a user's entries. Zero values mean "any" and the defaults.
type EntryQuery struct {
	Type   EntryType // "" = every type
	Symbol string    // "" = every symbol
	Limit  int64     // 0 = DefaultLimit; 1..MaxLimit
	Offset int64     // >= 0
}

// Entries returns one page of the user's entries, newest first (created_at, then id, both
// descending), and the total number matching. It flushes pending entries first, so the ledger it
// reads agrees with the balances; ErrNoAccount if the user has none.
func (l *Ledger) Entries(ctx context.Context, userID string, q EntryQuery) ([]Entry, int64, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit || q.Offset < 0 {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w: limit %d, offset %d", userID, ErrInvalid, q.Limit, q.Offset)
	}
	if err := l.Flush(ctx, userID); err != nil {
		return nil, 0, err
	}
	db, err := l.db(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w", userID, err)
	}
	filter := bson.D{{Key: "user_id", Value: userID}}
	if q.Type != "" {
		filter = append(filter, bson.E{Key: "type", Value: string(q.Type)})
	}
	if q.Symbol != "" {
		filter = append(filter, bson.E{Key: "symbol", Value: q.Symbol})
	}
	coll := db.Collection(TransactionsCollection)

	// The count and the page do not depend on each other: one round trip of latency, not two.
	var (
		wg       sync.WaitGroup
		total    int64
		countErr error
	)
	wg.Go(func() {
		total, countErr = coll.CountDocuments(ctx, filter)
	})
	var docs []entryDoc
	cur, err := coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(q.Offset).SetLimit(q.Limit))
	if err == nil {
		err = cur.All(ctx, &docs)
	}
	wg.Wait()
	if err = errors.Join(err, countErr); err != nil {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w", userID, err)
	}
	entries := make([]Entry, len(docs))
	for i, d := range docs {
		entries[i] = d.entry()
	}
	return entries, total, nil
}
