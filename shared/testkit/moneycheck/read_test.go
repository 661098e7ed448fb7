package moneycheck

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
	"github.com/cryptovault/serverless/shared/trading"
)

// The names this package reads are the packages' own.
func TestNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{accountsCollection, ledger.AccountsCollection},
		{transactionsCollection, ledger.TransactionsCollection},
		{ordersCollection, trading.OrdersCollection},
		{completed, ledger.StatusCompleted},
	} {
		if c.got != c.want {
			t.Errorf("%q, the packages say %q", c.got, c.want)
		}
	}
}

// TestReadDoctored reads accounts as the ledger stores them, each with an entry left pending (a
// commit whose follow-up did not run), and doctored behind the ledger's back: the check must find
// each change.
func TestReadDoctored(t *testing.T) {
	srv := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, srv.URI(), nil), app.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d := env.Deps
	app.EnsureIndexes(ctx, d, ledger.Indexes())
	db, err := d.Mongo.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(d.Mongo.Database, ledger.Options{Logger: d.Logger})
	price := money.Price(6_000_000_000_000)

	tests := []struct {
		name   string
		update bson.D // applied to the account document; nil leaves it as the ledger wrote it
		want   []string
	}{
		{"as the ledger left it", nil, nil},
		{"cash doctored", bson.D{{Key: "$inc", Value: bson.D{{Key: "cash", Value: 1}, {Key: "cash_available", Value: 1}}}},
			[]string{"cash 1000201, the ledger says 1000200"}},
		{"a holding doctored", bson.D{{Key: "$inc", Value: bson.D{{Key: "holdings.BTC", Value: -1}, {Key: "available.BTC", Value: -1}}}},
			[]string{"holdings.BTC 49999999, the ledger says 50000000"}},
		{"more available than held", bson.D{{Key: "$inc", Value: bson.D{{Key: "available.BTC", Value: 1}}}},
			[]string{"holdings.BTC 50000000, available 50000001: negative or available above the balance"}},
		{"the pending entry dropped", bson.D{{Key: "$set", Value: bson.D{{Key: "pending", Value: bson.D{}}}}},
			[]string{"cash 1000200, the ledger says 1000000"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := fmt.Sprintf("u%d", i)
			if err := l.OpenAccount(ctx, user, 1_000_000); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Apply(ctx, ledger.Change{UserID: user, Entries: []ledger.Entry{
				{Type: ledger.TypeAdjustment, Symbol: "BTC", Amount: 50_000_000, Price: &price, Value: 3_000_000},
			}}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Commit(ctx, ledger.Change{UserID: user, Entries: []ledger.Entry{
				{Type: ledger.TypeDeposit, Symbol: ledger.CashSymbol, Amount: 200, Value: 200},
			}}); err != nil {
				t.Fatal(err)
			}
			if tt.update != nil {
				if _, err := db.Collection(ledger.AccountsCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: user}}, tt.update); err != nil {
					t.Fatal(err)
				}
			}

			s := Read(t, db, user)
			if len(s.Entries) != 2 || s.Entries[1].Price == nil || *s.Entries[1].Price != int64(price) {
				t.Fatalf("entries %+v, want the opening deposit and the adjustment", s.Entries)
			}
			assertErrors(t, s.Balances(), tt.want)
			if tt.update == nil {
				assertErrors(t, s.Flushed(), []string{"1 entries still pending"})
				if err := l.Flush(ctx, user); err != nil {
					t.Fatal(err)
				}
				s = Read(t, db, user)
				assertErrors(t, s.Flushed(), nil)
				assertErrors(t, s.Balances(), nil)
			}
		})
	}
}
