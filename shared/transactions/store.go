package transactions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
)

// The ledger answers pages of entries but not one entry by id nor totals, so this file reads the
// transactions collection itself, in the shape the ledger documents (ledger package doc,
// "Shapes"). Reads only: every write goes through the ledger.

// entryDoc is a stored ledger entry.
type entryDoc struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Type        string    `bson:"type"`
	Symbol      string    `bson:"symbol"`
	Amount      int64     `bson:"amount"`
	Price       *int64    `bson:"price"`
	Value       int64     `bson:"value"`
	Description string    `bson:"description"`
	Status      string    `bson:"status"`
	OrderID     *string   `bson:"order_id"`
	CreatedAt   time.Time `bson:"created_at"`
}

func (d entryDoc) entry() ledger.Entry {
	e := ledger.Entry{
		ID: d.ID, UserID: d.UserID, Type: ledger.EntryType(d.Type), Symbol: d.Symbol, Amount: d.Amount,
		Value: money.USD(d.Value), Description: d.Description, Status: d.Status, CreatedAt: d.CreatedAt.UTC(),
	}
	if d.Price != nil {
		p := money.Price(*d.Price)
		e.Price = &p
	}
	if d.OrderID != nil {
		e.OrderID = *d.OrderID
	}
	return e
}

// entry returns the user's entry id; ok is false when there is none (or it is another user's).
// Reading flushes pending entries first; here the flush runs beside the lookup instead of before
// it, so a hit costs one round trip of latency, and only a miss — the entry may have been pending
// — looks again once the flush is done.
func (s *service) entry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
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

func (s *service) findEntry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
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
		return ledger.Entry{}, false, fmt.Errorf("transactions: find entry: %w", err)
	}
	return d.entry(), true, nil
}

// sumByType returns the sum of the amounts of the user's entries of the given types, per type,
// with one aggregation. One $sum per $group: the local engine answers 0 for a second one.
func (s *service) sumByType(ctx context.Context, userID string, types ...ledger.EntryType) (map[ledger.EntryType]int64, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(ledger.TransactionsCollection).Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "user_id", Value: userID}, {Key: "type", Value: bson.D{{Key: "$in", Value: types}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$type"}, {Key: "total", Value: bson.D{{Key: "$sum", Value: "$amount"}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("transactions: sum entries: %w", err)
	}
	var rows []struct {
		Type  string        `bson:"_id"`
		Total bson.RawValue `bson:"total"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("transactions: read sums: %w", err)
	}
	sums := make(map[ledger.EntryType]int64, len(rows))
	for _, r := range rows {
		// A sum of int64 stays int64; MongoDB turns it into a double only past the int64 range,
		// which would no longer be exact: refuse rather than round money.
		switch r.Total.Type {
		case bson.TypeInt64:
			sums[ledger.EntryType(r.Type)] = r.Total.Int64()
		case bson.TypeInt32:
			sums[ledger.EntryType(r.Type)] = int64(r.Total.Int32())
		default:
			return nil, fmt.Errorf("transactions: sum of %s entries is not an integer (BSON type %v)", r.Type, r.Total.Type)
		}
	}
	return sums, nil
}

// countTypes counts the user's entries of the given types.
func (s *service) countTypes(ctx context.Context, userID string, types ...ledger.EntryType) (int64, error) {
	db, err := s.db(ctx)
	if err != nil {
		return 0, err
	}
	n, err := db.Collection(ledger.TransactionsCollection).CountDocuments(ctx,
		bson.D{{Key: "user_id", Value: userID}, {Key: "type", Value: bson.D{{Key: "$in", Value: types}}}})
	if err != nil {
		return 0, fmt.Errorf("transactions: count entries: %w", err)
	}
	return n, nil
}
