package ledger

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/money"
)

func TestEntries(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	e.openAccount(t, "u2") // entries of another user never show
	const btc money.Price = 6_500_012_000_000
	changes := []Change{
		{Entries: []Entry{{Type: TypeDeposit, Symbol: CashSymbol, Amount: 100, Value: 100}}},
		{Entries: []Entry{{Type: TypeBuy, Symbol: "BTC", Amount: 1_000, Price: pricePtr(btc), Value: 651, OrderID: "order-1", Description: "Buy BTC"}, fee(1)}},
		{Entries: []Entry{{Type: TypeAdjustment, Symbol: "ETH", Amount: 5}}},
		{Entries: []Entry{withdrawal(50)}},
	}
	var booked []Entry // in booking order
	for _, c := range changes {
		c.UserID = "u1"
		got, err := e.ledger.Apply(ctx, c)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		booked = append(booked, got...)
	}
	if _, err := e.ledger.Deposit(ctx, "u2", 1, ""); err != nil {
		t.Fatal(err)
	}

	opening := DerivedID("open-account", "u1")
	tests := []struct {
		name  string
		q     EntryQuery
		ids   []string
		total int64
	}{
		{"all, newest first", EntryQuery{}, []string{booked[4].ID, booked[3].ID, booked[2].ID, booked[1].ID, booked[0].ID, opening}, 6},
		{"page", EntryQuery{Limit: 2, Offset: 1}, []string{booked[3].ID, booked[2].ID}, 6},
		{"past the end", EntryQuery{Offset: 10}, nil, 6},
		{"deposits", EntryQuery{Type: TypeDeposit}, []string{booked[0].ID, opening}, 2},
		{"BTC", EntryQuery{Symbol: "BTC"}, []string{booked[1].ID}, 1},
		{"USD fees", EntryQuery{Type: TypeFee, Symbol: CashSymbol}, []string{booked[2].ID}, 1},
		{"nothing", EntryQuery{Type: TypeSell}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := e.ledger.Entries(ctx, "u1", tt.q)
			if err != nil {
				t.Fatalf("Entries: %v", err)
			}
			var ids []string
			for _, en := range got {
				ids = append(ids, en.ID)
			}
			if total != tt.total || len(ids) != len(tt.ids) {
				t.Fatalf("Entries = %v (total %d), want %v (total %d)", ids, total, tt.ids, tt.total)
			}
			for i := range ids {
				if ids[i] != tt.ids[i] {
					t.Fatalf("Entries = %v, want %v", ids, tt.ids)
				}
			}
		})
	}

	// Every field survives the round trip exactly as Apply returned it.
	all, _, err := e.ledger.Entries(ctx, "u1", EntryQuery{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Entry{}
	for _, en := range all {
		byID[en.ID] = en
	}
	for _, want := range booked {
		got := byID[want.ID]
		samePrice := (got.Price == nil) == (want.Price == nil) && (got.Price == nil || *got.Price == *want.Price)
		got.Price, want.Price = nil, nil
		if !samePrice || got != want {
			t.Errorf("stored entry = %+v, want %+v", got, want)
		}
	}

	// null, not "" or 0, for a missing order id and a cash entry's price (api.md).
	var raw bson.M
	if err := e.db.Collection(TransactionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: booked[0].ID}}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if v, ok := raw["order_id"]; !ok || v != nil {
		t.Errorf("order_id = %v (present %v), want null", v, ok)
	}
	if v, ok := raw["price"]; !ok || v != nil {
		t.Errorf("price = %v (present %v), want null", v, ok)
	}
}

func TestEntriesInvalidQuery(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	for _, q := range []EntryQuery{{Limit: -1}, {Limit: MaxLimit + 1}, {Offset: -1}} {
		if _, _, err := e.ledger.Entries(testCtx(t), "u1", q); !errors.Is(err, ErrInvalid) {
			t.Errorf("Entries(%+v) error = %v, want ErrInvalid", q, err)
		}
	}
}
