package portfolio

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
)

// The ledger lists entries but does not look one up by id, which an idempotent re-run needs (its
// entry id is derived from the claim's token). This file reads the transactions collection in the
// shape the ledger documents (ledger package doc, "Shapes"). Reads only: every write goes through
// the ledger.

// entryDoc is the part of a stored entry this package answers from.
type entryDoc struct {
	ID     string `bson:"_id"`
	Type   string `bson:"type"`
	Symbol string `bson:"symbol"`
	Amount int64  `bson:"amount"`
	Price  *int64 `bson:"price"`
	Value  int64  `bson:"value"`
}

func (d entryDoc) entry(userID string) ledger.Entry {
	e := ledger.Entry{
		ID: d.ID, UserID: userID, Type: ledger.EntryType(d.Type), Symbol: d.Symbol, Amount: d.Amount,
		Value: money.USD(d.Value),
	}
	if d.Price != nil {
		p := money.Price(*d.Price)
		e.Price = &p
	}
	return e
}

// entry returns the user's entry id; ok is false when there is none. Reading the ledger flushes
// pending entries first; here the flush runs beside the lookup, so a hit costs one round trip of
// latency, and only a miss (the entry may have been pending) looks again after the flush.
func (s *Service) entry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
	var (
		wg       sync.WaitGroup
		flushErr error
	)
	wg.Go(func() { flushErr = s.ledger.Flush(ctx, userID) })
	e, ok, err := s.findEntry(ctx, userID, id)
	wg.Wait()
	if err != nil || ok {
		return e, ok, err
	}
	if flushErr != nil {
		return ledger.Entry{}, false, flushErr
	}
	return s.findEntry(ctx, userID, id)
}

func (s *Service) findEntry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
	db, err := s.db(ctx)
	if err != nil {
		return ledger.Entry{}, false, err
	}
	var d entryDoc
	err = db.Collection(ledger.TransactionsCollection).
		FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return ledger.Entry{}, false, nil
	}
	if err != nil {
		return ledger.Entry{}, false, fmt.Errorf("portfolio: find entry: %w", err)
	}
	return d.entry(userID), true, nil
}
