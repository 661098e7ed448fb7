package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Index describes an index a package needs. Packages declare theirs next to their queries.
type Index struct {
	Collection string
	Name       string
	Keys       bson.D
	Unique     bool
	// ExpireAfter makes a TTL index. TTL is housekeeping only: code never relies on it for
	// correctness (queries check expiry themselves), so an engine without TTL support gets the
	// index without it, and a warning.
	ExpireAfter time.Duration
}

// EnsureIndexes creates the indexes (creating an existing identical index is a no-op on MongoDB):
// one createIndexes command per collection, the collections in parallel, so a cold start pays
// about one round trip. Options the connected engine reports as unsupported, and that only do
// housekeeping (TTL), are dropped with a warning; a failure to create the index itself (e.g. a
// unique index over duplicate data) is an error, since queries and uniqueness depend on it.
func EnsureIndexes(ctx context.Context, db *mongo.Database, log *slog.Logger, indexes []Index) error {
	byCollection := map[string][]Index{}
	for _, ix := range indexes {
		byCollection[ix.Collection] = append(byCollection[ix.Collection], ix)
	}
	errs := make(chan error, len(byCollection))
	for coll, ixs := range byCollection {
		go func() { errs <- ensureCollection(ctx, db.Collection(coll), log, ixs) }()
	}
	var all []error
	for range byCollection {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func ensureCollection(ctx context.Context, coll *mongo.Collection, log *slog.Logger, ixs []Index) error {
	models := make([]mongo.IndexModel, len(ixs))
	for i, ix := range ixs {
		models[i] = ix.model(true)
	}
	if _, err := coll.Indexes().CreateMany(ctx, models); err == nil || !unsupportedOption(err) {
		if err != nil {
			return fmt.Errorf("create indexes on %s: %w", coll.Name(), err)
		}
		return nil
	}
	// The engine refused an option: retry one by one, without TTL where it is the culprit.
	for _, ix := range ixs {
		_, err := coll.Indexes().CreateOne(ctx, ix.model(true))
		if err != nil && ix.ExpireAfter > 0 && unsupportedOption(err) {
			log.WarnContext(ctx, "index option unsupported by this engine; created without it",
				"collection", ix.Collection, "index", ix.Name, "option", "expireAfterSeconds", "error", err.Error())
			_, err = coll.Indexes().CreateOne(ctx, ix.model(false))
		}
		if err != nil {
			return fmt.Errorf("create index %s.%s: %w", ix.Collection, ix.Name, err)
		}
	}
	return nil
}

func (ix Index) model(withTTL bool) mongo.IndexModel {
	o := options.Index().SetName(ix.Name)
	if ix.Unique {
		o.SetUnique(true)
	}
	if withTTL && ix.ExpireAfter > 0 {
		o.SetExpireAfterSeconds(int32(ix.ExpireAfter / time.Second))
	}
	return mongo.IndexModel{Keys: ix.Keys, Options: o}
}

// unsupportedOption recognises the engine saying "I cannot do that option" rather than "your
// data breaks that index": MongoDB's and FerretDB's codes for unimplemented or invalid index
// options.
func unsupportedOption(err error) bool {
	var ce mongo.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case 2, // BadValue
		67,  // CannotCreateIndex
		115, // CommandNotSupported
		197, // InvalidIndexSpecificationOption
		238: // NotImplemented
		return true
	}
	return false
}
