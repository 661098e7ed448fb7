package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes of the envelope's "code" field. They are part of the API
// contract: clients branch on them, so they never change spelling. Packages
// with their own codes (auth, orders, ...) define them next to their handlers.
const (
	CodeValidation           = "VALIDATION_ERROR"       // 422, with "fields"
	CodeInvalidJSON          = "INVALID_JSON"           // 400
	CodeNotFound             = "NOT_FOUND"              // 404
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"     // 405, with Allow
	CodePayloadTooLarge      = "PAYLOAD_TOO_LARGE"      // 413
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE" // 415
	CodeRateLimited          = "RATE_LIMITED"           // 429, with Retry-After
	CodeInternal             = "INTERNAL_ERROR"         // 500
	CodeDatabaseUnavailable  = "DATABASE_UNAVAILABLE"   // 503
	CodeSecretsUnavailable   = "SECRETS_UNAVAILABLE"    // 503
	CodePriceStale           = "PRICE_STALE"            // 503
	CodeTimeout              = "TIMEOUT"                // 503
)

// internalMessage is the only message a 500 built by this package carries:
// a 5xx must never reveal internals, the request id leads to the log line.
const internalMessage = "Internal server error"

// Sentinel errors that other packages wrap (fmt.Errorf("...: %w", web.ErrX))
// to report a dependency failure without importing anything HTTP-specific
// beyond this package. WriteError maps each to its 503 code.
var (
	// ErrDatabaseUnavailable means the database could not be reached or
	// did not answer in time; maps to 503 DATABASE_UNAVAILABLE.
	ErrDatabaseUnavailable = errors.New("database unavailable")
	// ErrSecretsUnavailable means a secret (JWT keys, database URI) could not
	// be read; maps to 503 SECRETS_UNAVAILABLE.
	ErrSecretsUnavailable = errors.New("secrets unavailable")
	// ErrPriceStale means the price cache is too old to trade on; maps to
	// 503 PRICE_STALE.
	ErrPriceStale = errors.New("price data stale")
	// ErrTimeout means the request ran out of its time budget; maps to
	// 503 TIMEOUT (as does context.DeadlineExceeded).
	ErrTimeout = errors.New("timeout")
)

// Error is an HTTP error that a handler returns (or wraps) to choose exactly
// what the client sees. Everything except Cause is sent; Cause is only logged,
// so a handler can attach the underlying failure without leaking it.
type Error struct {
	Status     int               // HTTP status, 4xx or 5xx
	Code       string            // UPPER_SNAKE code, the envelope's "code"
	Message    string            // human message; sent as both "error" and "detail"
	Fields     map[string]string // per-field messages, sent as "fields" (422 VALIDATION_ERROR)
	RetryAfter time.Duration     // when > 0, sets Retry-After in whole seconds, rounded up
	Allow      []string          // for 405: the methods sent in the Allow header
	Cause      error             // internal cause: logged for 5xx, never sent
}

// Error describes the error for logs; it includes the cause, which is why it
// is never used as a response body.
func (e *Error) Error() string {
	s := fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap exposes the cause so errors.Is/As see through an *Error.
func (e *Error) Unwrap() error { return e.Cause }

// NewError builds an *Error; an empty message falls back to the status text so
// the envelope never carries an empty "error".
func NewError(status int, code, message string) *Error {
	if message == "" {
		message = http.StatusText(status)
	}
	return &Error{Status: status, Code: code, Message: message}
}

// ValidationError builds the 422 VALIDATION_ERROR for per-field failures. The
// message lists the fields (sorted, so it is stable) because the frontend
// shows "error" to the user; "fields" carries the same for forms.
func ValidationError(fields map[string]string) *Error {
	copied := make(map[string]string, len(fields))
	for k, v := range fields {
		copied[k] = v
	}
	return &Error{
		Status:  http.StatusUnprocessableEntity,
		Code:    CodeValidation,
		Message: validationMessage(copied),
		Fields:  copied,
	}
}

// Classifier maps an error it recognises to the *Error to send, and returns
// nil for anything else. Packages that own a dependency (the Mongo client, the
// secrets cache) provide one, so this package needs to import neither.
type Classifier func(error) *Error

// resolve picks the *Error to send for err. The order matters: an explicit
// *Error is the handler's own decision, classifiers know more than the generic
// sentinels, and anything unrecognised becomes a generic 500.
func resolve(err error, classifiers []Classifier) *Error {
	var e *Error
	if errors.As(err, &e) {
		return sanitize(e, err)
	}
	for _, c := range classifiers {
		if c == nil {
			continue
		}
		if e := c(err); e != nil {
			return sanitize(e, err)
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.Is(err, ErrDatabaseUnavailable):
		return unavailable(CodeDatabaseUnavailable, "Database temporarily unavailable", err)
	case errors.Is(err, ErrSecretsUnavailable):
		return unavailable(CodeSecretsUnavailable, "Service temporarily unavailable", err)
	case errors.Is(err, ErrPriceStale):
		return unavailable(CodePriceStale, "Price data is temporarily stale", err)
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return unavailable(CodeTimeout, "Request timed out", err)
	case errors.As(err, &tooLarge):
		// A handler that reads the (limited) body itself and returns the
		// error still gets the right answer.
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
			Message: payloadTooLargeMessage, Cause: err}
	}
	return internalError(err)
}

// sanitize returns a copy of e (classifiers may return shared values, which
// must not be mutated) with the original error as cause for the log, and
// repairs values that would break the envelope: a status outside 4xx/5xx is
// a programming error and becomes a 500.
func sanitize(e *Error, orig error) *Error {
	c := *e
	if c.Status < 400 || c.Status > 599 {
		return internalError(orig)
	}
	if c.Cause == nil && orig != error(e) {
		c.Cause = orig
	}
	if c.Code == "" {
		c.Code = defaultCode(c.Status)
	}
	if c.Message == "" {
		c.Message = http.StatusText(c.Status)
	}
	return &c
}

func unavailable(code, message string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: code, Message: message, Cause: cause}
}

func internalError(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: internalMessage, Cause: cause}
}

// defaultCode fills in a missing code so the envelope always has one.
func defaultCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BAD_REQUEST"
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusUnsupportedMediaType:
		return CodeUnsupportedMediaType
	case http.StatusUnprocessableEntity:
		return CodeValidation
	case http.StatusTooManyRequests:
		return CodeRateLimited
	}
	if status >= 500 {
		return CodeInternal
	}
	return "ERROR"
}
