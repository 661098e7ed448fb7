package money

import (
	"errors"
	"math"
	"testing"
)

// TestWorkedExample is api.md's example: 0.5 BTC at 65000.12 → value 32500.06, fee 32.51, buy total
// 32532.57, sell total 32467.55.
func TestWorkedExample(t *testing.T) {
	q, err := ParseQuantity("0.5")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePrice("65000.12")
	if err != nil {
		t.Fatal(err)
	}
	buy, err := QuoteBuy(q, p)
	if err != nil {
		t.Fatal(err)
	}
	sell, err := QuoteSell(q, p)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  USD
		want string
	}{
		{"buy value", buy.Value, "32500.06"},
		{"buy fee", buy.Fee, "32.51"},
		{"buy total", buy.Total, "32532.57"},
		{"sell value", sell.Value, "32500.06"},
		{"sell fee", sell.Fee, "32.51"},
		{"sell total", sell.Total, "32467.55"},
	}
	for _, c := range checks {
		if c.got.String() != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestValueRounding(t *testing.T) {
	tests := []struct {
		name     string
		q        Quantity
		p        Price
		up, down USD
		nearest  USD
	}{
		{"exact cents", 100_000_000, 1_234_000_000, 1234, 1234, 1234},
		{"half cent", 50_000_000, 1_000_000, 1, 0, 1},                    // 0.5 × 0.01 = 0.005
		{"just under half", 49_999_999, 1_000_000, 1, 0, 0},              // 0.0049999999
		{"smallest quantity", 1, 6_500_012_000_000, 1, 0, 0},             // 1e-8 × 65000.12 = 0.00065
		{"smallest both", 1, 1, 1, 0, 0},                                 // 1e-16 USD
		{"zero", 0, 6_500_012_000_000, 0, 0, 0},                          // nothing to round
		{"large", 100_000_000_000, 10_000_000_000_000, 1e10, 1e10, 1e10}, // 1000 coins at 100000
		{"negative quantity", -50_000_000, 1_000_000, 0, -1, -1},         // -0.005: ceil 0, floor -0.01
		{"negative exact", -100_000_000, 6_500_012_000_000, -6_500_012, -6_500_012, -6_500_012},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				mode Rounding
				want USD
			}{{RoundUp, tt.up}, {RoundDown, tt.down}, {RoundNearest, tt.nearest}} {
				got, err := Value(tt.q, tt.p, c.mode)
				if err != nil || got != c.want {
					t.Errorf("Value(%s, %s, %d) = %s, %v; want %s", tt.q, tt.p, c.mode, got, err, c.want)
				}
			}
		})
	}
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		name string
		q    Quantity
		p    Price
		mode Rounding
		want error
	}{
		{"no rounding mode", 1, 1, 0, errRounding},
		{"unknown rounding mode", 1, 1, 99, errRounding},
		{"max by max", MaxQuantity, MaxPrice, RoundUp, ErrOutOfRange},
		{"just above MaxUSD", 1e12, 1e15 + 1, RoundUp, ErrOutOfRange}, // 10000 coins × (1e7 USD + 1e-8)
		{"int64 extremes", math.MaxInt64, math.MaxInt64, RoundDown, ErrOutOfRange},
		{"min int64", math.MinInt64, 1, RoundDown, nil}, // tiny magnitude after division: fine
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Value(tt.q, tt.p, tt.mode)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Value error = %v, want %v", err, tt.want)
			}
		})
	}
	// Exactly MaxUSD (10000 coins at 10 million dollars) is in range.
	if v, err := Value(1e12, 1e15, RoundUp); err != nil || v != MaxUSD {
		t.Fatalf("Value at MaxUSD = %s, %v", v, err)
	}
}

func TestFee(t *testing.T) {
	tests := []struct {
		name string
		q    Quantity
		p    Price
		want USD
		err  error
	}{
		{"worked example", 50_000_000, 6_500_012_000_000, 3251, nil},
		{"minimum applies", 1, 100_000_000, MinFee, nil},
		{"zero trade still minimum", 0, 100_000_000, MinFee, nil},
		{"exactly 10.00 value", 100_000_000, 1_000_000_000, MinFee, nil},              // 0.1 % of 10.00 = 0.01
		{"just above one cent", 100_000_001, 1_000_000_000, 2, nil},                   // 0.01000001 → 0.02
		{"fee on exact value, not rounded value", 1_000_001, 100_000_000_000, 2, nil}, // 10.00001 → 0.01000001 → 0.02
		{"negative quantity", -1, 1, 0, ErrNegative},
		{"out of range", MaxQuantity, MaxPrice, 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fee(tt.q, tt.p)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Fee error = %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("Fee = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestQuoteSellTiny(t *testing.T) {
	// 1e-8 coin at 1 USD: value rounds down to 0, fee is the minimum: the total is negative and
	// the orders handler refuses the sell.
	tr, err := QuoteSell(1, 100_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Value != 0 || tr.Fee != MinFee || tr.Total != -1 {
		t.Fatalf("QuoteSell = %+v", tr)
	}
	if _, err := QuoteBuy(0, 1); !errors.Is(err, ErrZero) {
		t.Fatalf("QuoteBuy(0) error = %v, want ErrZero", err)
	}
	if _, err := QuoteSell(1, -1); !errors.Is(err, ErrNegative) {
		t.Fatalf("QuoteSell(price -1) error = %v, want ErrNegative", err)
	}
}

func TestAddSub(t *testing.T) {
	tests := []struct {
		name string
		f    func() (int64, error)
		want int64
		err  error
	}{
		{"usd add", func() (int64, error) { v, err := USD(5).Add(7); return int64(v), err }, 12, nil},
		{"usd sub below zero", func() (int64, error) { v, err := USD(5).Sub(7); return int64(v), err }, -2, nil},
		{"usd add overflow", func() (int64, error) { v, err := USD(math.MaxInt64).Add(1); return int64(v), err }, 0, ErrOutOfRange},
		{"usd add negative overflow", func() (int64, error) { v, err := USD(math.MinInt64).Add(-1); return int64(v), err }, 0, ErrOutOfRange},
		{"usd add mixed signs", func() (int64, error) { v, err := USD(math.MinInt64).Add(math.MaxInt64); return int64(v), err }, -1, nil},
		{"usd sub overflow", func() (int64, error) { v, err := USD(math.MinInt64).Sub(1); return int64(v), err }, 0, ErrOutOfRange},
		{"usd sub overflow up", func() (int64, error) { v, err := USD(0).Sub(math.MinInt64); return int64(v), err }, 0, ErrOutOfRange},
		{"usd sub same sign extremes", func() (int64, error) { v, err := USD(-1).Sub(math.MinInt64); return int64(v), err }, math.MaxInt64, nil},
		{"quantity add", func() (int64, error) { v, err := Quantity(1).Add(2); return int64(v), err }, 3, nil},
		{"quantity sub overflow", func() (int64, error) { v, err := Quantity(math.MaxInt64).Sub(-1); return int64(v), err }, 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f()
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("= %d, want %d", got, tt.want)
			}
		})
	}
}
