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
// nil. A later call with a different startingCash changes nothing.
func (l *Ledger) OpenAccount(ctx context.Context, userID string, startingCash money.USD) error {
	if !validUserID(userID) {
		return fmt.Errorf("ledger: open account: %w: bad user id", ErrInvalid)
	}
	if startingCash < 0 || startingCash > money.MaxUSD {
		return fmt.Errorf("ledger: open account for user %s: %w: starting cash out of range", userID, ErrInvalid)
	}
	now := l.timestamp()
	var docs []entryDoc
	pending := bson.D{}
	if startingCash > 0 {
		d := Entry{
			ID: DerivedID("open-account", userID), UserID: userID, Type: TypeDeposit, Symbol: CashSymbol,
			Amount: int64(startingCash), Value: startingCash, Description: StartingBalanceDescription,
			Status: StatusCompleted, CreatedAt: now,
		}.doc()
		docs = append(docs, d)
		pending = append(pending, bson.E{Key: d.ID, Value: d})
	}
	db, err := l.db(ctx)
	if err != nil {
		return fmt.Errorf("ledger: open account for user %s: %w", userID, err)
	}
	_, err = db.Collection(AccountsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: userID},
		{Key: "cash", Value: int64(startingCash)},
		{Key: "cash_available", Value: int64(startingCash)},
		{Key: "holdings", Value: bson.D{}},
		{Key: "available", Value: bson.D{}},
		{Key: "pending", Value: pending},
		{Key: "version", Value: int64(1)},
		{Key: "created_at", Value: now},
		{Key: "updated_at", Value: now},
	})
	switch {
	case err == nil:
		l.stepped(stepCommitted)
		l.flushCommitted(ctx, db, userID, docs)
		return nil
	case mongo.IsDuplicateKeyError(err):
		// Opened before. Its opening deposit may still be pending if that call crashed: flush
		// now, as a courtesy; a failure is left to the next reader, like after any commit.
		if err := l.Flush(ctx, userID); err != nil {
			l.log.WarnContext(ctx, "ledger flush after repeated open failed; the next read flushes",
				"user_id", userID, "error", err.Error())
		}
		return nil
	default:
		return fmt.Errorf("ledger: open account for user %s: %w", userID, err)
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
