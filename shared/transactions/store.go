package transactions

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/ledger"
)

// The ledger answers entries but not totals, so this file reads the
// transactions collection itself, in the shape the ledger documents (ledger package doc,
// "Shapes"), inside ledger.ReadSettled so that no committed entry is missed. Reads only: every
// write goes through the ledger.

// entry returns the user's entry id (see ledger.Entry).
func (s *service) entry(ctx context.Context, userID, id string) (ledger.Entry, bool, error) {
	return s.ledger.Entry(ctx, userID, id)
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
