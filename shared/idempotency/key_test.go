package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// TestKey: the header rules of api.md — absent means no idempotency; 1–128 printable ASCII
// characters; anything else (and a repeated header) is 422 on the field Idempotency-Key.
func TestKey(t *testing.T) {
	tests := []struct {
		name    string
		values  []string // nil: header absent
		want    string
		invalid bool
	}{
		{name: "absent", values: nil, want: ""},
		{name: "one character", values: []string{"k"}, want: "k"},
		{name: "uuid", values: []string{"5f1c2a9e-7b7d-4c55-9a3e-0d3c1f8e2b6a"}, want: "5f1c2a9e-7b7d-4c55-9a3e-0d3c1f8e2b6a"},
		{name: "printable punctuation and space", values: []string{"a b~!$.{}"}, want: "a b~!$.{}"},
		{name: "128 characters", values: []string{strings.Repeat("x", 128)}, want: strings.Repeat("x", 128)},
		{name: "empty", values: []string{""}, invalid: true},
		{name: "129 characters", values: []string{strings.Repeat("x", 129)}, invalid: true},
		{name: "control character", values: []string{"ab\x01c"}, invalid: true},
		{name: "tab", values: []string{"ab\tc"}, invalid: true},
		{name: "DEL", values: []string{"ab\x7fc"}, invalid: true},
		{name: "non-ASCII", values: []string{"clé"}, invalid: true},
		{name: "repeated", values: []string{"a", "b"}, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/transactions", nil)
			for _, v := range tt.values {
				r.Header.Add(idempotency.HeaderName, v)
			}
			got, err := idempotency.Key(r)
			if tt.invalid {
				wantCode(t, err, http.StatusUnprocessableEntity, web.CodeValidation)
				if msg := err.(*web.Error).Fields[idempotency.HeaderName]; msg == "" {
					t.Fatalf("no message for field %s: %v", idempotency.HeaderName, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Key = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
