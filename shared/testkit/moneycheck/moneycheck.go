// Package moneycheck reads a user's money as stored (the account, its ledger entries, its orders),
// decoded independently of the money packages' own types, and checks it against their
// invariants: every balance is the sum of the user's entries, those in transactions and those
// still pending in the account (shared/ledger/doc.go); none is negative nor below what is
// available of it; and what an account holds back is what its open orders reserve.
//
// It imports none of the money packages, so that the ledger's own tests can use it; its tests pin
// the collection names and stored shapes it reads to theirs. Test-only: never linked into a
// Lambda binary.
package moneycheck

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// The collections read: the ledger's two and the orders function's.
const (
	accountsCollection     = "accounts"
	transactionsCollection = "transactions"
	ordersCollection       = "orders"
)

// completed is the status of every entry (ledger.StatusCompleted): an entry exists only once its
// change happened.
const completed = "completed"

// Account is an account document (shared/ledger/doc.go), with the fields the orders function
// (open_orders, order_writes) and the idempotency markers (idem) keep in it.
type Account struct {
	ID            string           `bson:"_id"`
	Cash          int64            `bson:"cash"`
	CashAvailable int64            `bson:"cash_available"`
	Holdings      map[string]int64 `bson:"holdings"`
	Available     map[string]int64 `bson:"available"`
	// Pending are committed entries not yet cleaned from the account, by entry id; they may be in
	// transactions already.
	Pending map[string]Entry `bson:"pending"`
	Version int64            `bson:"version"`
	// Open are the open orders' marks, by order id.
	Open map[string]bson.M `bson:"open_orders"`
	// Writes are order documents the orders collection may not show yet (a transition whose
	// follow-up write has not happened), by order id and status.
	Writes  map[string]Order `bson:"order_writes"`
	Markers bson.M           `bson:"idem"`
}

// Entry is a ledger entry, in transactions or in an account's pending map.
type Entry struct {
	ID      string  `bson:"_id"`
	UserID  string  `bson:"user_id"`
	Type    string  `bson:"type"`
	Symbol  string  `bson:"symbol"`
	Amount  int64   `bson:"amount"`
	Price   *int64  `bson:"price"`
	Value   int64   `bson:"value"`
	Status  string  `bson:"status"`
	OrderID *string `bson:"order_id"`
}

// Order is an order document.
type Order struct {
	ID             string `bson:"_id"`
	UserID         string `bson:"user_id"`
	Symbol         string `bson:"symbol"`
	Type           string `bson:"order_type"`
	Side           string `bson:"side"`
	Status         string `bson:"status"`
	Amount         int64  `bson:"amount"`
	FilledPrice    *int64 `bson:"filled_price"`
	Fee            int64  `bson:"fee"`
	Total          int64  `bson:"total"`
	ReservedCash   int64  `bson:"reserved_cash"`
	ReservedAmount int64  `bson:"reserved_amount"`
}

// State is one user's money as stored.
type State struct {
	Account Account
	Entries []Entry // in transactions, in their stored order
	Orders  []Order
}

// readTimeout bounds each read, so that a stuck database fails the test instead of hanging it.
const readTimeout = 60 * time.Second

// Read reads userID's account, entries and orders, failing the test if it cannot. It reads what is
// there: flushing first is the caller's choice.
func Read(t testing.TB, db *mongo.Database, userID string) State {
	t.Helper()
	return State{Account: ReadAccount(t, db, userID), Entries: ReadEntries(t, db, userID), Orders: ReadOrders(t, db, userID)}
}

// ReadAccount reads userID's account, failing the test if there is none.
func ReadAccount(t testing.TB, db *mongo.Database, userID string) Account {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readTimeout)
	defer cancel()
	var acc Account
	if err := db.Collection(accountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: userID}}).Decode(&acc); err != nil {
		t.Fatalf("read account %s: %v", userID, err)
	}
	return acc
}

// ReadEntries reads userID's entries in transactions.
func ReadEntries(t testing.TB, db *mongo.Database, userID string) []Entry {
	t.Helper()
	return find[Entry](t, db, transactionsCollection, userID)
}

// ReadOrders reads userID's orders.
func ReadOrders(t testing.TB, db *mongo.Database, userID string) []Order {
	t.Helper()
	return find[Order](t, db, ordersCollection, userID)
}

func find[T any](t testing.TB, db *mongo.Database, collection, userID string) []T {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readTimeout)
	defer cancel()
	cur, err := db.Collection(collection).Find(ctx, bson.D{{Key: "user_id", Value: userID}})
	if err != nil {
		t.Fatalf("read %s of %s: %v", collection, userID, err)
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		t.Fatalf("decode %s of %s: %v", collection, userID, err)
	}
	return out
}
