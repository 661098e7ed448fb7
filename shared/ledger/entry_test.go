package ledger

import (
	"regexp"
	"testing"

	"github.com/cryptovault/serverless/shared/money"
)

func TestDerivedID(t *testing.T) {
	hex24 := regexp.MustCompile(`^[0-9a-f]{24}$`)
	a := DerivedID("open-account", "u1")
	if !hex24.MatchString(a) || !validID(a) {
		t.Fatalf("DerivedID = %q, want 24 lowercase hex", a)
	}
	if DerivedID("open-account", "u1") != a {
		t.Fatal("DerivedID is not deterministic")
	}
	distinct := map[string][]string{}
	for _, parts := range [][]string{{"open-account", "u2"}, {"ab", "c"}, {"a", "bc"}, {"abc"}, {"abc", ""}} {
		id := DerivedID(parts...)
		if prev, ok := distinct[id]; ok || id == a {
			t.Fatalf("DerivedID(%q) collides with %q", parts, prev)
		}
		distinct[id] = parts
	}
}

func TestEntryEffect(t *testing.T) {
	p := pricePtr(6_500_012_000_000)
	tests := []struct {
		name        string
		e           Entry
		cash, coins int64
	}{
		{"deposit", Entry{Type: TypeDeposit, Amount: 500}, 500, 0},
		{"withdrawal", Entry{Type: TypeWithdrawal, Amount: 500}, -500, 0},
		{"fee", Entry{Type: TypeFee, Amount: 3251}, -3251, 0},
		{"buy", Entry{Type: TypeBuy, Symbol: "BTC", Amount: 50_000_000, Price: p, Value: 3_250_006}, -3_250_006, 50_000_000},
		{"sell", Entry{Type: TypeSell, Symbol: "BTC", Amount: 50_000_000, Price: p, Value: 3_250_006}, 3_250_006, -50_000_000},
		{"adjustment out", Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: -7, Value: -1}, 0, -7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, q := tt.e.effect(); c != tt.cash || q != tt.coins {
				t.Fatalf("effect = %d, %d; want %d, %d", c, q, tt.cash, tt.coins)
			}
		})
	}
}

func TestEntryValidate(t *testing.T) {
	p := pricePtr(100_000_000)
	ok := func(e Entry) Entry { e.ID = "0123456789abcdef01234567"; return e }
	tests := []struct {
		name  string
		e     Entry
		valid bool
	}{
		{"deposit", ok(Entry{Type: TypeDeposit, Symbol: "USD", Amount: 1, Value: 1}), true},
		{"buy", ok(Entry{Type: TypeBuy, Symbol: "BTC", Amount: 1, Price: p, Value: 1}), true},
		{"sell worth nothing", ok(Entry{Type: TypeSell, Symbol: "BTC", Amount: 1, Price: p, Value: 0}), true},
		{"adjustment without price", ok(Entry{Type: TypeAdjustment, Symbol: "1INCH", Amount: -5}), true},
		{"deposit with coin symbol", ok(Entry{Type: TypeDeposit, Symbol: "BTC", Amount: 1, Value: 1}), false},
		{"deposit value differs", ok(Entry{Type: TypeDeposit, Symbol: "USD", Amount: 1, Value: 2}), false},
		{"deposit zero", ok(Entry{Type: TypeDeposit, Symbol: "USD"}), false},
		{"deposit too large", ok(Entry{Type: TypeDeposit, Symbol: "USD", Amount: int64(money.MaxUSD) + 1, Value: money.MaxUSD + 1}), false},
		{"fee with price", ok(Entry{Type: TypeFee, Symbol: "USD", Amount: 1, Value: 1, Price: p}), false},
		{"buy in USD", ok(Entry{Type: TypeBuy, Symbol: "USD", Amount: 1, Price: p, Value: 1}), false},
		{"buy lower-case symbol", ok(Entry{Type: TypeBuy, Symbol: "btc", Amount: 1, Price: p, Value: 1}), false},
		{"buy dotted symbol", ok(Entry{Type: TypeBuy, Symbol: "B.TC", Amount: 1, Price: p, Value: 1}), false},
		{"buy without price", ok(Entry{Type: TypeBuy, Symbol: "BTC", Amount: 1, Value: 1}), false},
		{"buy negative", ok(Entry{Type: TypeBuy, Symbol: "BTC", Amount: -1, Price: p, Value: 1}), false},
		{"sell negative value", ok(Entry{Type: TypeSell, Symbol: "BTC", Amount: 1, Price: p, Value: -1}), false},
		{"adjustment zero", ok(Entry{Type: TypeAdjustment, Symbol: "BTC"}), false},
		{"adjustment too large", ok(Entry{Type: TypeAdjustment, Symbol: "BTC", Amount: -int64(money.MaxQuantity) - 1}), false},
		{"unknown type", ok(Entry{Type: "gift", Symbol: "USD", Amount: 1, Value: 1}), false},
		{"dotted id", Entry{ID: "a.b", Type: TypeDeposit, Symbol: "USD", Amount: 1, Value: 1}, false},
		{"dollar id", Entry{ID: "$set", Type: TypeDeposit, Symbol: "USD", Amount: 1, Value: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.e.validate(); (err == nil) != tt.valid {
				t.Fatalf("validate = %v, want valid %v", err, tt.valid)
			}
		})
	}
}
