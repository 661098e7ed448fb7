package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Steps of a settled read reported to Ledger.step, so that a test can run a concurrent change
// exactly between its reads.
const (
	stepReadingPending = "reading pending" // the account read is about to be sent
	stepListed         = "listed"          // the caller's read of transactions has answered
)

// ReadSettled runs read, the caller's own read of userID's entries in transactions (a sum, a
// count), so that it sees every entry of the given types (none: every type) whose change was
// committed before the call, and returns the account as read beside it. It is the rule of Entries
// for reads that the ledger does not answer itself (see "Reading the ledger" in the package
// documentation): the account is read in parallel with read, and when the account shows that an
// entry of those types may have been missed — one is pending, or a clean happened after the call
// started — the pending entries are flushed and read runs again. So read may run twice; only
// the last run's results stand, and it must not depend on the first. Its error is returned
// wrapped. ErrNoAccount if the user has none.
//
// One round trip of latency when nothing can have been missed, as Entries; otherwise a second
// run of read, after an insert of the pending entries when there are any.
func (l *Ledger) ReadSettled(ctx context.Context, userID string, types []EntryType, read func(ctx context.Context) error) (Account, error) {
	selects := func(d entryDoc) bool { return len(types) == 0 || slices.Contains(types, EntryType(d.Type)) }
	acc, err := l.settledRead(ctx, userID, selects, func(ctx context.Context) (map[string]bool, error) {
		return nil, read(ctx)
	})
	if err != nil {
		return Account{}, fmt.Errorf("ledger: read of user %s: %w", userID, err)
	}
	return acc.account(), nil
}

// settledRead is the mechanism of Entries and ReadSettled. It runs read, a read of the user's
// entries in transactions, beside a read of the account (balances, pending entries, clean
// stamp), and keeps what read saw when settled says that no entry selects accepts can have
// been missed. Otherwise every entry committed before the call is now either pending as just
// read, or was cleaned before that read, hence in transactions before it: reads sent after it
// miss none. The pending entries that read reports as seen (seen[id]: they are in transactions
// already) are skipped, the others are inserted before read runs again (duplicates mean a
// concurrent flush was faster); then all of them leave pending, beside the second read. A
// failure of that clean is only logged: the answer does not depend on it.
//
// It returns the account as the first account read found it. Errors are not wrapped with the
// user id: the callers do that.
func (l *Ledger) settledRead(ctx context.Context, userID string, selects func(entryDoc) bool,
	read func(ctx context.Context) (seen map[string]bool, err error)) (accountDoc, error) {
	// These are taken before any command is sent: the argument of settled needs every read to
	// happen after them.
	start, ownClean, recorded := l.wall(), l.cleans.last(userID), l.later.pending(userID)
	db, err := l.db(ctx)
	if err != nil {
		return accountDoc{}, err
	}

	// The account and the caller's read do not depend on each other: one round trip.
	var (
		wg     sync.WaitGroup
		acc    accountState
		accErr error
	)
	wg.Go(func() {
		l.stepped(stepReadingPending)
		acc, accErr = readAccountState(ctx, db, userID)
	})
	seen, err := read(ctx)
	if err == nil {
		l.stepped(stepListed)
	}
	wg.Wait()
	if errors.Is(accErr, ErrNoAccount) {
		return accountDoc{}, ErrNoAccount
	}
	if err = errors.Join(err, accErr); err != nil {
		return accountDoc{}, err
	}
	if acc.clean().without(recorded).settled(selects, start, ownClean) {
		return acc.Doc, nil
	}

	// Slow path: see the function documentation.
	pending := pendingDocs(acc.Doc.Pending)
	var unseen []entryDoc
	for _, d := range pending {
		if !seen[d.ID] {
			unseen = append(unseen, d)
		}
	}
	if len(unseen) > 0 {
		if err := insertEntries(ctx, db, unseen); err != nil {
			return accountDoc{}, fmt.Errorf("flush: %w", err)
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
	_, err = read(ctx)
	if err == nil {
		l.stepped(stepListed)
	}
	wg.Wait()
	if err != nil {
		return accountDoc{}, err
	}
	return acc.Doc, nil
}

// accountState is what a settled read reads of the account: its balances (the fields of
// accountDoc) and its clean stamp. The projection leaves out what other packages keep in the
// account (order marks, idempotency markers), which no reader of the ledger needs.
type accountState struct {
	Doc       accountDoc `bson:",inline"`
	CleanedAt time.Time  `bson:"cleaned_at"` // zero: no stamped clean ever
	CleanID   string     `bson:"clean_id"`
}

func (s accountState) clean() cleanState {
	return cleanState{Pending: s.Doc.Pending, CleanedAt: s.CleanedAt, CleanID: s.CleanID}
}

var accountStateProjection = func() bson.D {
	var p bson.D
	for _, f := range []string{"cash", "cash_available", "holdings", "available", "pending", "version",
		"created_at", "updated_at", cleanedAtField, cleanIDField} {
		p = append(p, bson.E{Key: f, Value: 1})
	}
	return p
}()

func readAccountState(ctx context.Context, db *mongo.Database, userID string) (accountState, error) {
	var s accountState
	err := db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}},
		options.FindOne().SetProjection(accountStateProjection)).Decode(&s)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return accountState{}, ErrNoAccount
	}
	if err != nil {
		return accountState{}, fmt.Errorf("read pending: %w", err)
	}
	return s, nil
}

// cleanState is what the settled decision needs of the account: its pending entries and its
// clean stamp.
type cleanState struct {
	Pending   map[string]entryDoc
	CleanedAt time.Time // zero: no stamped clean ever
	CleanID   string
}

// without drops from the pending entries those whose path ("pending.<id>") is in recorded, a
// sorted list of the deferred unsets this Ledger held when the call started (Record adds an
// entry's path only once its insert into transactions is acknowledged). Every read of the call is
// sent after that acknowledgement, so each of them sees those entries: for the settled decision
// they are as good as cleaned before the start, and the first read after this instance's own
// change keeps its one round trip. The slow path, when taken for another reason, still treats
// them as pending (their insert is then a duplicate).
func (s cleanState) without(recorded []string) cleanState {
	if len(recorded) == 0 || len(s.Pending) == 0 {
		return s
	}
	left := make(map[string]entryDoc, len(s.Pending))
	for id, d := range s.Pending {
		if _, ok := slices.BinarySearch(recorded, "pending."+id); !ok {
			left[id] = d
		}
	}
	s.Pending = left
	return s
}

// settled reports whether a read of transactions made in parallel with this account read is
// exact for the entries that selects accepts: (a) no pending entry is selected, and (b) no clean
// can have happened after the call started: the last clean is this Ledger's own, acknowledged
// before the call started (ownClean), or it is stamped earlier than start by more than cleanSkew.
//
// Why that is exact. Let E be a selected entry whose change was committed before the call
// started. The commit put E in pending. The account read happens at some instant t1, the reads of
// transactions at t0, t0', ... (any order; all after the start). By (a), E is not pending at t1,
// so some clean removed it at an instant tc < t1; a clean removes only entries whose insert into
// transactions was acknowledged, and nothing removes an entry from transactions, so E is in
// transactions from tc on. If tc came before every t0, they all see E. Otherwise tc is after the
// start, and so is the last clean before t1, whose stamp the account read returns: its clean_id
// cannot be a token this Ledger saw acknowledged before the start, and its cleaned_at, the
// server's clock after the start, is at least start - cleanSkew on this process's clock; (b)
// fails either way. So under (a) and (b) every read sees every such E. Entries committed during
// the call may or may not appear, as with any read concurrent with a write; pending entries that
// selects rejects do not matter to the read and stay pending.
func (s cleanState) settled(selects func(entryDoc) bool, start time.Time, ownClean string) bool {
	for _, d := range s.Pending {
		if selects(d) {
			return false
		}
	}
	if ownClean != "" && s.CleanID == ownClean {
		return true
	}
	return s.CleanedAt.IsZero() || s.CleanedAt.Before(start.Add(-cleanSkew))
}
