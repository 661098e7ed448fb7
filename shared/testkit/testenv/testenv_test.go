package testenv

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// recorder is a test that records its failures; Fatalf stops the goroutine as testing's does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder, in a goroutine of its own so that Fatalf can end it, and returns
// the failures.
func run(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	var wg sync.WaitGroup
	wg.Go(func() { f(r) })
	wg.Wait()
	return r.failed
}

func TestExpect(t *testing.T) {
	envelope := `{"error":"Insufficient funds","detail":"Insufficient funds","code":"INSUFFICIENT_FUNDS","request_id":"r1"}`
	tests := []struct {
		name   string
		r      Response
		status int
		code   string
		fails  bool
	}{
		{"success", Response{Status: 201, Body: []byte(`{"order":{}}`)}, 201, "", false},
		{"another status", Response{Status: 200, Body: []byte(`{}`)}, 201, "", true},
		{"not JSON", Response{Status: 200, Body: []byte(`ok`)}, 200, "", true},
		{"the error with its code", Response{Status: 400, Body: []byte(envelope)}, 400, "INSUFFICIENT_FUNDS", false},
		{"the error, any code", Response{Status: 400, Body: []byte(envelope)}, 400, "", false},
		{"another code", Response{Status: 400, Body: []byte(envelope)}, 400, "VALIDATION_ERROR", true},
		{"an error without a request id", Response{Status: 400, Body: []byte(`{"error":"x","detail":"x","code":"C"}`)}, 400, "C", true},
		{"an error whose detail differs", Response{Status: 400, Body: []byte(`{"error":"x","detail":"y","request_id":"r"}`)}, 400, "", true},
		{"an error without a message", Response{Status: 500, Body: []byte(`{"request_id":"r"}`)}, 500, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body map[string]any
			failed := run(t, func(tb testing.TB) { body = Expect(tb, tt.r, tt.status, tt.code) })
			if (len(failed) != 0) != tt.fails {
				t.Fatalf("failures %q, want a failure: %v", failed, tt.fails)
			}
			if !tt.fails && body == nil {
				t.Error("no body returned")
			}
		})
	}
}

func TestAssertNoSecrets(t *testing.T) {
	tests := []struct {
		name   string
		logs   string
		values []string
		fails  bool
	}{
		{"clean", `{"message":"request","status":200}`, []string{"s3cret", ""}, false},
		{"the signing key", `{"key":"` + JWTSecret + `"}`, nil, true},
		{"a bearer header", `{"authorization":"Bearer x"}`, nil, true},
		{"a token", `{"token":"eyJhbGciOiJIUzI1NiJ9.e30.x"}`, nil, true},
		{"one of the values", `{"password":"s3cret"}`, []string{"s3cret"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Env{Logs: &Logs{}, Metrics: &Logs{}}
			_, _ = e.Logs.Write([]byte(tt.logs + "\n"))
			if failed := run(t, func(tb testing.TB) { e.AssertNoSecrets(tb, tt.values...) }); (len(failed) != 0) != tt.fails {
				t.Errorf("failures %q, want a failure: %v", failed, tt.fails)
			}
		})
	}
	t.Run("metrics too", func(t *testing.T) {
		e := &Env{Logs: &Logs{}, Metrics: &Logs{}}
		_, _ = e.Metrics.Write([]byte(`{"_aws":{},"user":"s3cret"}` + "\n"))
		if failed := run(t, func(tb testing.TB) { e.AssertNoSecrets(tb, "s3cret") }); len(failed) != 1 {
			t.Errorf("failures %q, want one", failed)
		}
	})
}
