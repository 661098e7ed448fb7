package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// RequestIDFrom returns the id of the request whose context is ctx, or ""
// outside Wrap. Code that logs on its own (audit writes, background work tied
// to a request) uses it so every line of a request can be found together.
func RequestIDFrom(ctx context.Context) string {
	return infoFrom(ctx).id()
}

// requestID returns the platform's id when it provides a usable one (in AWS,
// the API Gateway request id, so our logs join the gateway's access log) and
// a fresh random id otherwise. A client-sent X-Request-Id is not trusted: it
// would let a caller forge log correlation.
func requestID(r *http.Request, hook func(*http.Request) string) string {
	if hook != nil {
		if id := hook(r); validRequestID(id) {
			return id
		}
	}
	return newRequestID()
}

// validRequestID keeps the id safe to echo in a header and a log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex. crypto/rand never fails on
// supported platforms (it crashes the program instead), so no error path.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
