package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/money"
)

// StartingBalanceDescription is the description of the deposit that opens an account.
const StartingBalanceDescription = "Starting balance"

// Account is a user's balances. Holdings and Available are keyed by coin symbol and may contain
// zero balances (a coin bought and sold again keeps its key); callers list non-zero ones.
type Account struct {
	UserID        string
	Cash          money.USD // all cash
	CashAvailable money.USD // cash not reserved by open buy orders
	Holdings      map[string]money.Quantity
	Available     map[string]money.Quantity // coins not reserved by open sell orders
	// Version counts the updates of the account, as read (a flush done by the read itself is
	// not counted in the returned value).
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// accountDoc is the stored account.
type accountDoc struct {
	ID            string              `bson:"_id"`
	Cash          int64               `bson:"cash"`
	CashAvailable int64               `bson:"cash_available"`
	Holdings      map[string]int64    `bson:"holdings"`
	Available     map[string]int64    `bson:"available"`
	Pending       map[string]entryDoc `bson:"pending"`
	Version       int64               `bson:"version"`
	CreatedAt     time.Time           `bson:"created_at"`
	UpdatedAt     time.Time           `bson:"updated_at"`
}

// field returns the value of a condition's field; ok is false for a missing map key.
func (d accountDoc) field(name string) (v int64, ok bool) {
	group, sym, _ := strings.Cut(name, ".")
	switch group {
	case "cash":
		return d.Cash, true
	case "cash_available":
		return d.CashAvailable, true
	case "holdings":
		v, ok = d.Holdings[sym]
	case "available":
		v, ok = d.Available[sym]
	}
	return v, ok
}

func (d accountDoc) account() Account {
	a := Account{
		UserID: d.ID, Cash: money.USD(d.Cash), CashAvailable: money.USD(d.CashAvailable),
		Holdings:  make(map[string]money.Quantity, len(d.Holdings)),
		Available: make(map[string]money.Quantity, len(d.Available)),
		Version:   d.Version, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	for k, v := range d.Holdings {
		a.Holdings[k] = money.Quantity(v)
	}
	for k, v := range d.Available {
		a.Available[k] = money.Quantity(v)
	}
	return a
}

// OpenAccount creates the user's account holding startingCash, booked as a deposit entry
// "Starting balance". It is idempotent: the account and its opening deposit are one document
// insert (the entry pending inside it, with an id derived from the user id), so the deposit
// exists exactly when the account does; calling OpenAccount again — after a crash mid-signup,
// say — inserts nothing (duplicate key), finishes any flush the crash interrupted, and returns
// nil. A later call with a different startingCash changes nothing. It returns once the deposit
// is flushed (recorded and cleared); CommitOpening returns after the insert.
func (l *Ledger) OpenAccount(ctx context.Context, userID string, startingCash money.USD) error {
	cm, err := l.CommitOpening(ctx, userID, startingCash)
	if err != nil {
		return err
	}
	if cm.reopen {
		// Opened before: Record is the courtesy flush of a deposit a crashed call left pending.
		if err := cm.Record(ctx); err != nil {
			l.log.WarnContext(ctx, "ledger flush after repeated open failed; the next read flushes",
				"user_id", userID, "error", err.Error())
		}
		return nil
	}
	db, err := l.db(ctx)
	if err != nil {
		// The account is open; only its flush is left, to the next reader.
		l.log.WarnContext(ctx, "ledger entries left pending; the next read flushes them",
			"user_id", userID, "entries", len(cm.docs), "error", err.Error())
		return nil
	}
	l.flushCommitted(ctx, db, userID, cm.docs)
	return nil
}

// CommitOpening is OpenAccount's first step alone, as Commit is Apply's: the account insert, with
// the opening deposit pending inside it, is the point of no return. The caller runs the returned
// Committed's Record (the deposit into transactions) beside writes of its own, and the deposit's
// clearing from pending rides on the account's next update through this Ledger, as after a
// Commit; until then every reader finds the deposit pending and flushes it (the first read of the
// new account pays that). A crash after the insert leaves the deposit pending, which the invariant
// allows.
//
// When the account exists already (a retried signup, a login finishing an interrupted one), it
// inserts nothing and returns a Committed without Entries, Account or Doc, whose Record flushes
// whatever the account holds pending: a deposit left pending by a crash is repaired from the
// stored account, never rebuilt from this call's arguments (the amount or time may differ).
func (l *Ledger) CommitOpening(ctx context.Context, userID string, startingCash money.USD) (*Committed, error) {
	if !validUserID(userID) {
		return nil, fmt.Errorf("ledger: open account: %w: bad user id", ErrInvalid)
	}
	if startingCash < 0 || startingCash > money.MaxUSD {
		return nil, fmt.Errorf("ledger: open account for user %s: %w: starting cash out of range", userID, ErrInvalid)
	}
	now := l.timestamp()
	var entries []Entry
	var docs []entryDoc
	pending := bson.D{}
	if startingCash > 0 {
		e := Entry{
			ID: DerivedID("open-account", userID), UserID: userID, Type: TypeDeposit, Symbol: CashSymbol,
			Amount: int64(startingCash), Value: startingCash, Description: StartingBalanceDescription,
			Status: StatusCompleted, CreatedAt: now,
		}
		d := e.doc()
		entries, docs = append(entries, e), append(docs, d)
		pending = append(pending, bson.E{Key: d.ID, Value: d})
	}
	db, err := l.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: open account for user %s: %w", userID, err)
	}
	account := bson.D{
		{Key: "_id", Value: userID},
		{Key: "cash", Value: int64(startingCash)},
		{Key: "cash_available", Value: int64(startingCash)},
		{Key: "holdings", Value: bson.D{}},
		{Key: "available", Value: bson.D{}},
		{Key: "pending", Value: pending},
		{Key: "version", Value: int64(1)},
		{Key: "created_at", Value: now},
		{Key: "updated_at", Value: now},
	}
	_, err = db.Collection(AccountsCollection).InsertOne(ctx, account)
	switch {
	case err == nil:
		l.stepped(stepCommitted)
		cm := &Committed{Entries: entries, l: l, userID: userID, docs: docs, Account: accountDoc{
			ID: userID, Cash: int64(startingCash), CashAvailable: int64(startingCash), Version: 1, CreatedAt: now, UpdatedAt: now,
		}.account()}
		if raw, err := bson.Marshal(account); err == nil {
			cm.Doc = raw
		}
		return cm, nil
	case mongo.IsDuplicateKeyError(err):
		return &Committed{l: l, userID: userID, reopen: true}, nil
	default:
		return nil, fmt.Errorf("ledger: open account for user %s: %w", userID, err)
	}
}

// Account returns the user's balances, or ErrNoAccount. It is one read; when the account has
// pending entries it also flushes them, and a failure of that flush is logged, not returned: the
// balances read already include every committed change, pending or not. Entries this Ledger
// recorded itself (Committed.Record) are not flushed again: they are in transactions, and their
// clean already rides on the account's next update through this Ledger, so flushing them would
// only add two round trips to the read that follows a change (a removal reading the holding its
// own instance just added, say).
func (l *Ledger) Account(ctx context.Context, userID string) (Account, error) {
	db, err := l.db(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account of user %s: %w", userID, err)
	}
	var doc accountDoc
	err = db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Account{}, fmt.Errorf("ledger: account of user %s: %w", userID, ErrNoAccount)
	}
	if err != nil {
		return Account{}, fmt.Errorf("ledger: account of user %s: %w", userID, err)
	}
	if docs := l.unrecorded(userID, doc.Pending); len(docs) > 0 {
		if err := l.flushEntries(ctx, db, userID, docs); err != nil {
			l.log.WarnContext(ctx, "ledger flush on read failed; entries stay pending",
				"user_id", userID, "entries", len(docs), "error", err.Error())
		}
	}
	return doc.account(), nil
}

// unrecorded lists the pending entries that this Ledger does not know to be in transactions: all
// but those whose clean it holds deferred (added by Record once their insert was acknowledged).
// The memory is a hint: an entry it forgot is flushed again, which is only a duplicate insert.
func (l *Ledger) unrecorded(userID string, pending map[string]entryDoc) []entryDoc {
	if len(pending) == 0 {
		return nil
	}
	known := l.later.pending(userID)
	docs := pendingDocs(pending)
	out := docs[:0]
	for _, d := range docs {
		if _, ok := slices.BinarySearch(known, "pending."+d.ID); !ok {
			out = append(out, d)
		}
	}
	return out
}
