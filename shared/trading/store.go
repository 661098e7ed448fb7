package trading

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

	"github.com/cryptovault/serverless/shared/ledger"
)

// writeTimeout bounds the writes that follow an acknowledged account update. They run detached
// from the request's cancellation: the transition has happened, and completing its documents now
// saves the repair later.
const writeTimeout = 3 * time.Second

// writeOrders makes the orders collection show the snapshots: one unordered bulk write of
// upserts (one command) whatever their number. Each write is idempotent and can only move a
// document forward: an open snapshot only inserts a missing document ($setOnInsert), a final
// snapshot overwrites ($set) — an order reaches one final status, once, so there is no other
// final state it could overwrite. Replaying any of them, in any order, changes nothing more.
func (s *Service) writeOrders(ctx context.Context, docs []orderDoc) error {
	if len(docs) == 0 {
		return nil
	}
	db, err := s.db(ctx)
	if err != nil {
		return err
	}
	models := make([]mongo.WriteModel, len(docs))
	for i, o := range docs {
		op := "$set"
		if o.Status == Open {
			op = "$setOnInsert"
		}
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: o.ID}}).
			SetUpdate(bson.D{{Key: op, Value: o.fields()}}).SetUpsert(true)
	}
	opts := options.BulkWrite().SetOrdered(false)
	coll := db.Collection(OrdersCollection)
	_, err = coll.BulkWrite(ctx, models, opts)
	if mongo.IsDuplicateKeyError(err) {
		// Two concurrent upserts of one new _id can make one fail on MongoDB; the document
		// exists by then, so the (idempotent) batch once more turns every upsert into an update.
		_, err = coll.BulkWrite(ctx, models, opts)
	}
	if err != nil {
		return fmt.Errorf("trading: write %d orders: %w", len(docs), err)
	}
	return nil
}

// materialize writes snapshots taken from userID's account and, once they are in the orders
// collection, defers their removal from the account to its next update (ledger.UnsetLater).
func (s *Service) materialize(ctx context.Context, userID string, docs []orderDoc) error {
	if err := s.writeOrders(ctx, docs); err != nil {
		return err
	}
	paths := make([]string, len(docs))
	for i, o := range docs {
		paths[i] = writePath(o)
	}
	if err := s.ledger.UnsetLater(userID, paths...); err != nil {
		return fmt.Errorf("trading: defer unsets: %w", err)
	}
	return nil
}

// findOrder returns the user's order id; ok is false when there is none (or it is another user's).
func (s *Service) findOrder(ctx context.Context, userID, id string) (orderDoc, bool, error) {
	db, err := s.db(ctx)
	if err != nil {
		return orderDoc{}, false, err
	}
	var o orderDoc
	err = db.Collection(OrdersCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&o)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return orderDoc{}, false, nil
	}
	if err != nil {
		return orderDoc{}, false, fmt.Errorf("trading: find order: %w", err)
	}
	return o.normalised(), true, nil
}

// readMarks reads this package's fields of userID's account; ledger.ErrNoAccount if none.
func (s *Service) readMarks(ctx context.Context, userID string) (accountMarks, error) {
	db, err := s.db(ctx)
	if err != nil {
		return accountMarks{}, err
	}
	var m accountMarks
	err = db.Collection(ledger.AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}},
		options.FindOne().SetProjection(bson.D{{Key: openField, Value: 1}, {Key: writesField, Value: 1}})).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return accountMarks{}, fmt.Errorf("trading: account of user %s: %w", userID, ledger.ErrNoAccount)
	}
	if err != nil {
		return accountMarks{}, fmt.Errorf("trading: read account: %w", err)
	}
	return m, nil
}

// latestWrite returns the newest snapshot of order id in the account's writes: its final one if
// there is one, else its open one.
func (m accountMarks) latestWrite(id string) (orderDoc, bool) {
	var best orderDoc
	found := false
	for _, k := range slices.Sorted(maps.Keys(m.Writes)) {
		o := m.Writes[k]
		if o.ID != id || k != writeKey(o) {
			continue
		}
		if !found || best.Status == Open {
			best, found = o.normalised(), true
		}
	}
	return best, found
}

// lookup returns the user's order id as it stands. The orders collection answers in the common
// case (one command); on a miss the account is read, since a transition whose document write
// failed keeps its snapshot there, and the snapshot is written (repaired) and returned.
func (s *Service) lookup(ctx context.Context, userID, id string) (orderDoc, bool, error) {
	o, ok, err := s.findOrder(ctx, userID, id)
	if err != nil || ok {
		return o, ok, err
	}
	m, err := s.readMarks(ctx, userID)
	if errors.Is(err, ledger.ErrNoAccount) {
		return orderDoc{}, false, nil
	}
	if err != nil {
		return orderDoc{}, false, err
	}
	w, ok := m.latestWrite(id)
	if !ok {
		return orderDoc{}, false, nil
	}
	if err := s.materialize(ctx, userID, []orderDoc{w}); err != nil {
		return orderDoc{}, false, err
	}
	return w, true, nil
}

// normalised returns o with its times in UTC (the driver decodes them in local time).
func (o orderDoc) normalised() orderDoc {
	o.CreatedAt = o.CreatedAt.UTC()
	for _, t := range []**time.Time{&o.ExpiresAt, &o.FilledAt, &o.ClosedAt} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	return o
}
