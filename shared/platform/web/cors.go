package web

import (
	"net/http"
	"strings"
)

// The preflight answer is the same for every route: the API uses no other
// methods or request headers, and browsers may cache it for 10 minutes.
const (
	corsAllowMethods  = "GET, POST, DELETE, OPTIONS"
	corsAllowHeaders  = "Content-Type, Authorization, Idempotency-Key, X-Token-Delivery"
	corsMaxAge        = "600"
	corsExposeHeaders = "X-Request-Id, Retry-After"
)

// cors implements the allowlist. Because credentials (cookies) are allowed,
// the origin is echoed only when it is listed exactly; "*" is never valid.
type cors struct {
	origins []string
}

func newCORS(origins []string) cors {
	for _, o := range origins {
		if strings.TrimSpace(o) == "*" {
			// Configuration refuses "*" at start-up; reaching here is a
			// wiring bug, and failing init is safer than reflecting any
			// origin with credentials.
			panic("web: \"*\" is not a valid allowed origin when credentials are allowed")
		}
	}
	return cors{origins: origins}
}

func (c cors) allowed(origin string) bool {
	if origin == "" {
		return false
	}
	for _, o := range c.origins {
		// Scheme and host are case-insensitive; browsers send them in
		// lower case, the configuration may not.
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// apply sets the CORS headers of r's response and answers a preflight. It
// reports whether the request was a preflight, i.e. whether it is done.
// Vary: Origin is set on every response, since the answer depends on it and
// public responses may sit in shared caches.
func (c cors) apply(w http.ResponseWriter, r *http.Request) (done bool) {
	h := w.Header()
	addVary(h, "Origin")
	origin := r.Header.Get("Origin")
	ok := c.allowed(origin)
	if ok {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	if r.Method != http.MethodOptions {
		return false
	}
	// Every OPTIONS is treated as a preflight and answered here, without
	// authentication or routing: API Gateway's CORS mock cannot hold an
	// allowlist, so the functions answer. A disallowed origin gets no CORS
	// headers, and the browser blocks the real request.
	if ok {
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func addVary(h http.Header, value string) {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}
