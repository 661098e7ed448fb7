package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// requestInfo is the per-request record shared by the middleware, the Router,
// WriteError and the auth guard. It lives in the request context as a
// pointer, so inner layers can fill in what the outer access log reports
// (route, user, error code) without wrapping the request again.
type requestInfo struct {
	requestID   string
	fn          string
	logger      *slog.Logger
	classifiers []Classifier
	ctx         context.Context // for log handlers that read the context

	mu        sync.Mutex // handlers may report from their own goroutines
	route     string
	userID    string
	errorCode string
	aborted   bool // the handler aborted the response with http.ErrAbortHandler
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ctx == nil {
		return nil
	}
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// The accessors below accept a nil receiver so that WriteJSON and WriteError
// also work outside Wrap (in tests, or behind another middleware).

func (i *requestInfo) id() string {
	if i == nil {
		return ""
	}
	return i.requestID
}

func (i *requestInfo) function() string {
	if i == nil {
		return ""
	}
	return i.fn
}

func (i *requestInfo) log() *slog.Logger {
	if i == nil || i.logger == nil {
		return slog.Default()
	}
	return i.logger
}

func contextOf(i *requestInfo) context.Context {
	if i == nil || i.ctx == nil {
		return context.Background()
	}
	return i.ctx
}

func (i *requestInfo) setErrorCode(code string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.errorCode = code
	i.mu.Unlock()
}

func (i *requestInfo) setRoute(pattern string) {
	if i == nil {
		return
	}
	i.mu.Lock()
	i.route = pattern
	i.mu.Unlock()
}

func (i *requestInfo) setAborted() {
	i.mu.Lock()
	i.aborted = true
	i.mu.Unlock()
}

func (i *requestInfo) snapshot() (route, userID, errorCode string, aborted bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.route, i.userID, i.errorCode, i.aborted
}

// SetUserID records the authenticated user for the access log. The auth
// guard calls it once the token is verified; outside Wrap it does nothing.
func SetUserID(ctx context.Context, userID string) {
	info := infoFrom(ctx)
	if info == nil {
		return
	}
	info.mu.Lock()
	info.userID = userID
	info.mu.Unlock()
}

// logAccess writes the one access-log line of a request. It lists only
// fields chosen here: never headers, bodies, cookies or the query string,
// which may carry tokens, passwords or codes. The route is the matched
// pattern, not the raw path.
func logAccess(r *http.Request, rw *responseWriter, info *requestInfo, latency time.Duration) {
	route, userID, errorCode, aborted := info.snapshot()
	if route == "" {
		// Another ServeMux-based handler sets Pattern on the request we
		// passed down.
		route = r.Pattern
	}
	status := rw.statusCode()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("request_id", info.requestID),
		slog.String("function", info.fn),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(latency.Microseconds())/1000),
		slog.String("user_id", userID),
		slog.String("error_code", errorCode),
	}
	if aborted {
		// The status above may never have reached the client.
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	info.log().LogAttrs(r.Context(), level, "request", attrs...)
}
