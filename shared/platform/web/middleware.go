package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Options configures Wrap.
type Options struct {
	// Function names the Lambda function in log lines ("health").
	Function string
	// AllowedOrigins are the exact browser origins (scheme://host[:port])
	// that get CORS headers. "*" is refused: with credentials allowed it
	// would let any site act as the user. Wrap panics on it.
	AllowedOrigins []string
	// Local is the local server: no Strict-Transport-Security, which would
	// pin localhost to HTTPS in the developer's browser.
	Local bool
	// Logger receives the access log and error lines, one JSON object per
	// line. Nil means slog.Default() at the time of the request.
	Logger *slog.Logger
	// RequestID returns the id the platform already has for r (in AWS the
	// API Gateway request id, which the Lambda adapter puts in the context),
	// so logs join the gateway's. Nil, "" or an unusable value (spaces,
	// control characters, over 128 bytes) means a random id is generated.
	RequestID func(*http.Request) string
	// Classifiers map errors the middleware itself must answer (and, after
	// the Router's own, errors returned by handlers); see WriteError.
	Classifiers []Classifier
	// Now replaces time.Now for latency, in tests.
	Now func() time.Time
}

// Wrap applies the conventions of the API contract around h, outermost first:
//
//  1. request id: X-Request-Id on the response, RequestIDFrom in the context;
//  2. access log: one line per request once it is answered (see logAccess);
//  3. panic recovery: a 500 envelope with a generic message, the stack logged;
//  4. security headers on every response (see MarkPublic for Cache-Control);
//  5. CORS for allowlisted origins; every OPTIONS is answered 204 here;
//  6. request rules: Content-Type and body size (see checkRequest);
//  7. h.
//
// The access log sits outside recovery and the request rules so that every
// request — preflights, rejected bodies and panics included — gets exactly
// one line with its final status.
func Wrap(h http.Handler, opts Options) http.Handler {
	m := &middleware{next: h, opts: opts, cors: newCORS(opts.AllowedOrigins)}
	if m.opts.Now == nil {
		m.opts.Now = time.Now
	}
	return m
}

type middleware struct {
	next http.Handler
	opts Options
	cors cors
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := m.opts.Now()
	info := &requestInfo{
		requestID:   requestID(r, m.opts.RequestID),
		fn:          m.opts.Function,
		logger:      m.opts.Logger,
		classifiers: m.opts.Classifiers,
	}
	// One WithContext for the whole chain: inner layers share this request,
	// so a Pattern set by a ServeMux is visible to the access log.
	r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
	info.ctx = r.Context()
	rw := &responseWriter{ResponseWriter: w, info: info}
	rw.Header().Set("X-Request-Id", info.requestID)

	defer func() { logAccess(r, rw, info, m.opts.Now().Sub(start)) }()
	m.serve(rw, r, info)
}

// serve runs layers 3–7. base is the header set before the handler ran, so a
// panic's 500 drops whatever the handler had set (a Content-Type, a cookie)
// but keeps the security, CORS and request-id headers.
func (m *middleware) serve(rw *responseWriter, r *http.Request, info *requestInfo) {
	var base http.Header
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler { // net/http's way to abort a response on purpose
			info.setAborted()
			panic(p)
		}
		info.log().LogAttrs(r.Context(), slog.LevelError, "panic",
			slog.String("request_id", info.requestID),
			slog.String("function", info.fn),
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		if rw.started() {
			// Too late for an envelope; the access log shows the status
			// that was sent.
			return
		}
		if base != nil {
			h := rw.Header()
			clear(h)
			for k, v := range base {
				h[k] = v
			}
		}
		setSecurityHeaders(rw.Header(), m.opts.Local)
		rw.Header().Set("X-Request-Id", info.requestID)
		writeEnvelope(rw, info, internalError(fmt.Errorf("panic: %v", p)))
	}()

	setSecurityHeaders(rw.Header(), m.opts.Local)
	if m.cors.apply(rw, r) {
		return
	}
	if e := m.checkRequest(r); e != nil {
		writeEnvelope(rw, info, e)
		return
	}
	if r.Body == nil { // requests built by hand in tests
		r.Body = http.NoBody
	}
	r.Body = http.MaxBytesReader(rw.ResponseWriter, r.Body, MaxBodyBytes) // the server's writer, so it can close the connection
	base = rw.Header().Clone()
	m.next.ServeHTTP(rw, r)
}

// checkRequest enforces the request rules of the contract before any
// handler runs, so a rejected request changes nothing:
//
//   - a body announced larger than MaxBodyBytes is 413 at once (a body that
//     streams past it fails when read, through http.MaxBytesReader);
//   - a POST, PUT, PATCH or DELETE must be labelled application/json (any
//     parameters, media type compared case-insensitively), else 415 even with
//     an empty body; without Content-Type (or with an empty one) it is
//     accepted only if the body is empty. HTML forms can send only form or text/plain types, so this rule
//     and the CORS allowlist are the CSRF defence for cookie auth.
//
// It may replace r.Body when it had to read it to learn that it is empty.
func (m *middleware) checkRequest(r *http.Request) *Error {
	if r.ContentLength > MaxBodyBytes {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: payloadTooLargeMessage}
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil
	}
	values := r.Header.Values("Content-Type")
	if len(values) > 1 {
		return unsupportedMediaType()
	}
	if len(values) == 1 && strings.TrimSpace(values[0]) != "" {
		mediaType, _, err := mime.ParseMediaType(values[0])
		if err != nil || mediaType != "application/json" {
			return unsupportedMediaType()
		}
		return nil
	}
	// No Content-Type: only an empty body is acceptable.
	if r.ContentLength > 0 {
		return unsupportedMediaType()
	}
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		var one [1]byte
		n, err := io.ReadFull(r.Body, one[:])
		if n > 0 {
			return unsupportedMediaType()
		}
		if err != io.EOF {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
				Message: "Request body could not be read", Cause: err}
		}
		r.Body = http.NoBody
		r.ContentLength = 0
	}
	return nil
}

func unsupportedMediaType() *Error {
	return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
		Message: "Content-Type must be application/json"}
}

// responseWriter records what the access log and WriteError need to know:
// the status, and whether the response has started. It carries the request
// info so WriteJSON, which gets no request, can still log with the request id.
type responseWriter struct {
	http.ResponseWriter
	info   *requestInfo
	status int // 0 until the final (non-1xx) header is written
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 && status >= 200 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming working for handlers that type-assert http.Flusher.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) started() bool { return w.status != 0 }

// statusCode is what the client got: net/http sends 200 when a handler
// writes nothing.
func (w *responseWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// findWriter finds the middleware's writer under any wrappers that follow
// the Unwrap convention of http.ResponseController.
func findWriter(w http.ResponseWriter) *responseWriter {
	for w != nil {
		if rw, ok := w.(*responseWriter); ok {
			return rw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
