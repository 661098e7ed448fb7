package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/cryptovault/serverless/shared/money"
)

// Upstream figures arrive as JSON numbers (CoinGecko) or numeric strings (the file feed). They are
// kept as json.RawMessage so that encoding/json never turns them into float64, and converted here
// from their text. Each function returns a short reason on failure, for the "quote dropped"
// warning; reasons never quote the value, which is upstream data of unknown size.

// errAbsent reports a field that is missing or JSON null.
var errAbsent = errors.New("missing")

// decimalText returns the decimal text of a JSON number or of a JSON string holding one.
func decimalText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", errAbsent
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errors.New("not a number")
		}
		return s, nil
	}
	return string(raw), nil
}

// parsePrice reads a required, positive price, rounded half away from zero to 8 decimals (a price
// below 0.000000005 rounds to zero and is refused like any zero price).
func parsePrice(raw json.RawMessage) (money.Price, error) {
	text, err := decimalText(raw)
	if err != nil {
		return 0, err
	}
	v, err := money.ParseDecimalRounded(text, money.PriceDecimals, int64(money.MaxPrice))
	if err != nil {
		return 0, describe(err)
	}
	if v <= 0 {
		return 0, errors.New("not positive")
	}
	return money.Price(v), nil
}

// parseChange reads an optional percentage; absent or null is 0 (CoinGecko sends null for a coin
// without 24 h of data, which must not cost the coin its price).
func parseChange(raw json.RawMessage) (money.Percent, error) {
	text, err := decimalText(raw)
	if errors.Is(err, errAbsent) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := money.ParsePercentDecimal(text)
	if err != nil {
		return 0, describe(err)
	}
	return v, nil
}

// parseWholeUSD reads an optional, non-negative dollar figure rounded to whole dollars (market
// caps and volumes); absent or null is 0.
func parseWholeUSD(raw json.RawMessage) (int64, error) {
	text, err := decimalText(raw)
	if errors.Is(err, errAbsent) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := parseWhole(text, MaxWholeUSD)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, errors.New("negative")
	}
	return v, nil
}

// parseWhole reads an integral figure (rounded half away from zero) bounded by limit.
func parseWhole(text string, limit int64) (int64, error) {
	v, err := money.ParseDecimalRounded(text, 0, limit)
	if err != nil {
		return 0, describe(err)
	}
	return v, nil
}

// parseTime reads an optional RFC 3339 time; absent, null or empty gives the zero time.
func parseTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("not a string")
	}
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 time")
	}
	return t.UTC(), nil
}

// describe turns a money error into a short reason without the value.
func describe(err error) error {
	switch {
	case errors.Is(err, money.ErrOutOfRange):
		return errors.New("out of range")
	case errors.Is(err, money.ErrSyntax):
		return errors.New("not a number")
	}
	return err
}
