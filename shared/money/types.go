package money

// USD is an amount of US dollars in cents.
type USD int64

// Quantity is an amount of a coin in units of 1e-8 coin.
type Quantity int64

// Price is a coin's price in USD per whole coin, in units of 1e-8 USD.
type Price int64

// Decimals of each type: the number of fraction digits its minor unit represents.
const (
	USDDecimals      = 2
	QuantityDecimals = 8
	PriceDecimals    = 8
)

// Ranges. Parsing refuses larger values and arithmetic reports ErrOutOfRange past them, so every
// product and sum of two in-range values stays far from int64 overflow (max int64 ≈ 9.2e18).
const (
	// MaxUSD is 100 billion dollars: more than any account of a paper-trading platform can hold,
	// and a product or sum of a few such amounts still fits an int64.
	MaxUSD USD = 1e13
	// MaxQuantity is one billion coins: above the supply of any coin the platform lists except
	// the stablecoins' theoretical float, which no demo account comes near.
	MaxQuantity Quantity = 1e17
	// MaxPrice is one billion dollars per coin.
	MaxPrice Price = 1e17
)

// scale of each type: 10^decimals.
const (
	usdScale      = 100
	quantityScale = 100_000_000
	priceScale    = 100_000_000
)

// String returns the amount with exactly 2 decimals ("32500.06", "-1.50").
func (u USD) String() string { return format(int64(u), USDDecimals, false) }

// String returns the quantity with trailing zeros trimmed ("0.5", "1", "0.00000001").
func (q Quantity) String() string { return format(int64(q), QuantityDecimals, true) }

// String returns the price with trailing zeros trimmed ("65000.12").
func (p Price) String() string { return format(int64(p), PriceDecimals, true) }

// MarshalJSON writes the amount as a JSON number with 2 decimals: the frontend calls toFixed on it.
func (u USD) MarshalJSON() ([]byte, error) { return []byte(u.String()), nil }

// MarshalJSON writes the quantity as a JSON number, trailing zeros trimmed.
func (q Quantity) MarshalJSON() ([]byte, error) { return []byte(q.String()), nil }

// MarshalJSON writes the price as a JSON number, trailing zeros trimmed.
func (p Price) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalJSON reads a JSON number or numeric string under the input rules of the package
// (negative values are refused: it is meant for client input). JSON null leaves the value
// unchanged, as encoding/json does for its own types; required fields are caught by CheckPositive.
func (u *USD) UnmarshalJSON(b []byte) error {
	v, err := unmarshalFixed(b, usdSpec)
	if err != nil || v == nil {
		return err
	}
	*u = USD(*v)
	return nil
}

// UnmarshalJSON reads a JSON number or numeric string, as USD.UnmarshalJSON does.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	v, err := unmarshalFixed(b, quantitySpec)
	if err != nil || v == nil {
		return err
	}
	*q = Quantity(*v)
	return nil
}

// UnmarshalJSON reads a JSON number or numeric string, as USD.UnmarshalJSON does.
func (p *Price) UnmarshalJSON(b []byte) error {
	v, err := unmarshalFixed(b, priceSpec)
	if err != nil || v == nil {
		return err
	}
	*p = Price(*v)
	return nil
}

// CheckPositive returns nil for an amount > 0, else an error of kind ErrZero or ErrNegative. Parsing
// accepts zero, so every field that the API requires to be positive calls this after parsing.
func (u USD) CheckPositive() error { return checkPositive(int64(u), usdSpec) }

// CheckPositive returns nil for a quantity > 0, else an error of kind ErrZero or ErrNegative.
func (q Quantity) CheckPositive() error { return checkPositive(int64(q), quantitySpec) }

// CheckPositive returns nil for a price > 0, else an error of kind ErrZero or ErrNegative.
func (p Price) CheckPositive() error { return checkPositive(int64(p), priceSpec) }

func checkPositive(v int64, s spec) error {
	switch {
	case v == 0:
		return s.err(ErrZero)
	case v < 0:
		return s.err(ErrNegative)
	}
	return nil
}

// spec describes one of the types to the shared parsing and formatting code.
type spec struct {
	what     string // for error texts: "USD amount", "quantity", "price"
	decimals int
	scale    int64
	max      int64
}

var (
	usdSpec      = spec{"USD amount", USDDecimals, usdScale, int64(MaxUSD)}
	quantitySpec = spec{"quantity", QuantityDecimals, quantityScale, int64(MaxQuantity)}
	priceSpec    = spec{"price", PriceDecimals, priceScale, int64(MaxPrice)}
)

func (s spec) err(kind error) *Error {
	return &Error{Kind: kind, What: s.what, Decimals: s.decimals, Max: format(s.max, s.decimals, true)}
}
