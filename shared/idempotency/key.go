package idempotency

import (
	"net/http"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// HeaderName is the request header carrying the key (listed in the CORS allow-list by web).
const HeaderName = "Idempotency-Key"

// MaxKeyLength is the longest key accepted, in bytes (api.md: 1–128 printable characters).
const MaxKeyLength = 128

// keyMessage is the one 422 message for every malformed key: it states the rule without quoting
// the value.
const keyMessage = "must be 1 to 128 printable ASCII characters"

// Key returns the request's Idempotency-Key, or "" when the header is absent (the request is then
// not idempotent). A key that is empty, longer than MaxKeyLength, not printable ASCII (0x20–0x7E)
// or sent more than once is a 422 VALIDATION_ERROR on the field Idempotency-Key: which of two
// keys would we honour?
func Key(r *http.Request) (string, error) {
	values := r.Header.Values(HeaderName)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", web.ValidationError(map[string]string{HeaderName: "must be sent once"})
	}
	k := values[0]
	if !validKey(k) {
		return "", web.ValidationError(map[string]string{HeaderName: keyMessage})
	}
	return k, nil
}

// validKey: printable ASCII only, so a key is safe to store and compare byte for byte (no
// Unicode normalisation question) and cannot carry control characters into anything.
func validKey(k string) bool {
	if k == "" || len(k) > MaxKeyLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}
