package money

import (
	"errors"
	"fmt"
)

// Kinds of error. Every error of this package matches exactly one of them with errors.Is.
var (
	// ErrSyntax: not a plain decimal number (empty, letters, exponent, sign, NaN, Infinity, "1.",
	// ".5", leading zeros, whitespace, a JSON value that is neither number nor string).
	ErrSyntax = errors.New("not a decimal number")
	// ErrTooManyDecimals: a non-zero digit beyond the type's decimals.
	ErrTooManyDecimals = errors.New("too many decimals")
	// ErrNegative: a minus sign on input, or a negative value where a positive one is required.
	ErrNegative = errors.New("negative")
	// ErrZero: zero where a positive value is required (CheckPositive).
	ErrZero = errors.New("zero")
	// ErrOutOfRange: the value exceeds the type's maximum (MaxUSD, MaxQuantity, MaxPrice), on
	// input or as the result of arithmetic. Values never wrap around.
	ErrOutOfRange = errors.New("out of range")
)

// Error is a parse, validation or range error. It never quotes the input, so it is safe to log.
type Error struct {
	Kind     error  // one of the Err* kinds
	What     string // "USD amount", "quantity" or "price"
	Decimals int    // the type's decimals
	Max      string // the type's maximum, formatted
}

// Error describes the failure for logs.
func (e *Error) Error() string {
	return fmt.Sprintf("money: %s: %v", e.What, e.Kind)
}

// Unwrap returns the kind, so that errors.Is(err, ErrZero) and friends work.
func (e *Error) Unwrap() error { return e.Kind }

// FieldError returns the message a 422 VALIDATION_ERROR shows for a field whose value failed to
// parse or validate, e.g. "must be a positive amount with at most 8 decimals". It never quotes the
// input. Errors not from this package give "is invalid".
func FieldError(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		return "is invalid"
	}
	switch e.Kind {
	case ErrTooManyDecimals:
		return fmt.Sprintf("must have at most %d decimals", e.Decimals)
	case ErrZero:
		return "must be greater than 0"
	case ErrNegative:
		return "must not be negative"
	case ErrOutOfRange:
		return "must be at most " + e.Max
	default:
		return fmt.Sprintf("must be a positive amount with at most %d decimals", e.Decimals)
	}
}
