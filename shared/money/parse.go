package money

import (
	"bytes"
	"encoding/json"
)

// ParseUSD parses a non-negative dollar amount with at most 2 decimals ("32500.06") into cents.
// See the package documentation for the accepted syntax.
func ParseUSD(s string) (USD, error) {
	v, err := parseFixed(s, usdSpec)
	return USD(v), err
}

// ParseQuantity parses a non-negative coin quantity with at most 8 decimals ("0.5").
func ParseQuantity(s string) (Quantity, error) {
	v, err := parseFixed(s, quantitySpec)
	return Quantity(v), err
}

// ParsePrice parses a non-negative price in USD per coin with at most 8 decimals ("65000.12").
func ParsePrice(s string) (Price, error) {
	v, err := parseFixed(s, priceSpec)
	return Price(v), err
}

// unmarshalFixed decodes the raw JSON text of a number or a numeric string. It returns nil for
// JSON null. The number's text is parsed as is: encoding/json never converts it to float64 here.
func unmarshalFixed(b []byte, s spec) (*int64, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	text := string(b)
	if len(b) > 0 && b[0] == '"' {
		// Unquoting with encoding/json handles escapes ("\u0031" is "1") exactly as the rest of
		// the body is decoded; the string itself then follows the number rules.
		if err := json.Unmarshal(b, &text); err != nil {
			return nil, s.err(ErrSyntax)
		}
	}
	v, err := parseFixed(text, s)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// parseFixed parses text under the package's input rules into minor units of s. The grammar is
// checked completely before any value is computed, so that "1e400" is a syntax error, not a range
// error, and "-abc" is a syntax error, not "negative".
func parseFixed(text string, s spec) (int64, error) {
	if len(text) > 0 && text[0] == '-' {
		if _, _, ok := split(text[1:]); ok {
			return 0, s.err(ErrNegative)
		}
		return 0, s.err(ErrSyntax)
	}
	intPart, frac, ok := split(text)
	if !ok {
		return 0, s.err(ErrSyntax)
	}
	// Digits beyond the type's precision may only be zeros: they do not change the value.
	if len(frac) > s.decimals {
		for i := s.decimals; i < len(frac); i++ {
			if frac[i] != '0' {
				return 0, s.err(ErrTooManyDecimals)
			}
		}
		frac = frac[:s.decimals]
	}
	// Leading zeros are refused, so the number of integer digits bounds the value: more than 18
	// digits is beyond every maximum (all < 1e18) and could overflow the accumulation below.
	if len(intPart) > 18 {
		return 0, s.err(ErrOutOfRange)
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		v = v*10 + int64(intPart[i]-'0')
	}
	if v > s.max/s.scale {
		return 0, s.err(ErrOutOfRange)
	}
	v *= s.scale
	unit := s.scale
	for i := 0; i < len(frac); i++ {
		unit /= 10
		v += int64(frac[i]-'0') * unit
	}
	if v > s.max {
		return 0, s.err(ErrOutOfRange)
	}
	return v, nil
}

// split checks the unsigned JSON-number grammar without exponent — int ["." digits], int being "0"
// or a digit 1-9 followed by digits — and returns the integer and fraction digits.
func split(text string) (intPart, frac string, ok bool) {
	i := 0
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	intPart = text[:i]
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') {
		return "", "", false
	}
	if i == len(text) {
		return intPart, "", true
	}
	if text[i] != '.' {
		return "", "", false
	}
	frac = text[i+1:]
	if len(frac) == 0 {
		return "", "", false
	}
	for j := 0; j < len(frac); j++ {
		if !isDigit(frac[j]) {
			return "", "", false
		}
	}
	return intPart, frac, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
