package money

import (
	"errors"
	"math/bits"
)

// Rounding says which way a result that falls between two cents goes. The zero value is not a
// mode: every computation must name its rounding, so that none is rounded by accident.
type Rounding int

// Rounding modes.
const (
	// RoundDown rounds toward negative infinity (floor): what a seller receives for coins.
	RoundDown Rounding = iota + 1
	// RoundUp rounds toward positive infinity (ceiling): what a buyer pays, and fees.
	RoundUp
	// RoundNearest rounds to the nearest cent, halves away from zero: valuations for display.
	RoundNearest
)

// errRounding reports a missing or unknown rounding mode: a programming error.
var errRounding = errors.New("money: rounding mode not set")

// Fee rate: 0.1 % of a trade's exact value, rounded up to the cent, at least MinFee.
const (
	feeNumerator   = 1
	feeDenominator = 1000
)

// MinFee is the smallest fee of a trade: one cent.
const MinFee USD = 1

// unitsPerCent is how many 1e-16 USD (the unit of a Quantity × Price product) make a cent.
const unitsPerCent = quantityScale * priceScale / usdScale // 1e14

// Value returns q × p in cents, rounded with mode: RoundUp for what a buyer pays, RoundDown for
// what a seller receives. Signed inputs are allowed (a negative adjustment has a negative value);
// the modes then keep their floor/ceiling meaning. The product is exact in 128 bits; a result
// beyond ±MaxUSD is ErrOutOfRange.
func Value(q Quantity, p Price, mode Rounding) (USD, error) {
	v, err := mulDiv(int64(q), int64(p), unitsPerCent, mode, int64(MaxUSD))
	if err != nil {
		return 0, err
	}
	return USD(v), nil
}

// Fee returns the trading fee for q coins at p: 0.1 % of the exact (unrounded) q × p, rounded up
// to the cent, and at least MinFee. q and p must not be negative.
func Fee(q Quantity, p Price) (USD, error) {
	if q < 0 || p < 0 {
		return 0, usdSpec.err(ErrNegative)
	}
	v, err := mulDiv(int64(q), int64(p), unitsPerCent*feeDenominator/feeNumerator, RoundUp, int64(MaxUSD))
	if err != nil {
		return 0, err
	}
	return max(USD(v), MinFee), nil
}

// Trade is the cash side of buying or selling coins at a price.
type Trade struct {
	Value USD // q × p, rounded up for a buy, down for a sell
	Fee   USD // see Fee
	// Total is the cash moved: Value + Fee paid for a buy, Value − Fee received for a sell. A
	// sell's Total can be zero or negative for a tiny quantity; the API refuses such a sell.
	Total USD
}

// QuoteBuy prices a buy of q coins at p. q and p must be positive.
func QuoteBuy(q Quantity, p Price) (Trade, error) {
	return quote(q, p, RoundUp, USD.Add)
}

// QuoteSell prices a sell of q coins at p. q and p must be positive.
func QuoteSell(q Quantity, p Price) (Trade, error) {
	return quote(q, p, RoundDown, USD.Sub)
}

func quote(q Quantity, p Price, mode Rounding, total func(USD, USD) (USD, error)) (Trade, error) {
	if err := q.CheckPositive(); err != nil {
		return Trade{}, err
	}
	if err := p.CheckPositive(); err != nil {
		return Trade{}, err
	}
	value, err := Value(q, p, mode)
	if err != nil {
		return Trade{}, err
	}
	fee, err := Fee(q, p)
	if err != nil {
		return Trade{}, err
	}
	t, err := total(value, fee)
	if err != nil {
		return Trade{}, err
	}
	return Trade{Value: value, Fee: fee, Total: t}, nil
}

// Add returns u + v, or ErrOutOfRange if the sum overflows int64 (it never wraps).
func (u USD) Add(v USD) (USD, error) {
	s, ok := add64(int64(u), int64(v))
	if !ok {
		return 0, usdSpec.err(ErrOutOfRange)
	}
	return USD(s), nil
}

// Sub returns u − v, or ErrOutOfRange if the difference overflows int64.
func (u USD) Sub(v USD) (USD, error) {
	s, ok := sub64(int64(u), int64(v))
	if !ok {
		return 0, usdSpec.err(ErrOutOfRange)
	}
	return USD(s), nil
}

// Add returns q + r, or ErrOutOfRange if the sum overflows int64.
func (q Quantity) Add(r Quantity) (Quantity, error) {
	s, ok := add64(int64(q), int64(r))
	if !ok {
		return 0, quantitySpec.err(ErrOutOfRange)
	}
	return Quantity(s), nil
}

// Sub returns q − r, or ErrOutOfRange if the difference overflows int64.
func (q Quantity) Sub(r Quantity) (Quantity, error) {
	s, ok := sub64(int64(q), int64(r))
	if !ok {
		return 0, quantitySpec.err(ErrOutOfRange)
	}
	return Quantity(s), nil
}

func add64(a, b int64) (int64, bool) {
	s := a + b
	// Overflow happened iff both operands have the same sign and the sum has the other one.
	overflow := (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0)
	return s, !overflow
}

func sub64(a, b int64) (int64, bool) {
	s := a - b
	// Overflow happened iff the operands differ in sign and the result's sign is not a's.
	overflow := (a >= 0) != (b >= 0) && (s >= 0) != (a >= 0)
	return s, !overflow
}

// mulDiv returns a × b / d rounded with mode, computing the product in 128 bits so that nothing
// overflows before the division; a result whose magnitude exceeds limit is ErrOutOfRange.
func mulDiv(a, b int64, d uint64, mode Rounding, limit int64) (int64, error) {
	if mode < RoundDown || mode > RoundNearest {
		return 0, errRounding
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi >= d { // the quotient would not fit 64 bits (and bits.Div64 would panic)
		return 0, usdSpec.err(ErrOutOfRange)
	}
	q, r := bits.Div64(hi, lo, d)
	if r != 0 {
		// Round the magnitude; for a negative result, floor and ceiling swap directions.
		switch mode {
		case RoundUp:
			if !neg {
				q++
			}
		case RoundDown:
			if neg {
				q++
			}
		case RoundNearest:
			if r >= d-r { // r/d >= 1/2, written without overflowing 2r
				q++
			}
		}
	}
	if q > uint64(limit) {
		return 0, usdSpec.err(ErrOutOfRange)
	}
	if neg {
		return -int64(q), nil
	}
	return int64(q), nil
}

// abs64 returns |v| as uint64, exact for math.MinInt64.
func abs64(v int64) uint64 {
	if v < 0 {
		return -uint64(v)
	}
	return uint64(v)
}
