package feed

import "math/bits"

// mulDivRound returns a × b / d rounded half up, computed in 128 bits so that a price (1e-8 USD)
// times a supply or a scale factor never overflows before the division. a and b must be ≥ 0 and
// d > 0; ok is false when the result does not fit an int64.
func mulDivRound(a, b, d int64) (v int64, ok bool) {
	if a < 0 || b < 0 || d <= 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(d) { // the quotient would not fit 64 bits (and bits.Div64 would panic)
		return 0, false
	}
	q, r := bits.Div64(hi, lo, uint64(d))
	if r >= uint64(d)-r { // r/d ≥ 1/2, written without overflowing 2r
		q++
	}
	if q > 1<<63-1 {
		return 0, false
	}
	return int64(q), true
}

// changeHundredths returns (price − open) / open in hundredths of a percent, rounded half away
// from zero: the 24 h change of a price whose value 24 h ago was open (> 0).
func changeHundredths(price, open int64) int64 {
	if price >= open {
		v, _ := mulDivRound(price-open, 10_000, open)
		return v
	}
	v, _ := mulDivRound(open-price, 10_000, open)
	return -v
}
