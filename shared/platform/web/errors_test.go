package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func TestWriteErrorResolution(t *testing.T) {
	shared := web.NewError(http.StatusConflict, "SHARED", "Shared value")
	sharedClassifier := func(err error) *web.Error {
		if strings.Contains(err.Error(), "shared") {
			return shared
		}
		return nil
	}
	tests := []struct {
		name        string
		err         error
		classifiers []web.Classifier
		status      int
		code        string
		message     string
	}{
		{"*Error as is", web.NewError(404, web.CodeNotFound, "Order not found"), nil, 404, web.CodeNotFound, "Order not found"},
		{"wrapped *Error", fmt.Errorf("ctx: %w", web.NewError(409, "X", "Conflict")), nil, 409, "X", "Conflict"},
		{"*Error beats classifier", web.NewError(400, "MINE", "Mine"), []web.Classifier{testClassifier}, 400, "MINE", "Mine"},
		{"classifier", fmt.Errorf("a: %w", errCustom), []web.Classifier{testClassifier}, 503, web.CodeDatabaseUnavailable, "Database temporarily unavailable"},
		{"nil classifier skipped", errCustom, []web.Classifier{nil, testClassifier}, 503, web.CodeDatabaseUnavailable, ""},
		{"classifier beats sentinel", fmt.Errorf("%w %w", errCustom, web.ErrPriceStale), []web.Classifier{testClassifier}, 503, web.CodeDatabaseUnavailable, ""},
		{"first classifier wins", errors.New("shared"), []web.Classifier{sharedClassifier, func(error) *web.Error { return web.NewError(418, "NO", "") }}, 409, "SHARED", "Shared value"},
		{"unrecognised by classifier", errors.New("boom"), []web.Classifier{testClassifier}, 500, web.CodeInternal, "Internal server error"},
		{"db sentinel", web.ErrDatabaseUnavailable, nil, 503, web.CodeDatabaseUnavailable, ""},
		{"secrets sentinel", fmt.Errorf("x: %w", web.ErrSecretsUnavailable), nil, 503, web.CodeSecretsUnavailable, ""},
		{"price sentinel", web.ErrPriceStale, nil, 503, web.CodePriceStale, ""},
		{"timeout sentinel", web.ErrTimeout, nil, 503, web.CodeTimeout, ""},
		{"deadline exceeded", fmt.Errorf("find: %w", context.DeadlineExceeded), nil, 503, web.CodeTimeout, "Request timed out"},
		{"max bytes error", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), nil, 413, web.CodePayloadTooLarge, ""},
		{"unknown", errors.New("secret internal detail"), nil, 500, web.CodeInternal, "Internal server error"},
		{"canceled is not a timeout", context.Canceled, nil, 500, web.CodeInternal, ""},
		{"invalid status becomes 500", web.NewError(200, "OK", "fine"), nil, 500, web.CodeInternal, "Internal server error"},
		{"missing code filled", &web.Error{Status: 404}, nil, 404, web.CodeNotFound, "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			web.WriteError(rec, httptest.NewRequest("GET", "/", nil), tc.err, tc.classifiers...)
			var env map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || env["code"] != tc.code {
				t.Errorf("got %d %v, want %d %s", rec.Code, env["code"], tc.status, tc.code)
			}
			if tc.message != "" && env["error"] != tc.message {
				t.Errorf("message = %v, want %q", env["error"], tc.message)
			}
			if strings.Contains(rec.Body.String(), "secret internal detail") {
				t.Errorf("cause leaked: %s", rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
	if shared.Cause != nil {
		t.Errorf("classifier's shared *Error was mutated: %v", shared.Cause)
	}
}

func TestRetryAfterRounding(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, ""}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {60 * time.Second, "60"}} {
		e := web.NewError(429, web.CodeRateLimited, "Slow down")
		e.RetryAfter = tc.d
		rec := httptest.NewRecorder()
		web.WriteError(rec, nil, e)
		if got := rec.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("RetryAfter %v: header %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestErrorMethods(t *testing.T) {
	cause := errors.New("root cause")
	e := web.NewError(503, web.CodeDatabaseUnavailable, "")
	e.Cause = cause
	if e.Message != "Service Unavailable" {
		t.Errorf("default message %q", e.Message)
	}
	if !errors.Is(e, cause) || !errors.Is(fmt.Errorf("x: %w", e), cause) {
		t.Errorf("Unwrap does not expose the cause")
	}
	if s := e.Error(); !strings.Contains(s, "DATABASE_UNAVAILABLE") || !strings.Contains(s, "root cause") {
		t.Errorf("Error() = %q", s)
	}

	fields := map[string]string{"b": "is required", "a": "must be a string"}
	ve := web.ValidationError(fields)
	fields["c"] = "added later"
	if ve.Status != 422 || ve.Code != web.CodeValidation || len(ve.Fields) != 2 {
		t.Errorf("ValidationError = %+v", ve)
	}
	if ve.Message != "Validation failed: a must be a string; b is required" {
		t.Errorf("message %q", ve.Message)
	}
	if m := web.ValidationError(nil).Message; m != "Validation failed" {
		t.Errorf("empty message %q", m)
	}
	// An empty VALIDATION_ERROR still sends "fields": {}.
	rec := httptest.NewRecorder()
	web.WriteError(rec, nil, web.ValidationError(nil))
	if !strings.Contains(rec.Body.String(), `"fields":{}`) {
		t.Errorf("body %s", rec.Body)
	}
}

// TestWriteErrorAfterResponseStarted: nothing may be appended to a response
// already sent, but the failure is logged.
func TestWriteErrorAfterResponseStarted(t *testing.T) {
	logs := &syncBuffer{}
	h := web.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]int{"n": 1})
		web.WriteError(w, r, errors.New("late failure"))
	}), web.Options{Logger: newJSONLogger(logs)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"n":1}` {
		t.Errorf("response altered: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "late failure") || !strings.Contains(logs.String(), "error after response started") {
		t.Errorf("late error not logged: %s", logs)
	}
}

func TestMarkPublic(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{30 * time.Second, "public, max-age=30"}, {1500 * time.Millisecond, "public, max-age=1"}, {-time.Second, "public, max-age=0"}} {
		rec := httptest.NewRecorder()
		rec.Header().Set("Cache-Control", "no-store")
		web.MarkPublic(rec, tc.d)
		if got := rec.Header().Get("Cache-Control"); got != tc.want {
			t.Errorf("MarkPublic(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
