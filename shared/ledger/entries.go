package ledger

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

// Paging bounds of Entries (api.md: lists).
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Steps of Entries reported to Ledger.step, so that a test can run a concurrent change exactly
// between its reads.
const (
	stepReadingPending = "reading pending" // the account read is about to be sent
	stepListed         = "listed"          // a page and its count have been read
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
// a change whose clean was deferred, or one that starts within cleanSkew of another process's
// clean — the pending entries are flushed and the page and count read again.
func (l *Ledger) Entries(ctx context.Context, userID string, q EntryQuery) ([]Entry, int64, error) {
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit || q.Offset < 0 {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w: limit %d, offset %d", userID, ErrInvalid, q.Limit, q.Offset)
	}
	// Both are taken before any command is sent: the argument of settled needs every read to
	// happen after them.
	start, ownClean := l.wall(), l.cleans.last(userID)
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

	// The account, the page and the count do not depend on each other: one round trip.
	var (
		wg     sync.WaitGroup
		acc    cleanState
		accErr error
	)
	wg.Go(func() {
		l.stepped(stepReadingPending)
		acc, accErr = readCleanState(ctx, db, userID)
	})
	docs, total, err := l.page(ctx, coll, filter, q)
	wg.Wait()
	if errors.Is(accErr, ErrNoAccount) {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w", userID, ErrNoAccount)
	}
	if err = errors.Join(err, accErr); err != nil {
		return nil, 0, fmt.Errorf("ledger: entries of user %s: %w", userID, err)
	}
	if acc.settled(q, start, ownClean) {
		return entriesOf(docs), total, nil
	}

	// Slow path. Every entry committed before the call is now either pending as just read, or was
	// cleaned before that read, hence in transactions before it: reads sent after it miss none.
	// Pending entries that the first page shows are in transactions already; the others are
	// inserted before the second read (duplicates mean a concurrent flush was faster). Then all
	// of them leave pending, beside the second read.
	pending := pendingDocs(acc.Pending)
	listed := make(map[string]bool, len(docs))
	for _, d := range docs {
		listed[d.ID] = true
	}
	var unlisted []entryDoc
	for _, d := range pending {
		if !listed[d.ID] {
			unlisted = append(unlisted, d)
		}
	}
	if len(unlisted) > 0 {
		if err := insertEntries(ctx, db, unlisted); err != nil {
			return nil, 0, fmt.Errorf("ledger: entries of user %s: flush: %w", userID, err)
		}
		l.stepped(stepInserted)
	}
	if len(pending) > 0 {
		wg.Go(func() {
			// The answer does not depend on this clean: a failure leaves the entries pending (and
			// in transactions) for the next reader or change, as after any interrupted flush.
			if err := l.clearPending(ctx, db, userID, pending); err != nil {
				l.log.WarnContext(ctx, "ledger entries left pending after a read; the next read or change clears them",
					"user_id", userID, "entries", len(pending), "error", err.Error())
			}
		})
	}
	docs, total, err = l.page(ctx, coll, filter, q)
	wg.Wait()
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
	l.stepped(stepListed)
	return docs, total, nil
}

func entriesOf(docs []entryDoc) []Entry {
	entries := make([]Entry, len(docs))
	for i, d := range docs {
		entries[i] = d.entry()
	}
	return entries
}

// cleanState is what Entries reads of the account: its pending entries and its clean stamp.
type cleanState struct {
	Pending   map[string]entryDoc `bson:"pending"`
	CleanedAt time.Time           `bson:"cleaned_at"` // zero: no stamped clean ever
	CleanID   string              `bson:"clean_id"`
}

func readCleanState(ctx context.Context, db *mongo.Database, userID string) (cleanState, error) {
	var s cleanState
	err := db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}},
		options.FindOne().SetProjection(bson.D{{Key: "pending", Value: 1}, {Key: cleanedAtField, Value: 1}, {Key: cleanIDField, Value: 1}})).Decode(&s)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return cleanState{}, ErrNoAccount
	}
	if err != nil {
		return cleanState{}, fmt.Errorf("read pending: %w", err)
	}
	return s, nil
}

// settled reports whether a page and count read in parallel with this account read are exact:
// (a) no pending entry matches the query, and (b) no clean can have happened after the call
// started: the last clean is this Ledger's own, acknowledged before the call started
// (ownClean), or it is stamped earlier than start by more than cleanSkew.
//
// Why that is exact. Let E be an entry the query selects whose change was committed before the
// call started. The commit put E in pending. The account read happens at some instant t1, the
// page and count reads at t0 and t0' (any order; all after the start). By (a), E is not pending at
// t1, so some clean removed it at an instant tc < t1; a clean removes only entries whose insert
// into transactions was acknowledged, and nothing removes an entry from transactions, so E is in
// transactions from tc on. If tc came before t0 and t0', both reads see E. Otherwise tc is after
// the start, and so is the last clean before t1, whose stamp the account read returns: its
// clean_id cannot be a token this Ledger saw acknowledged before the start, and its cleaned_at,
// the server's clock after the start, is at least start - cleanSkew on this process's clock;
// (b) fails either way. So under (a) and (b) both reads see every such E. Entries committed during
// the call may or may not appear, as with any read concurrent with a write; pending entries the
// query does not select do not matter to it and stay pending.
func (s cleanState) settled(q EntryQuery, start time.Time, ownClean string) bool {
	for _, d := range s.Pending {
		if q.matches(d) {
			return false
		}
	}
	if ownClean != "" && s.CleanID == ownClean {
		return true
	}
	return s.CleanedAt.IsZero() || s.CleanedAt.Before(start.Add(-cleanSkew))
}
