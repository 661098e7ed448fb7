package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// HandlerFunc is a handler that returns its failure instead of writing it, so
// that every error goes through WriteError and gets the envelope, the right
// status and the log line — and no handler can send an internal message.
// A handler that returns an error must not have written the response.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// RouterOptions configures a Router.
type RouterOptions struct {
	// Classifiers map errors of other packages (the database, the secrets
	// cache) to envelopes; see Classifier and WriteError.
	Classifiers []Classifier
}

// Router is a net/http ServeMux whose misses answer with the error envelope
// (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow) instead of ServeMux's
// plain-text pages, and whose handlers return errors.
type Router struct {
	mux         *http.ServeMux
	classifiers []Classifier
	patterns    map[string]bool
}

// NewRouter returns an empty Router.
func NewRouter(opts RouterOptions) *Router {
	return &Router{
		mux:         http.NewServeMux(),
		classifiers: opts.Classifiers,
		patterns:    map[string]bool{},
	}
}

// Handle registers h for pattern, a ServeMux pattern that must start with a
// method ("GET /api/status", "DELETE /api/orders/{id}"): every route declares
// its method so the routes can be compared with template.yaml, and so no
// handler is reached by a method it does not expect. A GET route also serves
// HEAD, as ServeMux does. Use "{$}" to match a path ending in "/" exactly
// ("GET /api/{$}"); a bare trailing slash matches the whole subtree.
// Handle panics on a pattern without a method, a nil handler, or a pattern
// ServeMux rejects (including a duplicate).
func (rt *Router) Handle(pattern string, h HandlerFunc) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || path == "" || !isToken(method) {
		panic(fmt.Sprintf("web: route %q must start with a method, as in \"GET /api/status\"", pattern))
	}
	if h == nil {
		panic(fmt.Sprintf("web: nil handler for route %q", pattern))
	}
	normalized := method + " " + path
	rt.mux.Handle(normalized, &route{pattern: normalized, h: h, classifiers: rt.classifiers})
	rt.patterns[normalized] = true
}

// route is the http.Handler registered for each pattern. Its distinct type
// lets ServeHTTP tell a real match from ServeMux's redirect handlers, which
// also come back from ServeMux.Handler with a pattern.
type route struct {
	pattern     string
	h           HandlerFunc
	classifiers []Classifier
}

func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	infoFrom(r.Context()).setRoute(rt.pattern)
	if err := rt.h(w, r); err != nil {
		WriteError(w, r, err, rt.classifiers...)
	}
}

// isToken reports whether s is an HTTP method token in upper case (ServeMux
// would accept "get", which then never matches).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// Routes returns the registered patterns ("GET /api/status"), sorted, so a
// test can check them against the routes of template.yaml.
func (rt *Router) Routes() []string {
	out := make([]string, 0, len(rt.patterns))
	for p := range rt.patterns {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// ServeHTTP dispatches r. ServeMux itself decides between a match, a 404 and
// a 405 (with the methods for Allow); only its answer for the misses is
// replaced by the envelope. ServeMux's redirects (to a cleaned path, or to
// add a trailing slash) are answered 404 too: behind an API Gateway stage the
// Location would lack the stage prefix, and the contract has no redirects.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if _, ok := h.(*route); ok {
		rt.mux.ServeHTTP(w, r) // sets r.Pattern and the path values
		return
	}
	if pattern == "" {
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			var allow []string
			for _, m := range strings.Split(rec.header.Get("Allow"), ",") {
				if m = strings.TrimSpace(m); m != "" {
					allow = append(allow, m)
				}
			}
			WriteError(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: "Method not allowed", Allow: allow})
			return
		}
	}
	WriteError(w, r, NewError(http.StatusNotFound, CodeNotFound, "Not found"))
}

// headerRecorder captures what ServeMux's miss handlers write, to learn the
// status and the Allow header; the body is discarded.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }

func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}

func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}
