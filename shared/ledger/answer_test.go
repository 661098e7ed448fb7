package ledger

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func TestAnswer(t *testing.T) {
	other := errors.New("connection reset")
	tests := []struct {
		name   string
		err    error
		status int // 0: returned as it is
		code   string
	}{
		{"no account", fmt.Errorf("ledger: commit user u1: %w", ErrNoAccount), http.StatusNotFound, web.CodeNotFound},
		{"insufficient funds", fmt.Errorf("ledger: commit: %w", ErrInsufficientFunds), http.StatusUnprocessableEntity, CodeInsufficientFunds},
		{"anything else", other, 0, ""},
		{"nil", nil, 0, ""},
	}
	for _, tt := range tests {
		got := Answer(tt.err)
		var e *web.Error
		if tt.status == 0 {
			if got != tt.err {
				t.Errorf("%s: Answer = %v, want the error as it is", tt.name, got)
			}
			continue
		}
		if !errors.As(got, &e) || e.Status != tt.status || e.Code != tt.code || !errors.Is(e.Cause, tt.err) {
			t.Errorf("%s: Answer = %#v, want %d %s with the cause kept", tt.name, got, tt.status, tt.code)
		}
	}
}
