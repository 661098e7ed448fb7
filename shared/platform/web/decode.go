package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body accepted (64 KiB). No request of
// the API comes close; the limit bounds memory per request.
const MaxBodyBytes = 64 << 10

const payloadTooLargeMessage = "Request body too large"

// DecodeJSON decodes the request body into dst, a pointer (usually to a
// struct or a map), and returns an *Error ready for WriteError on failure:
//
//   - an empty body (only whitespace) returns nil and leaves dst untouched,
//     because the frontend POSTs empty bodies labelled JSON;
//   - a body over MaxBodyBytes is 413 PAYLOAD_TOO_LARGE;
//   - invalid UTF-8, invalid JSON or data after the value is 400 INVALID_JSON;
//   - a top-level value that is not an object while dst is a struct or map is
//     422 VALIDATION_ERROR on field "body";
//   - a JSON value of the wrong type for a field is 422 VALIDATION_ERROR
//     naming the field by its JSON name ("must be a string", ...).
//
// Unknown fields are ignored, as the contract requires. A dst that is not a
// non-nil pointer is a programming error and yields a 500.
func DecodeJSON(r *http.Request, dst any) error {
	var body io.Reader = http.NoBody
	if r != nil && r.Body != nil {
		body = r.Body
	}
	// Limit here too, so DecodeJSON is safe even outside Wrap; a second
	// MaxBytesReader under the middleware's is harmless.
	raw, err := io.ReadAll(http.MaxBytesReader(nil, io.NopCloser(body), MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge,
				Message: payloadTooLargeMessage, Cause: err}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: "Request body could not be read", Cause: err}
	}
	raw = bytes.Trim(raw, " \t\r\n") // JSON whitespace only
	if len(raw) == 0 {
		return nil
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; the
	// contract says UTF-8, so reject rather than store altered text.
	if !utf8.Valid(raw) {
		return invalidJSON("Request body is not valid UTF-8", nil)
	}
	// Valid checks the whole input, so trailing data after the value
	// ("{} {}", "{}x") is rejected here as well.
	if !json.Valid(raw) {
		var v any
		return invalidJSON("Request body is not valid JSON", json.Unmarshal(raw, &v))
	}
	if raw[0] != '{' && wantsObject(dst) {
		return ValidationError(map[string]string{"body": "must be a JSON object"})
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func invalidJSON(message string, cause error) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: message, Cause: cause}
}

// wantsObject reports whether dst ultimately points at a struct or a map,
// which only a JSON object can fill (json.Unmarshal would silently accept
// null into them).
func wantsObject(dst any) bool {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map)
}

// decodeError maps an error of json.Unmarshal on syntactically valid JSON.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var invalidDst *json.InvalidUnmarshalError
	var e *Error
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		ve := ValidationError(map[string]string{field: typeMessage(typeErr)})
		ve.Cause = err
		return ve
	case errors.As(err, &invalidDst):
		return internalError(err)
	case errors.As(err, &e):
		// A field type's UnmarshalJSON chose its own answer.
		return err
	default:
		// A field type's UnmarshalJSON rejected its value (a malformed
		// decimal, say). Its message is not sent: it may quote the input.
		ve := ValidationError(map[string]string{"body": "contains an invalid value"})
		ve.Cause = err
		return ve
	}
}

// typeMessage says what a field expects, in terms clients can act on
// ("must be a string", not "cannot unmarshal string into int64"). It never
// quotes the value.
func typeMessage(e *json.UnmarshalTypeError) string {
	t := e.Type
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "has the wrong type"
	}
	// For a number that did not fit, Value is "number <literal>".
	literal, number := strings.CutPrefix(e.Value, "number")
	literal = strings.TrimSpace(literal)
	switch t.Kind() {
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if number && literal != "" && !strings.ContainsAny(literal, ".eE") {
			return "is out of range"
		}
		return "must be an integer"
	case reflect.Float32, reflect.Float64:
		if number {
			return "is out of range"
		}
		return "must be a number"
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return "must be a base64 string"
		}
		return "must be an array"
	case reflect.Struct, reflect.Map:
		return "must be an object"
	}
	return "has the wrong type"
}
