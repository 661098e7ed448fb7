package money

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Percent is a percentage in hundredths of a percent: 2.5 % is 250. api.md shows percentages as
// percent numbers rounded to 2 decimals, so this unit holds every value the API can show.
type Percent int64

// PercentDecimals is the number of fraction digits of a Percent.
const PercentDecimals = 2

// MaxPercent bounds a Percent: one billion percent. No 24 h change or allocation share comes near
// it; a larger upstream value is garbage, and the bound keeps sums of Percents far from overflow.
const MaxPercent Percent = 1e11

var percentSpec = spec{"percent", PercentDecimals, 100, int64(MaxPercent)}

// String returns the percent number with trailing zeros trimmed and no sign character for
// positive values ("2.5", "-0.01", "0"), the same text MarshalJSON writes.
func (p Percent) String() string { return format(int64(p), PercentDecimals, true) }

// MarshalJSON writes the percent number as a JSON number, at most 2 decimals, trailing zeros
// trimmed (2.5 % → 2.5, 3 % → 3): api.md "Percentages are percent numbers, rounded to 2 decimals".
func (p Percent) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalJSON reads what MarshalJSON writes, so that a Percent survives a JSON round trip (a
// cached API response, a fixture). It accepts a JSON number or numeric string under the upstream
// rules of ParsePercentDecimal; JSON null leaves the value unchanged.
func (p *Percent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return percentSpec.err(ErrSyntax)
		}
	}
	v, err := ParsePercentDecimal(text)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParsePercentDecimal parses a percent number from upstream data ("2.5", "-1.235", "7.5e-05"),
// rounded to 2 decimals with halves away from zero (-1.235 → -1.24). It follows the upstream
// grammar of ParseDecimalRounded; a magnitude above MaxPercent is ErrOutOfRange.
func ParsePercentDecimal(text string) (Percent, error) {
	v, err := parseRounded(text, percentSpec)
	return Percent(v), err
}

// ShareOf returns part / whole as a percentage (part/whole × 100), rounded to 0.01 % with halves
// away from zero: the allocation of a holding in a balance. A zero whole gives 0 (an empty
// portfolio has no allocation, which is not an error for a display figure). The quotient is exact
// (128-bit); a share whose magnitude exceeds MaxPercent is clamped to ±MaxPercent rather than
// failing, since a display figure has no error path.
func ShareOf(part, whole int64) Percent {
	if whole == 0 {
		return 0
	}
	// part × 10000 / |whole| in hundredths of a percent, signed like part; mulDiv is exact for
	// every int64, math.MinInt64 included.
	v, err := mulDiv(part, 100*100, abs64(whole), RoundNearest, int64(MaxPercent))
	if err != nil {
		v = int64(MaxPercent)
		if part < 0 {
			v = -v
		}
	}
	if whole < 0 {
		v = -v
	}
	return Percent(v)
}

// errDecimals reports a call of ParseDecimalRounded with an impossible precision: a programming
// error, not bad data.
var errDecimals = errors.New("money: decimals must be between 0 and 18 and the limit positive")

// ParseDecimalRounded parses decimal text from an upstream source (a price feed's JSON, a test
// file) into an int64 count of 10^-decimals units, rounding to that precision with halves away from
// zero. Unlike client input (ParsePrice and friends refuse anything but plain digits), upstream
// numbers come as the sender formats them, so this accepts an optional sign ('-' or '+'), leading
// zeros, any number of decimals and an exponent: "65000.12", "-1.235", "1.2e-05", "1.28355E+12".
// It computes digit by digit, never through float64, so "0.1" is exactly 0.1.
//
// A magnitude above limit (including values like "1e400") is ErrOutOfRange; anything that is not
// such a number (empty, whitespace, "NaN", "Infinity", "1.", ".5", "1e") is ErrSyntax. A value
// that rounds to zero returns 0, negative zero included. decimals must be 0–18 and limit > 0.
func ParseDecimalRounded(text string, decimals int, limit int64) (int64, error) {
	if decimals < 0 || decimals > 18 || limit <= 0 {
		return 0, errDecimals
	}
	return parseRounded(text, spec{what: "decimal number", decimals: decimals, max: limit})
}

// parseRounded implements ParseDecimalRounded for the precision and limit of s. The value of the
// text is digits × 10^shift minor units; the grammar is checked completely before any arithmetic.
func parseRounded(text string, s spec) (int64, error) {
	t := text
	neg := false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg = t[0] == '-'
		t = t[1:]
	}
	i := 0
	for i < len(t) && isDigit(t[i]) {
		i++
	}
	intPart, frac := t[:i], ""
	if len(intPart) == 0 {
		return 0, s.err(ErrSyntax)
	}
	if i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		frac = t[i+1 : j]
		if len(frac) == 0 {
			return 0, s.err(ErrSyntax)
		}
		i = j
	}
	var exp int64
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		expNeg := false
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			expNeg = t[i] == '-'
			i++
		}
		start := i
		for i < len(t) && isDigit(t[i]) {
			// Saturate: an exponent of 10^12 already puts every value of a text that fits in
			// memory beyond any limit (or below any unit), so larger ones need not be exact.
			if exp < 1e12 {
				exp = exp*10 + int64(t[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, s.err(ErrSyntax)
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(t) {
		return 0, s.err(ErrSyntax)
	}

	// Significant digits, leading zeros removed: "000.0012" → "12" with shift adjusted below.
	digits := intPart + frac
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, nil
	}
	shift := exp - int64(len(frac)) + int64(s.decimals)

	var mag uint64
	switch {
	case shift >= 0:
		// An integer count of units: the digits followed by shift zeros. More than 19 digits
		// exceeds every int64 limit (and 19 digits still fit a uint64 without overflow).
		if int64(len(digits))+shift > 19 {
			return 0, s.err(ErrOutOfRange)
		}
		mag = digitsValue(digits)
		for range shift {
			mag *= 10
		}
	case -shift > int64(len(digits)):
		// Below a tenth of a unit: rounds to zero whatever the digits.
		return 0, nil
	default:
		// Keep the digits down to the unit and round on the first dropped one: any digits after
		// a 5 only make the remainder larger, so "≥ 5" is exactly "halves away from zero".
		keep := len(digits) - int(-shift)
		if keep > 19 {
			return 0, s.err(ErrOutOfRange)
		}
		mag = digitsValue(digits[:keep])
		if digits[keep] >= '5' {
			mag++ // at most 10^19: still fits a uint64
		}
	}
	if mag > uint64(s.max) {
		return 0, s.err(ErrOutOfRange)
	}
	if neg {
		return -int64(mag), nil
	}
	return int64(mag), nil
}

// digitsValue returns the value of at most 19 ASCII digits; 19 nines fit a uint64.
func digitsValue(d string) uint64 {
	var v uint64
	for i := 0; i < len(d); i++ {
		v = v*10 + uint64(d[i]-'0')
	}
	return v
}
