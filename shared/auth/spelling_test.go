package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/auth"
)

// TestVerifyRefusesOtherSpellings: a token has one spelling. Regression (found by
// FuzzVerifyMutation): base64 decoding skips \r and \n, so the valid token with a CR or LF inside
// its signature verified as the same token; any byte outside the base64url alphabet and the two
// dots is now refused before decoding.
func TestVerifyRefusesOtherSpellings(t *testing.T) {
	tokens := fuzzTokens()
	ctx := context.Background()
	if _, err := tokens.Verify(ctx, validToken); err != nil {
		t.Fatalf("the valid token is refused: %v", err)
	}
	sig := strings.LastIndexByte(validToken, '.') + 1
	for _, extra := range []string{"\r", "\n", "\r\n", " ", "\t", "=", "+", "/", "\x00"} {
		for _, at := range []int{sig, sig + 5, len(validToken), 0, 10} {
			other := validToken[:at] + extra + validToken[at:]
			if _, err := tokens.Verify(ctx, other); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("the valid token with %q at %d: %v, want ErrInvalidToken", extra, at, err)
			}
		}
	}
}
