package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Entry returns the user's entry id; ok is false when there is none (or it is another user's).
// Reading the ledger flushes pending entries first; here the flush runs beside the lookup
// instead of before it, so a hit costs one round trip of latency, and only a miss (the entry may
// have been pending) looks again once the flush is done.
func (l *Ledger) Entry(ctx context.Context, userID, id string) (Entry, bool, error) {
	var (
		wg       sync.WaitGroup
		flushErr error
	)
	wg.Go(func() { flushErr = l.Flush(ctx, userID) })
	e, ok, err := l.findEntry(ctx, userID, id)
	wg.Wait()
	if err != nil || ok {
		return e, ok, err
	}
	if flushErr != nil {
		return Entry{}, false, flushErr
	}
	return l.findEntry(ctx, userID, id)
}

func (l *Ledger) findEntry(ctx context.Context, userID, id string) (Entry, bool, error) {
	db, err := l.db(ctx)
	if err != nil {
		return Entry{}, false, err
	}
	var d entryDoc
	err = db.Collection(TransactionsCollection).
		FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("ledger: find entry %s: %w", id, err)
	}
	return d.entry(), true, nil
}
