package ledger

import (
	"context"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
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

// matches reports whether an entry is selected by the query's filter.
func (q EntryQuery) matches(d entryDoc) bool {
	return (q.Type == "" || d.Type == string(q.Type)) && (q.Symbol == "" || d.Symbol == q.Symbol)
}

// Entries returns one page of the user's entries, newest first (created_at, then id, both
// descending), and the total number matching. Every entry whose change was committed before the
// call is counted, and listed if the page covers it: entries still pending are flushed first, so
// the ledger read agrees with the balances. ErrNoAccount if the user has none.
//
// It is one round trip of latency in the common case: the account's pending entries and clean
// stamp are read beside the page and the count, and the page stands when the account shows that
// nothing the query selects can have been missed (see settled). Otherwise — the first read after
// another process's change whose clean was deferred, or one that starts within cleanSkew of
// another process's clean — the pending entries are flushed and the page and count read again.
// Entries this Ledger recorded itself before the call are known to be in transactions and need
// neither (see cleanState.without).
func (l *Ledger) Entries(ctx context.Context, userID string, q EntryQuery) ([]Entry, int64, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit || q.Offset < 0 {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w: limit %d, offset %d", userID, ErrInvalid, q.Limit, q.Offset)
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

	// The page and count stand when settledRead keeps them; when it reads again, the pending
	// entries already on the first page are in transactions, so they need no insert.
	var (
		docs  []entryDoc
		total int64
	)
	_, err = l.settledRead(ctx, userID, q.matches, func(ctx context.Context) (map[string]bool, error) {
		var err error
		if docs, total, err = l.page(ctx, coll, filter, q); err != nil {
			return nil, err
		}
		listed := make(map[string]bool, len(docs))
		for _, d := range docs {
			listed[d.ID] = true
		}
		return listed, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w", userID, err)
	}
	return entriesOf(docs), total, nil
}

// page reads one page of transactions and the total matching, in parallel.
func (l *Ledger) page(ctx context.Context, coll *mongo.Collection, filter bson.D, q EntryQuery) ([]entryDoc, int64, error) {
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
	if err != nil {
		return nil, 0, fmt.Errorf("read page: %w", err)
	}
	if countErr != nil {
		return nil, 0, fmt.Errorf("count: %w", countErr)
	}
	return docs, total, nil
}

func entriesOf(docs []entryDoc) []Entry {
	entries := make([]Entry, len(docs))
	for i, d := range docs {
		entries[i] = d.entry()
	}
	return entries
}
