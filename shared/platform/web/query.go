package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Paging defaults and bounds of the API contract ("Lists"), shared by every
// list route so that none of them drifts.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is a validated limit/offset pair of a list request.
type Page struct {
	Limit  int
	Offset int
}

// Fields collects per-field validation problems so that a request with
// several bad values is answered with one 422 naming all of them: a client
// fixing one field at a time would otherwise need a round trip per field.
// The zero value is ready to use.
type Fields struct {
	m map[string]string
}

// Add records a problem with field. The first problem of a field wins: it is
// the most basic one (repeated, then not an integer, then out of range), and
// a later check must not hide it.
func (f *Fields) Add(field, message string) {
	if f.m == nil {
		f.m = map[string]string{}
	}
	if _, ok := f.m[field]; !ok {
		f.m[field] = message
	}
}

// Has reports whether field already has a problem, so a caller can skip
// checks that would only repeat it.
func (f *Fields) Has(field string) bool {
	_, ok := f.m[field]
	return ok
}

// Err returns nil when nothing was added, else the 422 VALIDATION_ERROR
// carrying every field's message.
func (f *Fields) Err() error {
	if len(f.m) == 0 {
		return nil
	}
	return ValidationError(f.m)
}

// Query reads a request's query parameters under the contract's rules — an
// empty value means the default; a repeated parameter or a value outside the
// documented type, set or range is 422, never clamped or silently replaced —
// and collects every problem in its embedded Fields:
//
//	q := web.NewQuery(r)
//	page := q.Page()
//	format := q.String("format", "json", "json", "csv")
//	if err := q.Err(); err != nil {
//		return err
//	}
//
// Parameters that a route does not read are ignored.
type Query struct {
	Fields
	values url.Values
}

// NewQuery parses r's query string. A query string that cannot be parsed
// (a bad percent escape, a semicolon) is reported as field "query": its
// pairs cannot be trusted, and dropping them silently would turn a bad value
// into a default. (API Gateway decodes the query itself, so this only
// happens on the local server.)
func NewQuery(r *http.Request) *Query {
	q := &Query{}
	raw := ""
	if r != nil && r.URL != nil {
		raw = r.URL.RawQuery
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		q.Add("query", "is not a valid query string")
	}
	q.values = values
	return q
}

// value returns the single raw value of name; ok is false when the
// parameter is absent or empty (the default applies) or repeated (recorded).
func (q *Query) value(name string) (string, bool) {
	vs := q.values[name]
	switch {
	case len(vs) > 1:
		// Which one would we take? Any choice hides the client's mistake.
		q.Add(name, "must not be repeated")
		return "", false
	case len(vs) == 0 || vs[0] == "":
		return "", false
	}
	return vs[0], true
}

// Int returns the integer parameter name: def when absent or empty, else a
// base-10 integer in [min, max]. Anything else (a sign other than a leading
// "-", spaces, decimals, exponents, a value too large for int) is recorded
// and def is returned. Pass math.MaxInt as max for "no upper bound".
func (q *Query) Int(name string, def, min, max int) int {
	s, ok := q.value(name)
	if !ok {
		return def
	}
	if !isDecimalInteger(s) {
		q.Add(name, "must be an integer")
		return def
	}
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil || int(n) < min || int(n) > max {
		// A value that overflows int is out of range too, not a reason to
		// fall back to the default.
		q.Add(name, rangeMessage(min, max))
		return def
	}
	return int(n)
}

// String returns the parameter name: def when absent or empty, else its
// value, which must be one of allowed when any are given (compared exactly:
// the documented spellings are the only ones). A value outside allowed is
// recorded and def is returned.
func (q *Query) String(name, def string, allowed ...string) string {
	s, ok := q.value(name)
	if !ok {
		return def
	}
	if len(allowed) > 0 && !slices.Contains(allowed, s) {
		q.Add(name, "must be one of "+strings.Join(allowed, ", "))
		return def
	}
	return s
}

// Page returns the contract's limit (default 50, 1–200) and offset (default
// 0, at least 0).
func (q *Query) Page() Page {
	return Page{
		Limit:  q.Int("limit", DefaultLimit, 1, MaxLimit),
		Offset: q.Int("offset", 0, 0, math.MaxInt),
	}
}

// ParsePage reads limit and offset from r; both are checked, so one 422
// names every bad field.
func ParsePage(r *http.Request) (Page, error) {
	q := NewQuery(r)
	p := q.Page()
	return p, q.Err()
}

// QueryInt reads one integer parameter; see Query.Int. The error is a 422
// VALIDATION_ERROR naming the parameter.
func QueryInt(r *http.Request, name string, def, min, max int) (int, error) {
	q := NewQuery(r)
	n := q.Int(name, def, min, max)
	return n, q.Err()
}

// QueryString reads one string parameter; see Query.String. The error is a
// 422 VALIDATION_ERROR naming the parameter.
func QueryString(r *http.Request, name, def string, allowed ...string) (string, error) {
	q := NewQuery(r)
	s := q.String(name, def, allowed...)
	return s, q.Err()
}

// isDecimalInteger accepts an optional leading "-" and one or more ASCII
// digits. strconv alone would also accept "+5" and, with base 0, "0x10" or
// "1_000": spellings the contract does not document.
func isDecimalInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// rangeMessage states the documented range, so a client can correct the
// value without reading the docs.
func rangeMessage(min, max int) string {
	if max == math.MaxInt {
		return fmt.Sprintf("must be an integer of at least %d", min)
	}
	return fmt.Sprintf("must be between %d and %d", min, max)
}
