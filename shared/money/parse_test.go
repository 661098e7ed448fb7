package money

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want Quantity
		err  error
	}{
		{"0.5", 50_000_000, nil},
		{"1", 100_000_000, nil},
		{"0", 0, nil}, // parsing accepts zero; CheckPositive refuses it
		{"0.0", 0, nil},
		{"0.00000001", 1, nil},
		{"12345.6789", 1_234_567_890_000, nil},
		{"0.50", 50_000_000, nil},
		{"0.500000000", 50_000_000, nil}, // a 9th decimal that is zero does not change the value
		{"1000000000", MaxQuantity, nil}, // the maximum itself
		{"999999999.99999999", MaxQuantity - 1, nil},
		{"0.123456789", 0, ErrTooManyDecimals},
		{"0.000000001", 0, ErrTooManyDecimals},
		{"-1", 0, ErrNegative},
		{"-0", 0, ErrNegative},
		{"-0.5", 0, ErrNegative},
		{"1000000000.00000001", 0, ErrOutOfRange},
		{"1000000001", 0, ErrOutOfRange},
		{"99999999999999999999999999999", 0, ErrOutOfRange},
		{"1e400", 0, ErrSyntax},
		{"5e-1", 0, ErrSyntax},
		{"1E2", 0, ErrSyntax},
		{"NaN", 0, ErrSyntax},
		{"Infinity", 0, ErrSyntax},
		{"-Infinity", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1 ", 0, ErrSyntax},
		{"1.", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{"--1", 0, ErrSyntax},
		{"-", 0, ErrSyntax},
		{"01", 0, ErrSyntax},
		{"00.5", 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{"1,5", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
		{"1_000", 0, ErrSyntax},
		{"١", 0, ErrSyntax}, // a non-ASCII digit
		{"0.5\x00", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseQuantity(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("ParseQuantity(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("ParseQuantity(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseUSDAndPrice(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) (int64, error)
		in    string
		want  int64
		err   error
	}{
		{"usd", parseUSD, "32500.06", 3_250_006, nil},
		{"usd", parseUSD, "10000", 1_000_000, nil},
		{"usd", parseUSD, "0.1", 10, nil},
		{"usd", parseUSD, "0.01", 1, nil},
		{"usd", parseUSD, "1.000", 100, nil},
		{"usd", parseUSD, "1.001", 0, ErrTooManyDecimals},
		{"usd", parseUSD, "0.005", 0, ErrTooManyDecimals},
		{"usd", parseUSD, "100000000000", int64(MaxUSD), nil},
		{"usd", parseUSD, "100000000000.01", 0, ErrOutOfRange},
		{"usd", parseUSD, "-5", 0, ErrNegative},
		{"price", parsePrice, "65000.12", 6_500_012_000_000, nil},
		{"price", parsePrice, "0.00000001", 1, nil},
		{"price", parsePrice, "0.000000015", 0, ErrTooManyDecimals},
		{"price", parsePrice, "1000000000", int64(MaxPrice), nil},
		{"price", parsePrice, "1000000000.1", 0, ErrOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.in, func(t *testing.T) {
			got, err := tt.parse(tt.in)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("parse(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("parse(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func parseUSD(s string) (int64, error)   { v, err := ParseUSD(s); return int64(v), err }
func parsePrice(s string) (int64, error) { v, err := ParsePrice(s); return int64(v), err }

func TestCheckPositive(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"usd positive", USD(1).CheckPositive(), nil},
		{"usd zero", USD(0).CheckPositive(), ErrZero},
		{"usd negative", USD(-1).CheckPositive(), ErrNegative},
		{"quantity positive", Quantity(1).CheckPositive(), nil},
		{"quantity zero", Quantity(0).CheckPositive(), ErrZero},
		{"price negative", Price(-3).CheckPositive(), ErrNegative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) || (tt.want == nil && tt.err != nil) {
				t.Fatalf("CheckPositive = %v, want %v", tt.err, tt.want)
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	parseErr := func(f func(string) (int64, error), s string) error { _, err := f(s); return err }
	parseQty := func(s string) (int64, error) { v, err := ParseQuantity(s); return int64(v), err }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"syntax quantity", parseErr(parseQty, "abc"), "must be a positive amount with at most 8 decimals"},
		{"syntax usd", parseErr(parseUSD, "1e5"), "must be a positive amount with at most 2 decimals"},
		{"decimals", parseErr(parseQty, "0.123456789"), "must have at most 8 decimals"},
		{"negative", parseErr(parseUSD, "-1"), "must not be negative"},
		{"zero", Quantity(0).CheckPositive(), "must be greater than 0"},
		{"range usd", parseErr(parseUSD, "1000000000000"), "must be at most 100000000000"},
		{"range quantity", parseErr(parseQty, "2000000000"), "must be at most 1000000000"},
		{"foreign", errors.New("boom"), "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FieldError(tt.err); got != tt.want {
				t.Fatalf("FieldError(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// TestErrorNeverQuotesInput: error texts end up in logs; a client's value must not.
func TestErrorNeverQuotesInput(t *testing.T) {
	for _, in := range []string{"secret-token-123", "0.1234567891", "-77", "99999999999999999999"} {
		_, err := ParseQuantity(in)
		if err == nil || strings.Contains(err.Error(), in) || strings.Contains(FieldError(err), in) {
			t.Fatalf("error for %q = %v / %q", in, err, FieldError(err))
		}
	}
}
