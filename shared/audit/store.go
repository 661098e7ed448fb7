package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// newestFirst is the order of every listing; _id breaks ties between entries of the same
// millisecond, so paging neither repeats nor skips an entry.
var newestFirst = bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}

// store runs the audit queries. Every query takes the caller's user id and puts it in the filter:
// no code path can read another user's entries.
type store struct {
	db func(ctx context.Context) (*mongo.Database, error)
}

func (s store) collection(ctx context.Context) (*mongo.Collection, error) {
	db, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Collection(Collection), nil
}

// list returns one page of the user's entries (action filtered when word is not empty) and the
// number of matching entries. The page and the count do not depend on each other, so they run in
// parallel: one sequential round trip, as the cost budget for an authenticated read requires.
func (s store) list(ctx context.Context, userID, word string, limit, offset int) ([]entry, int64, error) {
	coll, err := s.collection(ctx)
	if err != nil {
		return nil, 0, err
	}
	filter := bson.D{{Key: "user_id", Value: userID}}
	if word != "" {
		filter = append(filter, bson.E{Key: "action", Value: actionFilter(word)})
	}
	var (
		wg                sync.WaitGroup
		entries           []entry
		total             int64
		findErr, countErr error
	)
	wg.Go(func() {
		entries, findErr = find(ctx, coll, filter,
			options.Find().SetSort(newestFirst).SetSkip(int64(offset)).SetLimit(int64(limit)))
	})
	wg.Go(func() {
		total, countErr = coll.CountDocuments(ctx, filter)
		if countErr != nil {
			countErr = fmt.Errorf("count audit logs: %w", countErr)
		}
	})
	wg.Wait()
	if err := errors.Join(findErr, countErr); err != nil {
		return nil, 0, err
	}
	return entries, total, nil
}

// since returns the user's entries created at or after from, newest first, at most limit.
func (s store) since(ctx context.Context, userID string, from time.Time, limit int) ([]entry, error) {
	coll, err := s.collection(ctx)
	if err != nil {
		return nil, err
	}
	filter := bson.D{{Key: "user_id", Value: userID}, {Key: "created_at", Value: bson.D{{Key: "$gte", Value: from}}}}
	return find(ctx, coll, filter, options.Find().SetSort(newestFirst).SetLimit(int64(limit)))
}

// get returns the user's entry with id; ok is false when there is none (or it is another
// user's: the two are indistinguishable on purpose).
func (s store) get(ctx context.Context, userID string, id bson.ObjectID) (entry, bool, error) {
	coll, err := s.collection(ctx)
	if err != nil {
		return entry{}, false, err
	}
	var e entry
	err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "user_id", Value: userID}}).Decode(&e)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return entry{}, false, nil
	}
	if err != nil {
		return entry{}, false, fmt.Errorf("find audit log: %w", err)
	}
	return e, true, nil
}

// countByAction counts the user's entries created at or after from, per action, in one
// aggregation. It has a single $sum per $group: the local engine returns 0 for a second one.
func (s store) countByAction(ctx context.Context, userID string, from time.Time) (map[string]int64, error) {
	coll, err := s.collection(ctx)
	if err != nil {
		return nil, err
	}
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{
			{Key: "user_id", Value: userID},
			{Key: "created_at", Value: bson.D{{Key: "$gte", Value: from}}},
		}}},
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$action"},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	}
	cur, err := coll.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("aggregate audit logs: %w", err)
	}
	var rows []struct {
		Action string `bson:"_id"`
		N      int64  `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read audit log counts: %w", err)
	}
	counts := make(map[string]int64, len(rows))
	for _, r := range rows {
		counts[r.Action] += r.N
	}
	return counts, nil
}

func find(ctx context.Context, coll *mongo.Collection, filter bson.D, o *options.FindOptionsBuilder) ([]entry, error) {
	cur, err := coll.Find(ctx, filter, o)
	if err != nil {
		return nil, fmt.Errorf("find audit logs: %w", err)
	}
	entries := []entry{}
	if err := cur.All(ctx, &entries); err != nil {
		return nil, fmt.Errorf("read audit logs: %w", err)
	}
	return entries, nil
}
