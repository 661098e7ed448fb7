package money

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{USD(3_250_006).String(), "32500.06"},
		{USD(1_000_000).String(), "10000.00"},
		{USD(5).String(), "0.05"},
		{USD(0).String(), "0.00"},
		{USD(-150).String(), "-1.50"},
		{USD(-9_223_372_036_854_775_808).String(), "-92233720368547758.08"},
		{Quantity(50_000_000).String(), "0.5"},
		{Quantity(100_000_000).String(), "1"},
		{Quantity(1).String(), "0.00000001"},
		{Quantity(0).String(), "0"},
		{Quantity(-250_000_000).String(), "-2.5"},
		{Price(6_500_012_000_000).String(), "65000.12"},
		{Price(MaxPrice).String(), "1000000000"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// order is a request body as the orders handler will decode it.
type order struct {
	Amount Quantity `json:"amount"`
	Price  Price    `json:"price"`
	Cash   USD      `json:"cash"`
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		body string
		want order
		err  error
	}{
		{`{"amount": 0.5, "price": 65000.12, "cash": 10}`, order{50_000_000, 6_500_012_000_000, 1000}, nil},
		{`{"amount": "0.5", "price": "65000.12", "cash": "10.00"}`, order{50_000_000, 6_500_012_000_000, 1000}, nil},
		{`{"amount": 0.50}`, order{Amount: 50_000_000}, nil},
		{`{"amount": "\u0030.5"}`, order{Amount: 50_000_000}, nil}, // escapes decode like any string
		{`{"amount": null}`, order{}, nil},                         // null leaves the zero value
		{`{}`, order{}, nil},
		{`{"amount": 1e400}`, order{}, ErrSyntax},
		{`{"amount": 5e-1}`, order{}, ErrSyntax},
		{`{"amount": "5E-1"}`, order{}, ErrSyntax},
		{`{"amount": -0.5}`, order{}, ErrNegative},
		{`{"amount": "-0.5"}`, order{}, ErrNegative},
		{`{"amount": "NaN"}`, order{}, ErrSyntax},
		{`{"amount": "Infinity"}`, order{}, ErrSyntax},
		{`{"amount": ""}`, order{}, ErrSyntax},
		{`{"amount": " 1"}`, order{}, ErrSyntax},
		{`{"amount": true}`, order{}, ErrSyntax},
		{`{"amount": [1]}`, order{}, ErrSyntax},
		{`{"amount": {"v": 1}}`, order{}, ErrSyntax},
		{`{"amount": 0.123456789}`, order{}, ErrTooManyDecimals},
		{`{"cash": 0.001}`, order{}, ErrTooManyDecimals},
		{`{"amount": 12345678901234567890123}`, order{}, ErrOutOfRange},
		{`{"amount": 9007199254740993}`, order{}, ErrOutOfRange}, // not representable as float64
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			var got order
			err := json.Unmarshal([]byte(tt.body), &got)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("Unmarshal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestJSONExactBeyondFloat64: values a float64 would alter survive exactly, because the raw
// text is parsed.
func TestJSONExactBeyondFloat64(t *testing.T) {
	var q Quantity
	if err := json.Unmarshal([]byte(`90071992.54740993`), &q); err != nil {
		t.Fatal(err)
	}
	if q != 9_007_199_254_740_993 {
		t.Fatalf("got %d, want 9007199254740993", q)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	in := order{Amount: 1, Price: 6_500_012_000_000, Cash: 3_250_006}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"amount":0.00000001,"price":65000.12,"cash":32500.06}`; string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	var out order
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v; want %+v", out, err, in)
	}
	// A JSON number on the wire: a JavaScript client reads it as a number.
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if _, ok := generic["cash"].(float64); !ok {
		t.Fatalf("cash is %T, want a JSON number", generic["cash"])
	}
}

// TestQuotedIffUnquoted: the string form accepts exactly what the number form accepts.
func TestQuotedIffUnquoted(t *testing.T) {
	for _, s := range []string{"0.5", "1", "0", "01", "1.", ".5", "1e3", "-1", "0.000000001", "0.0000000010"} {
		var a, b Quantity
		errA := json.Unmarshal([]byte(s), &a)
		errB := json.Unmarshal([]byte(`"`+s+`"`), &b)
		var ea, eb *Error
		// Unquoted invalid JSON fails in the JSON scanner (not a money error); only compare when
		// the number form is valid JSON.
		if !json.Valid([]byte(s)) {
			if errB == nil {
				t.Errorf("%q: number form is invalid JSON but string form accepted", s)
			}
			continue
		}
		if (errA == nil) != (errB == nil) || a != b {
			t.Errorf("%q: number → %d, %v; string → %d, %v", s, a, errA, b, errB)
		}
		if errors.As(errA, &ea) && errors.As(errB, &eb) && ea.Kind != eb.Kind {
			t.Errorf("%q: kinds differ: %v vs %v", s, ea.Kind, eb.Kind)
		}
	}
}
