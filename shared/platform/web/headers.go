package web

import (
	"net/http"
	"strconv"
	"time"
)

// hstsValue asks browsers to use HTTPS only for two years, subdomains
// included. It is omitted locally, where the server speaks plain HTTP on
// 127.0.0.1 and the header would pin localhost to HTTPS in the browser.
const hstsValue = "max-age=63072000; includeSubDomains"

// setSecurityHeaders sets the headers every response carries, errors and
// preflights included. They are set before the handler runs so no path can
// skip them; Cache-Control starts as no-store because responses hold
// per-user data unless a handler says otherwise with MarkPublic.
func setSecurityHeaders(h http.Header, local bool) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if !local {
		h.Set("Strict-Transport-Security", hstsValue)
	}
	h.Set("Cache-Control", "no-store")
}

// MarkPublic lets a handler of public data (market prices) be cached by
// browsers and shared caches for maxAge, replacing the default no-store.
// Call it before writing the response. An error envelope written later is
// still sent no-store.
func MarkPublic(w http.ResponseWriter, maxAge time.Duration) {
	secs := int64(maxAge / time.Second)
	if secs < 0 {
		secs = 0
	}
	w.Header().Set("Cache-Control", "public, max-age="+strconv.FormatInt(secs, 10))
}
