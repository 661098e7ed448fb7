package money

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestParseDecimalRounded(t *testing.T) {
	const maxWholeUSD = 1e15 // the feed's bound for market caps in whole dollars
	tests := []struct {
		in       string
		decimals int
		limit    int64
		want     int64
		err      error
	}{
		// Prices: 8 decimals, the forms CoinGecko sends.
		{"65000.12", 8, int64(MaxPrice), 6_500_012_000_000, nil},
		{"1.2e-05", 8, int64(MaxPrice), 1200, nil},
		{"1.2E-05", 8, int64(MaxPrice), 1200, nil},
		{"1.0", 8, int64(MaxPrice), 100_000_000, nil},
		{"150.123456789", 8, int64(MaxPrice), 15_012_345_679, nil}, // 9th decimal 9 rounds up
		{"150.123456784", 8, int64(MaxPrice), 15_012_345_678, nil},
		{"0.000000005", 8, int64(MaxPrice), 1, nil}, // an exact half goes away from zero
		{"0.0000000049999", 8, int64(MaxPrice), 0, nil},
		{"-0.000000005", 8, int64(MaxPrice), -1, nil},
		{"5e-9", 8, int64(MaxPrice), 1, nil},
		{"1e-9", 8, int64(MaxPrice), 0, nil},
		{"1e-400", 8, int64(MaxPrice), 0, nil},
		{"1e-99999999999999999999", 8, int64(MaxPrice), 0, nil}, // exponent saturates, no overflow
		{"0e99999999999999999999", 8, int64(MaxPrice), 0, nil},
		{"0.00", 8, int64(MaxPrice), 0, nil},
		{"-0", 8, int64(MaxPrice), 0, nil},
		{"+1", 8, int64(MaxPrice), 100_000_000, nil},
		{"007", 8, int64(MaxPrice), 700_000_000, nil},
		{"1e9", 8, int64(MaxPrice), int64(MaxPrice), nil},
		{"123e-2", 8, int64(MaxPrice), 123_000_000, nil},
		{"0.0012e3", 8, int64(MaxPrice), 120_000_000, nil},
		{"1.00000001e9", 8, int64(MaxPrice), 0, ErrOutOfRange},
		{"-1e10", 8, int64(MaxPrice), 0, ErrOutOfRange},
		{"1e400", 8, int64(MaxPrice), 0, ErrOutOfRange},
		{"1e99999999999999999999", 8, int64(MaxPrice), 0, ErrOutOfRange},
		// Whole dollars: market caps and volumes, sometimes with decimals or an exponent.
		{"1283550000000", 0, maxWholeUSD, 1_283_550_000_000, nil},
		{"1.28355E+12", 0, maxWholeUSD, 1_283_550_000_000, nil},
		{"4.2066e+11", 0, maxWholeUSD, 420_660_000_000, nil},
		{"18000000000.5", 0, maxWholeUSD, 18_000_000_001, nil},
		{"45000000000.4", 0, maxWholeUSD, 45_000_000_000, nil},
		{"1e16", 0, maxWholeUSD, 0, ErrOutOfRange},
		// int64 edges: 19 digits fit the accumulation, 20 do not.
		{"9223372036854775807", 0, math.MaxInt64, math.MaxInt64, nil},
		{"9223372036854775808", 0, math.MaxInt64, 0, ErrOutOfRange},
		{"9999999999999999999.5", 0, math.MaxInt64, 0, ErrOutOfRange},
		{"18446744073709551616", 0, math.MaxInt64, 0, ErrOutOfRange},
		// Not numbers.
		{"", 8, int64(MaxPrice), 0, ErrSyntax},
		{" 1", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1 ", 8, int64(MaxPrice), 0, ErrSyntax},
		{"NaN", 8, int64(MaxPrice), 0, ErrSyntax},
		{"Infinity", 8, int64(MaxPrice), 0, ErrSyntax},
		{"-Infinity", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1.", 8, int64(MaxPrice), 0, ErrSyntax},
		{".5", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1e", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1e+", 8, int64(MaxPrice), 0, ErrSyntax},
		{"e5", 8, int64(MaxPrice), 0, ErrSyntax},
		{"-", 8, int64(MaxPrice), 0, ErrSyntax},
		{"--1", 8, int64(MaxPrice), 0, ErrSyntax},
		{"+-1", 8, int64(MaxPrice), 0, ErrSyntax},
		{"0x10", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1,5", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1.2.3", 8, int64(MaxPrice), 0, ErrSyntax},
		{"1_000", 8, int64(MaxPrice), 0, ErrSyntax},
		{`"1"`, 8, int64(MaxPrice), 0, ErrSyntax},
		{"١", 8, int64(MaxPrice), 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDecimalRounded(tt.in, tt.decimals, tt.limit)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ParseDecimalRounded(%q, %d) error = %v, want %v", tt.in, tt.decimals, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("ParseDecimalRounded(%q, %d) = %d, want %d", tt.in, tt.decimals, got, tt.want)
			}
			// The fuzz oracle must agree with every hand-checked case it can evaluate.
			if want, ok := oracle(tt.in, tt.decimals); ok && err == nil && want != got {
				t.Fatalf("oracle(%q) = %d, table says %d", tt.in, want, got)
			}
			if err != nil && strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Fatalf("error %q quotes the input", err)
			}
		})
	}
}

// Impossible precisions are programming errors, reported rather than silently clamped.
func TestParseDecimalRoundedArguments(t *testing.T) {
	for _, tt := range []struct {
		decimals int
		limit    int64
	}{{-1, 1}, {19, 1}, {2, 0}, {2, -5}} {
		if _, err := ParseDecimalRounded("1", tt.decimals, tt.limit); !errors.Is(err, errDecimals) {
			t.Errorf("decimals %d limit %d: error = %v, want errDecimals", tt.decimals, tt.limit, err)
		}
	}
}

func TestParsePercentDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want Percent
		err  error
	}{
		{"2.5", 250, nil},
		{"2.54321", 254, nil},
		{"-1.235", -124, nil}, // halves away from zero, on both sides
		{"0.005", 1, nil},
		{"-0.005", -1, nil},
		{"0.0049", 0, nil},
		{"7.5e-05", 0, nil}, // a stablecoin's 24 h change as CoinGecko writes it
		{"-6.21e-3", -1, nil},
		{"100", 10_000, nil},
		{"1e9", MaxPercent, nil},
		{"-1e9", -MaxPercent, nil},
		{"1.00000001e9", 0, ErrOutOfRange},
		{"1e400", 0, ErrOutOfRange},
		{"NaN", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{"2.5%", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePercentDecimal(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ParsePercentDecimal(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("ParsePercentDecimal(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestPercentJSON(t *testing.T) {
	tests := []struct {
		p    Percent
		want string
	}{
		{250, "2.5"},
		{200, "2"},
		{1, "0.01"},
		{-1, "-0.01"},
		{0, "0"},
		{-12_345, "-123.45"},
		{MaxPercent, "1000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			b, err := json.Marshal(struct {
				Change Percent `json:"change"`
			}{tt.p})
			if err != nil || string(b) != `{"change":`+tt.want+`}` {
				t.Fatalf("Marshal = %s, %v", b, err)
			}
			var back struct {
				Change Percent `json:"change"`
			}
			if err := json.Unmarshal(b, &back); err != nil || back.Change != tt.p {
				t.Fatalf("round trip = %d, %v; want %d", back.Change, err, tt.p)
			}
		})
	}
}

func TestPercentUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Percent
		wantErr bool
	}{
		{`2.5`, 250, false},
		{`"2.5"`, 250, false},
		{`-1.235`, -124, false},
		{`7.5e-05`, 0, false},
		{`null`, 42, false}, // unchanged, as encoding/json does for its own types
		{`"abc"`, 42, true},
		{`true`, 42, true},
		{`"\u0032"`, 200, false}, // escapes are decoded like the rest of the body
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p := Percent(42)
			err := json.Unmarshal([]byte(tt.in), &p)
			if (err != nil) != tt.wantErr || p != tt.want {
				t.Fatalf("Unmarshal(%s) = %d, %v; want %d, error %v", tt.in, p, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestShareOf(t *testing.T) {
	tests := []struct {
		name        string
		part, whole int64
		want        Percent
	}{
		{"a third", 1, 3, 3333},
		{"two thirds", 2, 3, 6667},
		{"all", 500, 500, 10_000},
		{"an eighth", 1, 8, 1250},
		{"half of a hundredth rounds up", 1, 20_000, 1},
		{"below half a hundredth", 1, 20_001, 0},
		{"more than the whole", 3, 2, 15_000},
		{"zero part", 0, 5, 0},
		{"zero whole", 5, 0, 0},
		{"negative part", -1, 3, -3333},
		{"negative whole", 1, -3, -3333},
		{"both negative", -1, -3, 3333},
		{"cents of a large balance", 3_250_006, 100_000_000, 325},
		{"huge share clamps", math.MaxInt64, 1, MaxPercent},
		{"huge negative share clamps", math.MinInt64, 1, -MaxPercent},
		{"min whole", 1, math.MinInt64, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ShareOf(tt.part, tt.whole); got != tt.want {
				t.Fatalf("ShareOf(%d, %d) = %d, want %d", tt.part, tt.whole, got, tt.want)
			}
		})
	}
}

// FuzzParseDecimalRounded: the upstream parser never panics, stays within its limit, agrees with
// an exact rational oracle (math/big, test-only) on every input it accepts, and agrees with the
// strict client parser wherever that one accepts the text.
func FuzzParseDecimalRounded(f *testing.F) {
	for _, s := range []string{"65000.12", "1.2e-05", "0.000000005", "-1.235", "1e400", "1e-400", "NaN", "",
		"007", "+1", "1.", ".5", "1e", "9999999999999999999.5", "0e99999999999999999999", "1.28355E+12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseDecimalRounded(s, PriceDecimals, int64(MaxPrice))
		if _, perr := ParsePercentDecimal(s); errors.Is(err, ErrSyntax) != errors.Is(perr, ErrSyntax) {
			t.Fatalf("%q: the price and percent parsers disagree on the grammar: %v vs %v", s, err, perr)
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("%q: unexpected error kind %v", s, err)
			}
			return
		}
		if v > int64(MaxPrice) || v < -int64(MaxPrice) {
			t.Fatalf("%q = %d: beyond the limit", s, v)
		}
		if strict, serr := ParsePrice(s); serr == nil && int64(strict) != v {
			t.Fatalf("%q: strict parser %d, upstream parser %d", s, strict, v)
		}
		if want, ok := oracle(s, PriceDecimals); ok && want != v {
			t.Fatalf("%q = %d, exact rounding gives %d", s, v, want)
		}
	})
}

// FuzzDecimalRoundTrip: every value with at most 8 decimals, written plainly or with an exponent,
// parses back to itself.
func FuzzDecimalRoundTrip(f *testing.F) {
	for _, v := range []int64{0, 1, -1, 1200, 6_500_012_000_000, int64(MaxPrice), -int64(MaxPrice), 99_991_200} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int64) {
		v %= int64(MaxPrice) + 1
		plain := format(v, PriceDecimals, true)
		got, err := ParseDecimalRounded(plain, PriceDecimals, int64(MaxPrice))
		if err != nil || got != v {
			t.Fatalf("%q = %d, %v; want %d", plain, got, err, v)
		}
		// The same value as an integer mantissa and a negative exponent: "6500012000000e-8".
		sci := format(v, 0, false) + "e-8"
		if got, err := ParseDecimalRounded(sci, PriceDecimals, int64(MaxPrice)); err != nil || got != v {
			t.Fatalf("%q = %d, %v; want %d", sci, got, err, v)
		}
	})
}

// oracle rounds s to decimals exactly with math/big, halves away from zero. It reports ok=false
// for texts it should not evaluate: big.Rat accepts forms the parser refuses, and a huge exponent
// would make it allocate without bound.
func oracle(s string, decimals int) (int64, bool) {
	if len(s) > 80 {
		return 0, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-0")) > 3 {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)))
	neg := r.Sign() < 0
	r.Abs(r)
	// floor(r + 1/2) is r rounded with halves up, on the magnitude.
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, false
	}
	if neg {
		return -q.Int64(), true
	}
	return q.Int64(), true
}
