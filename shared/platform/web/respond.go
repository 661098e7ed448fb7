package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const contentTypeJSON = "application/json; charset=utf-8"

// envelope is the one error body of the API. "error" and "detail" carry the
// same message because the frontend reads "error" and older clients "detail".
type envelope struct {
	Error     string `json:"error"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
	// Fields is an interface so that a VALIDATION_ERROR with no fields still
	// sends "fields": {} while other errors omit the key.
	Fields any `json:"fields,omitempty"`
}

// WriteJSON writes v as the JSON response body with the given status.
// v is encoded before anything is sent, so an encoding failure (a programming
// error) is logged and answered with a clean 500 envelope instead of a
// truncated body under a 2xx status. Every 2xx of the API has a JSON body
// (the frontend parses each one), so it is not meant for 204.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		rw := findWriter(w)
		var info *requestInfo
		if rw != nil {
			info = rw.info
		}
		info.log().LogAttrs(contextOf(info), slog.LevelError, "response encoding failed",
			slog.String("request_id", info.id()),
			slog.String("function", info.function()),
			slog.String("error", err.Error()),
		)
		writeEnvelope(w, info, internalError(err))
		return
	}
	writeBody(w, status, b)
}

// WriteError answers err with the error envelope. The *Error sent is chosen
// in this order: an *Error found with errors.As; the first of classifiers
// (then the Options.Classifiers of the middleware) that recognises err; the
// sentinels ErrDatabaseUnavailable, ErrSecretsUnavailable, ErrPriceStale,
// ErrTimeout and context.DeadlineExceeded (503); an *http.MaxBytesError
// (413); otherwise 500 INTERNAL_ERROR with a fixed message.
//
// A 5xx is logged at error level with its cause and the request id; the
// cause of a 4xx is not logged, since it may quote client input. The code is
// recorded for the access log. If the response has already started nothing
// can be sent any more, and the error is only logged.
func WriteError(w http.ResponseWriter, r *http.Request, err error, classifiers ...Classifier) {
	var info *requestInfo
	if r != nil {
		info = infoFrom(r.Context())
	}
	if info == nil {
		if rw := findWriter(w); rw != nil {
			info = rw.info
		}
	}
	if info != nil && len(info.classifiers) > 0 {
		classifiers = append(classifiers[:len(classifiers):len(classifiers)], info.classifiers...)
	}
	e := resolve(err, classifiers)
	if e.Status >= 500 {
		info.log().LogAttrs(contextOf(info), slog.LevelError, "request error",
			slog.String("request_id", info.id()),
			slog.String("function", info.function()),
			slog.Int("status", e.Status),
			slog.String("code", e.Code),
			slog.String("error", err.Error()),
		)
	}
	writeEnvelope(w, info, e)
}

// writeEnvelope sends e without logging it; callers decide what to log.
func writeEnvelope(w http.ResponseWriter, info *requestInfo, e *Error) {
	info.setErrorCode(e.Code)
	if rw := findWriter(w); rw != nil && rw.started() {
		info.log().LogAttrs(contextOf(info), slog.LevelError, "error after response started",
			slog.String("request_id", info.id()),
			slog.String("function", info.function()),
			slog.String("code", e.Code),
		)
		return
	}
	h := w.Header()
	// An error is never cacheable, even if the handler had marked the
	// response public before failing.
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(ceilSeconds(e.RetryAfter), 10))
	}
	if len(e.Allow) > 0 {
		h.Set("Allow", strings.Join(e.Allow, ", "))
	}
	env := envelope{Error: e.Message, Detail: e.Message, Code: e.Code, RequestID: info.id()}
	if len(e.Fields) > 0 || e.Code == CodeValidation {
		fields := e.Fields
		if fields == nil {
			fields = map[string]string{}
		}
		env.Fields = fields
	}
	b, err := json.Marshal(env)
	if err != nil { // cannot happen: only strings
		b = []byte(`{"error":"Internal server error","detail":"Internal server error","code":"INTERNAL_ERROR","request_id":""}`)
	}
	writeBody(w, e.Status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", contentTypeJSON)
	w.WriteHeader(status)
	b = append(b, '\n')
	_, _ = w.Write(b) // a write error means the client is gone; nothing to do
}

// ceilSeconds rounds up so a client that waits Retry-After seconds is never
// early.
func ceilSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// validationMessage is the human message of a VALIDATION_ERROR: it names the
// fields, because the frontend displays "error" as is.
func validationMessage(fields map[string]string) string {
	if len(fields) == 0 {
		return "Validation failed"
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+fields[k])
	}
	return "Validation failed: " + strings.Join(parts, "; ")
}
