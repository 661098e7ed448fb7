package idempotency

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// MarkerField is the map field, in a guarded document, holding the markers of the claims that
// updated it: <MarkerField>.<token> = the record's creation time.
const MarkerField = "idem"

// Guard returns the additions that make one single-document update — of the document id in
// collection — apply at most once for this key, however often the operation runs: add filter to
// the update's filter and set to its $set (for a balance change, ledger.Change.Filter and
// ledger.Change.Set). The first update sets the marker <MarkerField>.<token>; any later one
// requires it absent and so matches nothing (ledger.ErrPrecondition): the operation was applied
// before, and the caller rebuilds its response from the ids it derived from Token.
//
// The document is remembered so that Finish can remove the marker once the response is stored.
// A nil Claim returns nil, nil: without a key there is nothing to guard.
func (c *Claim) Guard(collection string, id any) (filter, set bson.D) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	c.guarded = append(c.guarded, target{collection: collection, id: id})
	c.mu.Unlock()
	return c.marker()
}

// GuardDeferred is Guard for a caller that removes the marker itself, off the response's path:
// the same filter and $set, but Finish sends no command for this marker. Instead, once Finish has
// stored a 2xx — from then on no request can run this token again: every retry replays — it calls
// stored with the marker's path (<MarkerField>.<token>), so that the caller can hand its removal
// to an update of the document that happens anyway (ledger.UnsetLater). stored must not block: it
// runs before the response is sent.
//
// stored is not called when the removal would be unsafe or is not earned: for a claim that took
// over (its marker must stay, see the package documentation), when the outcome is not a 2xx, or
// when storing it failed (the record can then still be taken over, and the re-run must find the
// marker). A marker whose removal never happens — a crash after Finish, a deferral the caller's
// memory forgot — is left behind like a taken-over claim's, and StaleMarkers finds it once no
// retry can need it. A nil Claim returns nil, nil and never calls stored.
func (c *Claim) GuardDeferred(stored func(field string)) (filter, set bson.D) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	c.onStored = append(c.onStored, stored)
	c.mu.Unlock()
	return c.marker()
}

// marker is the filter and $set of this claim's marker: required absent, then set to the
// record's creation time (what pruning compares with MarkerRetention).
func (c *Claim) marker() (filter, set bson.D) {
	field := c.markerPath()
	return bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: field, Value: c.created}}
}

func (c *Claim) markerPath() string { return MarkerField + "." + c.token }

// StaleMarkers returns the paths (<MarkerField>.<token>) of the markers in doc — a guarded
// document as a caller read or updated it — that are older than MarkerRetention at now: no
// request can run their tokens again, so they may be removed at any later time (a caller that
// defers the removal of its own markers, see GuardDeferred, prunes these the same way, on an
// update that happens anyway). A value that is not a time is not this package's and is left alone.
func StaleMarkers(doc bson.Raw, now time.Time) []string {
	d, ok := doc.Lookup(MarkerField).DocumentOK()
	if !ok {
		return nil
	}
	elems, err := d.Elements()
	if err != nil {
		return nil
	}
	horizon := now.Add(-MarkerRetention)
	var stale []string
	for _, e := range elems {
		if at, ok := e.Value().TimeOK(); ok && at.Before(horizon) {
			stale = append(stale, MarkerField+"."+e.Key())
		}
	}
	return stale
}

// clearMarkers removes the claim's markers from the guarded documents, then prunes markers older
// than MarkerRetention that the same documents still hold. One findAndModify per document (which
// returns what is left: no projection, since the local engine has none for it), plus one update
// in the rare case that something is stale. Failures are logged: a marker left behind is only
// kept until the next prune.
func (c *Claim) clearMarkers(ctx context.Context, db *mongo.Database) {
	c.mu.Lock()
	targets := slices.Clone(c.guarded)
	c.mu.Unlock()
	horizon := c.s.now().UTC().Add(-MarkerRetention)
	for _, t := range targets {
		coll := db.Collection(t.collection)
		var left struct {
			Markers map[string]time.Time `bson:"idem"`
		}
		err := coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: t.id}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: MarkerField + "." + c.token, Value: ""}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&left)
		if err != nil {
			c.s.log.WarnContext(ctx, "idempotency marker not removed; it is pruned later",
				"collection", t.collection, "id", t.id, "error", err.Error())
			continue
		}
		stale := bson.D{}
		for _, token := range slices.Sorted(maps.Keys(left.Markers)) {
			if left.Markers[token].Before(horizon) {
				stale = append(stale, bson.E{Key: MarkerField + "." + token, Value: ""})
			}
		}
		if len(stale) == 0 {
			continue
		}
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: t.id}}, bson.D{{Key: "$unset", Value: stale}}); err != nil {
			c.s.log.WarnContext(ctx, "stale idempotency markers not pruned; the next request retries",
				"collection", t.collection, "id", t.id, "markers", len(stale), "error", err.Error())
		} else {
			c.s.log.LogAttrs(ctx, slog.LevelInfo, "stale idempotency markers pruned",
				slog.String("collection", t.collection), slog.Any("id", t.id), slog.Int("markers", len(stale)))
		}
	}
}
