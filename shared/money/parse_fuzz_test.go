package money_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/money"
)

// The fuzz targets of this file check the parsers against an independent reading of the input
// rules (package doc): a regular expression for the grammar and math/big for the value, so a
// wrong digit, a lost decimal or a wrapped int64 shows as a disagreement, not only as a panic.
// FuzzParseQuantity (fuzz_test.go) checks quantities the same way from inside the package.

// clientNumber is the client-input grammar without the sign: no exponent, no leading zeros, at
// least one digit after a point.
var clientNumber = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.[0-9]+)?$`)

// expectFixed is what parsing s as an amount with the given decimals and maximum (in minor
// units) must give: the value, or the kind of error.
func expectFixed(s string, decimals int, max int64) (int64, error) {
	body, negative := strings.CutPrefix(s, "-")
	if !clientNumber.MatchString(body) {
		return 0, money.ErrSyntax
	}
	if negative {
		return 0, money.ErrNegative
	}
	intPart, frac, _ := strings.Cut(body, ".")
	if len(frac) > decimals {
		if strings.Trim(frac[decimals:], "0") != "" {
			return 0, money.ErrTooManyDecimals
		}
		frac = frac[:decimals]
	}
	frac += strings.Repeat("0", decimals-len(frac))
	v, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		panic("oracle: " + intPart + frac)
	}
	if v.Cmp(big.NewInt(max)) > 0 {
		return 0, money.ErrOutOfRange
	}
	return v.Int64(), nil
}

// checkFixed compares one parse with the oracle, the field message, and the JSON forms.
func checkFixed[T ~int64](t *testing.T, s string, got T, err error, decimals int, max T, format func(T) string, parse func(string) (T, error), unmarshal func([]byte) (T, error)) {
	t.Helper()
	want, wantErr := expectFixed(s, decimals, int64(max))
	switch {
	case wantErr != nil && !errors.Is(err, wantErr):
		t.Fatalf("%q: got %d, %v; want error %v", s, got, err, wantErr)
	case wantErr == nil && (err != nil || int64(got) != want):
		t.Fatalf("%q: got %d, %v; want %d", s, got, err, want)
	}
	if err != nil {
		var e *money.Error
		if !errors.As(err, &e) || money.FieldError(err) == "" {
			t.Fatalf("%q: error %v is not a money.Error with a field message", s, err)
		}
		return
	}
	// Canonical text parses back to the same value; the text is stable.
	text := format(got)
	back, err := parse(text)
	if err != nil || back != got || format(back) != text {
		t.Fatalf("%q = %d formats as %q, which parses as %d, %v", s, got, text, back, err)
	}
	// The same text is accepted as a JSON number and as a JSON string, with the same value.
	quoted, _ := json.Marshal(s)
	for _, raw := range [][]byte{[]byte(s), quoted} {
		if v, err := unmarshal(raw); err != nil || v != got {
			t.Fatalf("UnmarshalJSON(%s) = %d, %v; want %d", raw, v, err, got)
		}
	}
}

var fixedSeeds = []string{
	"0", "1", "0.5", "32500.06", "0.01", "0.001", "10000.00", "100000000000", "100000000000.01",
	"1000000000", "1000000000.00000001", "0.00000001", "0.000000001", "0.500000000", "-1", "-0",
	"--1", "-01", "01", "1.", ".5", "1e2", "1E400", "1e400", "NaN", "Infinity", "-Infinity", "",
	" 1", "1 ", "+1", "0x10", "１", "1,5", "1_000", "99999999999999999999", "9223372036854775807",
	"9223372036854775808", "18446744073709551616", "0.0000000000000000000000000001",
	strings.Repeat("9", 400), "1." + strings.Repeat("0", 400), "\x00", "1\x00", "\"1\"", "{\"$ne\":null}",
}

// FuzzParseUSD: ParseUSD agrees with the oracle (2 decimals, at most MaxUSD), its errors never
// quote the input, accepted values round-trip, and the JSON forms agree.
func FuzzParseUSD(f *testing.F) {
	for _, s := range fixedSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := money.ParseUSD(s)
		checkFixed(t, s, v, err, money.USDDecimals, money.MaxUSD, money.USD.String, money.ParseUSD,
			func(b []byte) (money.USD, error) { var u money.USD; err := u.UnmarshalJSON(b); return u, err })
	})
}

// FuzzParsePrice: ParsePrice agrees with the oracle (8 decimals, at most MaxPrice), as above.
func FuzzParsePrice(f *testing.F) {
	for _, s := range fixedSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := money.ParsePrice(s)
		checkFixed(t, s, v, err, money.PriceDecimals, money.MaxPrice, money.Price.String, money.ParsePrice,
			func(b []byte) (money.Price, error) { var p money.Price; err := p.UnmarshalJSON(b); return p, err })
	})
}

// FuzzParseQuantityOracle: ParseQuantity agrees with the oracle (8 decimals, at most
// MaxQuantity), as above.
func FuzzParseQuantityOracle(f *testing.F) {
	for _, s := range fixedSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := money.ParseQuantity(s)
		checkFixed(t, s, v, err, money.QuantityDecimals, money.MaxQuantity, money.Quantity.String, money.ParseQuantity,
			func(b []byte) (money.Quantity, error) { var q money.Quantity; err := q.UnmarshalJSON(b); return q, err })
	})
}

// FuzzUnmarshalAmountJSON: the UnmarshalJSON of USD, Quantity and Price on any bytes (what a
// handler passes them from a json.RawMessage field) never panics; null leaves the value alone; a
// JSON string means its contents, anything else its text; and what is accepted is in range.
func FuzzUnmarshalAmountJSON(f *testing.F) {
	for _, s := range []string{`1`, `"1"`, `0.5`, `"0.50"`, `null`, ` null `, `"null"`, `"\u0031"`, `"1`, `1"`,
		`"\ud800"`, `true`, `[]`, `{}`, `{"$ne":null}`, `1e400`, `"NaN"`, `-1`, `""`, `" 1"`, "\"\xff\"", `"1\u0000"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		text := string(bytes.TrimSpace(raw))
		isNull, unreadable := text == "null", false
		if len(text) > 0 && text[0] == '"' {
			var s string
			unreadable = json.Unmarshal([]byte(text), &s) != nil
			text = s
		}
		const sentinel = 42
		u, q, p := money.USD(sentinel), money.Quantity(sentinel), money.Price(sentinel)
		errU, errQ, errP := u.UnmarshalJSON(raw), q.UnmarshalJSON(raw), p.UnmarshalJSON(raw)
		if isNull {
			if errU != nil || errQ != nil || errP != nil || u != sentinel || q != sentinel || p != sentinel {
				t.Fatalf("null changed the value or failed: %v %v %v", errU, errQ, errP)
			}
			return
		}
		check := func(what string, got int64, err error, decimals int, max int64) {
			want, wantErr := expectFixed(text, decimals, max)
			if unreadable {
				want, wantErr = 0, money.ErrSyntax
			}
			if wantErr != nil {
				if !errors.Is(err, wantErr) || got != sentinel {
					t.Fatalf("%s.UnmarshalJSON(%q) = %d, %v; want %v and the value unchanged", what, raw, got, err, wantErr)
				}
				return
			}
			if err != nil || got != want {
				t.Fatalf("%s.UnmarshalJSON(%q) = %d, %v; want %d", what, raw, got, err, want)
			}
		}
		check("USD", int64(u), errU, money.USDDecimals, int64(money.MaxUSD))
		check("Quantity", int64(q), errQ, money.QuantityDecimals, int64(money.MaxQuantity))
		check("Price", int64(p), errP, money.PriceDecimals, int64(money.MaxPrice))
	})
}

// upstreamNumber is the grammar of upstream decimals (ParseDecimalRounded): a sign, leading zeros,
// any decimals and an exponent are allowed.
var upstreamNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// expectRounded is ParseDecimalRounded's answer by math/big: the value × 10^decimals rounded
// half away from zero, or the kind of error. ok is false when the exponent is too large for the
// oracle to compute exactly (the caller then checks only the outline).
func expectRounded(text string, decimals int, limit int64) (v int64, err error, ok bool) {
	if !upstreamNumber.MatchString(text) {
		return 0, money.ErrSyntax, true
	}
	mantissa, exp := text, int64(0)
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		mantissa = text[:i]
		e, perr := strconv.ParseInt(text[i+1:], 10, 64)
		if perr != nil || e > 4000 || e < -4000 {
			return 0, nil, false
		}
		exp = e
	}
	r, good := new(big.Rat).SetString(mantissa)
	if !good {
		panic("oracle: " + mantissa)
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(exp+int64(decimals))), nil))
	if exp+int64(decimals) >= 0 {
		r.Mul(r, scale)
	} else {
		r.Quo(r, scale)
	}
	neg := r.Sign() < 0
	r.Abs(r)
	// floor(r + 1/2): halves away from zero on the magnitude.
	r.Add(r, big.NewRat(1, 2))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if n.Cmp(big.NewInt(limit)) > 0 {
		return 0, money.ErrOutOfRange, true
	}
	if neg {
		n.Neg(n)
	}
	return n.Int64(), nil, true
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// FuzzParseDecimalRoundedAnyPrecision: the upstream parser agrees with math/big for every precision and
// limit, never panics, and refuses an impossible precision or limit.
func FuzzParseDecimalRoundedAnyPrecision(f *testing.F) {
	for _, s := range []string{"65000.12", "1.2e-05", "1.28355E+12", "-1.235", "+1", "007", "0.000000005",
		"-0.000000005", "1e-400", "1e400", "1e-99999999999999999999", "0e99999999999999999999", "9e18",
		"9223372036854775807", "9223372036854775808", "NaN", "Infinity", "1.", ".5", "1e", "1e+", "--1", "",
		" 1", "1 ", "0x10", "１", "1.5e3.5", strings.Repeat("9", 30) + "e-12"} {
		f.Add(s, uint8(8), int64(money.MaxPrice))
		f.Add(s, uint8(2), int64(money.MaxPercent))
	}
	f.Add("1", uint8(19), int64(1))
	f.Add("1", uint8(0), int64(0))
	f.Add("5", uint8(0), int64(-1))
	f.Fuzz(func(t *testing.T, text string, decimals uint8, limit int64) {
		got, err := money.ParseDecimalRounded(text, int(decimals), limit)
		if decimals > 18 || limit <= 0 {
			if err == nil {
				t.Fatalf("decimals %d, limit %d accepted", decimals, limit)
			}
			return
		}
		want, wantErr, ok := expectRounded(text, int(decimals), limit)
		if !ok {
			// A huge exponent: zero digits give 0, otherwise the value is far out of range or
			// rounds to zero; never a panic or a wrapped value.
			if err == nil && (got > limit || got < -limit) {
				t.Fatalf("%q: %d outside ±%d", text, got, limit)
			}
			return
		}
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Fatalf("%q (%d decimals, limit %d) = %d, %v; want %v", text, decimals, limit, got, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("%q (%d decimals, limit %d) = %d, %v; want %d", text, decimals, limit, got, err, want)
		}
	})
}

// FuzzParsePercentDecimal: percentages are ParseDecimalRounded at 2 decimals up to MaxPercent,
// read the same from a JSON number or string, and survive a JSON round trip.
func FuzzParsePercentDecimal(f *testing.F) {
	for _, s := range []string{"2.5", "-1.235", "7.5e-05", "0", "-0", "1e11", "1e12", "1000000000.005", "NaN", "", "1e400", "+3", "003.10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := money.ParsePercentDecimal(s)
		raw, rawErr := money.ParseDecimalRounded(s, money.PercentDecimals, int64(money.MaxPercent))
		if (err == nil) != (rawErr == nil) || int64(p) != raw {
			t.Fatalf("%q: percent %d, %v; decimal %d, %v", s, p, err, raw, rawErr)
		}
		if err != nil {
			if money.FieldError(err) == "" {
				t.Fatalf("%q: empty field message", s)
			}
			return
		}
		if p > money.MaxPercent || p < -money.MaxPercent {
			t.Fatalf("%q = %d: out of range", s, p)
		}
		quoted, _ := json.Marshal(s)
		for _, in := range [][]byte{quoted, []byte(s)} {
			var q money.Percent
			if err := q.UnmarshalJSON(in); err != nil || q != p {
				t.Fatalf("UnmarshalJSON(%s) = %d, %v; want %d", in, q, err, p)
			}
		}
		out, err := json.Marshal(p)
		var back money.Percent
		if err != nil || json.Unmarshal(out, &back) != nil || back != p {
			t.Fatalf("%d marshals as %s, which reads back as %d", p, out, back)
		}
	})
}
