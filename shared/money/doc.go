// Package money holds the fixed-point amounts of CryptoVault: USD in cents, coin quantities and
// prices in 1e-8 units, all int64. Binary floating point never touches money: text is parsed digit
// by digit (never through strconv.ParseFloat), JSON numbers are read from their raw text, and
// products are computed in 128 bits with an explicit rounding mode.
//
// Input rules (api.md "Money and quantities"): a value is written as a JSON number without sign or
// exponent — digits, then optionally a point and at least one digit; no leading zeros ("0.5", not
// "00.5" or ".5"); at most 2 decimals for USD and 8 for quantities and prices (trailing zeros beyond
// that are accepted, since "0.50" and "0.5" are the same value). A numeric string must hold exactly
// such a number, so a value is accepted quoted if and only if it is accepted unquoted. Parsing accepts
// zero; callers that need a positive amount call CheckPositive. Negative values exist (signed
// adjustment entries) but are never parsed from input.
//
// Output: MarshalJSON writes a JSON number — USD always with 2 decimals ("32500.06", "10000.00"),
// quantities and prices with trailing zeros trimmed ("0.5", "1") — and String returns the same text.
//
// Errors carry a kind (ErrSyntax, ErrTooManyDecimals, ErrNegative, ErrZero, ErrOutOfRange) matched
// with errors.Is; FieldError turns one into the 422 field message. encoding/json does not tell an
// Unmarshaler which field it fills, so a handler that wants the field name in its 422 decodes the
// field as json.RawMessage and calls UnmarshalJSON on it itself.
package money
