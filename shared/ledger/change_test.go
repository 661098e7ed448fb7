package ledger

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/testkit/moneycheck"
)

func withdrawal(cents int64) Entry {
	return Entry{Type: TypeWithdrawal, Symbol: CashSymbol, Amount: cents, Value: money.USD(cents)}
}

func fee(cents int64) Entry {
	return Entry{Type: TypeFee, Symbol: CashSymbol, Amount: cents, Value: money.USD(cents)}
}

func trade(typ EntryType, sym string, q money.Quantity, p money.Price, value money.USD) Entry {
	return Entry{Type: typ, Symbol: sym, Amount: int64(q), Price: pricePtr(p), Value: value}
}

// TestApplySequence walks one account through the changes the trading issue will make, each step
// checking the balances or the refusal, and the invariant at the end.
func TestApplySequence(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1") // 10000.00

	const btcPrice money.Price = 6_500_012_000_000 // 65000.12
	buy, err := money.QuoteBuy(50_000_000, btcPrice)
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		cash, cashAvail int64
		btc, btcAvail   int64
	}
	steps := []struct {
		name   string
		change Change
		err    error
		want   state
	}{
		{"withdraw 1000.00", Change{Entries: []Entry{withdrawal(100_000)}}, nil,
			state{900_000, 900_000, 0, 0}},
		{"withdraw more than the cash", Change{Entries: []Entry{withdrawal(900_001)}}, ErrInsufficientFunds,
			state{900_000, 900_000, 0, 0}},
		{"sell BTC never held (missing key)", Change{Entries: []Entry{trade(TypeSell, "BTC", 1, btcPrice, 0)}}, ErrInsufficientFunds,
			state{900_000, 900_000, 0, 0}},
		{"buy 0.5 BTC costing more than the cash", Change{Entries: []Entry{trade(TypeBuy, "BTC", 50_000_000, btcPrice, buy.Value), fee(int64(buy.Fee))}}, ErrInsufficientFunds,
			state{900_000, 900_000, 0, 0}},
		{"adjustment adds 0.5 BTC held elsewhere", Change{Entries: []Entry{{Type: TypeAdjustment, Symbol: "BTC", Amount: 50_000_000, Price: pricePtr(btcPrice), Value: 3_250_006}}}, nil,
			state{900_000, 900_000, 50_000_000, 50_000_000}},
		{"reserve 0.2 BTC for a limit sell", Change{ReserveHoldings: map[string]money.Quantity{"BTC": 20_000_000}}, nil,
			state{900_000, 900_000, 50_000_000, 30_000_000}},
		{"market sell 0.4 BTC: only 0.3 available", Change{Entries: []Entry{trade(TypeSell, "BTC", 40_000_000, 100_000_000_000, 40_000), fee(40)}}, ErrInsufficientFunds,
			state{900_000, 900_000, 50_000_000, 30_000_000}},
		{"fill the limit sell: 0.2 BTC at 1000.00", Change{
			Entries:         []Entry{trade(TypeSell, "BTC", 20_000_000, 100_000_000_000, 20_000), fee(20)},
			ReserveHoldings: map[string]money.Quantity{"BTC": -20_000_000}}, nil,
			state{919_980, 919_980, 30_000_000, 30_000_000}},
		{"reserve 9000.00 for a limit buy", Change{ReserveCash: 900_000}, nil,
			state{919_980, 19_980, 30_000_000, 30_000_000}},
		{"withdraw more than available (but less than cash)", Change{Entries: []Entry{withdrawal(20_000)}}, ErrInsufficientFunds,
			state{919_980, 19_980, 30_000_000, 30_000_000}},
		{"reserve more than available", Change{ReserveCash: 19_981}, ErrInsufficientFunds,
			state{919_980, 19_980, 30_000_000, 30_000_000}},
		{"fill the limit buy below its reservation: the rest is released", Change{
			Entries:     []Entry{trade(TypeBuy, "ETH", 300_000_000, 280_000_000_000, 840_000), fee(840)},
			ReserveCash: -900_000}, nil,
			state{79_140, 79_140, 30_000_000, 30_000_000}},
		{"remove the whole BTC holding", Change{Entries: []Entry{{Type: TypeAdjustment, Symbol: "BTC", Amount: -30_000_000}}}, nil,
			state{79_140, 79_140, 0, 0}},
		{"remove it again", Change{Entries: []Entry{{Type: TypeAdjustment, Symbol: "BTC", Amount: -1}}}, ErrInsufficientFunds,
			state{79_140, 79_140, 0, 0}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change.UserID = "u1"
			before := moneycheck.ReadAccount(t, e.db, "u1").Version
			entries, err := e.ledger.Apply(ctx, st.change)
			if !errors.Is(err, st.err) || (st.err == nil && err != nil) {
				t.Fatalf("Apply error = %v, want %v", err, st.err)
			}
			if err == nil && len(entries) != len(st.change.Entries) {
				t.Fatalf("Apply returned %d entries, want %d", len(entries), len(st.change.Entries))
			}
			acc := moneycheck.ReadAccount(t, e.db, "u1")
			got := state{acc.Cash, acc.CashAvailable, acc.Holdings["BTC"], acc.Available["BTC"]}
			if got != st.want {
				t.Fatalf("state = %+v, want %+v", got, st.want)
			}
			if err != nil && acc.Version != before {
				t.Fatalf("a refused change moved the version from %d to %d", before, acc.Version)
			}
			if err == nil && acc.Version <= before {
				t.Fatalf("version %d after a change, was %d", acc.Version, before)
			}
		})
	}
	acc := moneycheck.ReadAccount(t, e.db, "u1")
	if acc.Holdings["ETH"] != 300_000_000 || acc.Available["ETH"] != 300_000_000 {
		t.Fatalf("ETH = %d / %d, want 3 coins", acc.Holdings["ETH"], acc.Available["ETH"])
	}
	assertInvariant(t, e.db, "u1")
}

// TestConcurrentDebits: 50 concurrent withdrawals of 1000.00 from 10000.00: exactly 10 succeed,
// the others are refused, and the balance ends at zero, never below.
func TestConcurrentDebits(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	other := e.newLedger(newClient(t, e.srv, 5*time.Second, nil))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		l := e.ledger
		if i%2 == 1 {
			l = other
		}
		wg.Go(func() {
			_, err := l.Apply(testCtx(t), Change{UserID: "u1", Entries: []Entry{withdrawal(100_000)}})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrInsufficientFunds):
				refused.Add(1)
			default:
				t.Errorf("Apply: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || refused.Load() != 40 {
		t.Fatalf("%d succeeded, %d refused; want 10 and 40", ok.Load(), refused.Load())
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Cash != 0 || acc.CashAvailable != 0 {
		t.Fatalf("cash %d, available %d; want 0", acc.Cash, acc.CashAvailable)
	}
	assertInvariant(t, e.db, "u1")
}

// TestApplyPrecondition: the shape the idempotency issue will use — a marker set by the change
// itself and required absent by its filter — applies a change at most once.
func TestApplyPrecondition(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	change := Change{
		UserID:  "u1",
		Entries: []Entry{withdrawal(500)},
		Filter:  bson.D{{Key: "idem.k1", Value: bson.D{{Key: "$exists", Value: false}}}},
		Set:     bson.D{{Key: "idem.k1", Value: "in-progress"}},
	}
	if _, err := e.ledger.Apply(testCtx(t), change); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	if _, err := e.ledger.Apply(testCtx(t), change); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("second Apply error = %v, want ErrPrecondition", err)
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Cash != int64(startCash)-500 {
		t.Fatalf("cash %d, want one withdrawal", acc.Cash)
	}
	assertInvariant(t, e.db, "u1")
}

// TestApplyCallerIDPending: a caller-chosen entry id that is still pending cannot be committed a
// second time.
func TestApplyCallerIDPending(t *testing.T) {
	e := newTestEnv(t)
	ctx := testCtx(t)
	e.openAccount(t, "u1")
	e.srv.Inject(devdb.Fault{Command: "insert", Times: 1, ErrorCode: 91})
	d := withdrawal(700)
	d.ID = "fill-order-42"
	entries, err := e.ledger.Apply(ctx, Change{UserID: "u1", Entries: []Entry{d}})
	if err != nil || entries[0].ID != "fill-order-42" {
		t.Fatalf("first Apply = %v, %v", entries, err)
	}
	if _, err := e.ledger.Apply(ctx, Change{UserID: "u1", Entries: []Entry{d}}); !errors.Is(err, ErrDuplicateEntry) {
		t.Fatalf("second Apply error = %v, want ErrDuplicateEntry", err)
	}
	mustFlush(t, e.ledger, "u1")
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Cash != int64(startCash)-700 {
		t.Fatalf("cash %d, want one withdrawal", acc.Cash)
	}
	assertInvariant(t, e.db, "u1")
}

func TestApplyInvalid(t *testing.T) {
	e := newTestEnv(t)
	e.openAccount(t, "u1")
	seventeen := make([]Entry, 17)
	for i := range seventeen {
		seventeen[i] = withdrawal(1)
	}
	dup := withdrawal(1)
	dup.ID = "same"
	tests := []struct {
		name   string
		change Change
	}{
		{"no user", Change{Entries: []Entry{withdrawal(1)}}},
		{"changes nothing", Change{UserID: "u1"}},
		{"too many entries", Change{UserID: "u1", Entries: seventeen}},
		{"same id twice", Change{UserID: "u1", Entries: []Entry{dup, dup}}},
		{"entry of another user", Change{UserID: "u1", Entries: []Entry{{UserID: "u2", Type: TypeDeposit, Symbol: CashSymbol, Amount: 1, Value: 1}}}},
		{"entry with another status", Change{UserID: "u1", Entries: []Entry{{Status: "pending", Type: TypeDeposit, Symbol: CashSymbol, Amount: 1, Value: 1}}}},
		{"invalid entry", Change{UserID: "u1", Entries: []Entry{{Type: TypeDeposit, Symbol: "BTC", Amount: 1, Value: 1}}}},
		{"reservation of a bad symbol", Change{UserID: "u1", ReserveHoldings: map[string]money.Quantity{"btc": 1}}},
		{"reservation out of range", Change{UserID: "u1", ReserveCash: money.MaxUSD + 1}},
		{"filter on cash", Change{UserID: "u1", Entries: []Entry{withdrawal(1)}, Filter: bson.D{{Key: "cash", Value: 5}}}},
		{"filter on a holding", Change{UserID: "u1", Entries: []Entry{withdrawal(1)}, Filter: bson.D{{Key: "holdings.BTC", Value: 5}}}},
		{"filter operator", Change{UserID: "u1", Entries: []Entry{withdrawal(1)}, Filter: bson.D{{Key: "$or", Value: bson.A{}}}}},
		{"set pending", Change{UserID: "u1", Set: bson.D{{Key: "pending.x", Value: 1}}}},
		{"set version", Change{UserID: "u1", Set: bson.D{{Key: "version", Value: 0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.ledger.Apply(testCtx(t), tt.change); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Apply error = %v, want ErrInvalid", err)
			}
		})
	}
	if acc := moneycheck.ReadAccount(t, e.db, "u1"); acc.Version != 2 { // the insert (1) and the opening flush (2)
		t.Fatalf("version %d: an invalid change was sent", acc.Version)
	}
	assertInvariant(t, e.db, "u1")
}
