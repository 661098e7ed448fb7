package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

func TestIssueThenVerify(t *testing.T) {
	clk := newClock()
	tokens := newTokens(secrets.NewStaticKeyRing(key1), clk.Now)
	ctx := context.Background()

	tok, issued, err := tokens.Issue(ctx, "user-1", "session-1")
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if issued.UserID != "user-1" || issued.SessionID != "session-1" || issued.TokenID == "" ||
		!issued.IssuedAt.Equal(clk.Now()) || !issued.ExpiresAt.Equal(clk.Now().Add(15*time.Minute)) {
		t.Errorf("issued claims = %+v", issued)
	}

	// The wire format is the contract (api.md): check header and claims as a client would.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header, payload map[string]any
	decodePart(t, parts[0], &header)
	decodePart(t, parts[1], &payload)
	if header["alg"] != "HS256" || header["kid"] != "k1" {
		t.Errorf("header = %v", header)
	}
	for claim, want := range map[string]any{
		"sub": "user-1", "sid": "session-1", "jti": issued.TokenID, "iss": testIssuer, "typ": "access",
		"iat": float64(clk.Now().Unix()), "exp": float64(clk.Now().Add(15 * time.Minute).Unix()),
	} {
		if payload[claim] != want {
			t.Errorf("claim %s = %v, want %v", claim, payload[claim], want)
		}
	}
	if aud, _ := json.Marshal(payload["aud"]); string(aud) != `["cryptovault-api"]` && string(aud) != `"cryptovault-api"` {
		t.Errorf("aud = %s", aud)
	}

	got, err := tokens.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got != issued {
		t.Errorf("Verify = %+v, want %+v", got, issued)
	}

	// Token ids are random: two tokens for the same session differ.
	_, again, err := tokens.Issue(ctx, "user-1", "session-1")
	if err != nil || again.TokenID == issued.TokenID {
		t.Errorf("second Issue: jti %q (first %q), err %v", again.TokenID, issued.TokenID, err)
	}
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("decode token part: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("token part is not JSON: %v", err)
	}
}

func TestIssueRefusesEmptyIDs(t *testing.T) {
	tokens := newTokens(secrets.NewStaticKeyRing(key1), nil)
	for _, ids := range [][2]string{{"", "s"}, {"u", ""}} {
		if _, _, err := tokens.Issue(context.Background(), ids[0], ids[1]); err == nil {
			t.Errorf("Issue(%q, %q) succeeded", ids[0], ids[1])
		}
	}
}

// TestVerify: every token that is not a valid access token of ours is refused with
// ErrInvalidToken (→ 401), including the classic JWT attacks.
func TestVerify(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	tokens := newTokens(secrets.NewStaticKeyRing(key1), clk.Now)
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	valid := handMade(t, hs256, validClaims(now), "HS256", key1.Secret)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." +
		strings.Split(handMade(t, hs256, with(validClaims(now), "sub", "admin"), "HS256", key1.Secret), ".")[1] +
		"." + parts[2]

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", valid, true},
		{"audience list containing ours", handMade(t, hs256, with(validClaims(now), "aud", []string{"other", testAudience}), "HS256", key1.Secret), true},
		{"audience as a string", handMade(t, hs256, with(validClaims(now), "aud", testAudience), "HS256", key1.Secret), true},
		{"iat slightly ahead (clock skew)", handMade(t, hs256, with(validClaims(now), "iat", now.Add(29*time.Second).Unix()), "HS256", key1.Secret), true},

		{"empty", "", false},
		{"one segment", "abc", false},
		{"two segments", parts[0] + "." + parts[1], false},
		{"not base64", "!!!." + parts[1] + "." + parts[2], false},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], false},
		{"oversized", valid + strings.Repeat("A", 5000), false},
		{"tampered payload", tampered, false},
		{"no signature", parts[0] + "." + parts[1] + ".", false},
		{"signed with another key under our kid", handMade(t, hs256, validClaims(now), "HS256", key2.Secret), false},
		{"expired", handMade(t, hs256, with(validClaims(now), "exp", now.Add(-time.Second).Unix()), "HS256", key1.Secret), false},
		{"expires now", handMade(t, hs256, with(validClaims(now), "exp", now.Unix()), "HS256", key1.Secret), false},
		{"missing exp", handMade(t, hs256, with(validClaims(now), "exp", nil), "HS256", key1.Secret), false},
		{"iat in the future", handMade(t, hs256, with(validClaims(now), "iat", now.Add(31*time.Second).Unix()), "HS256", key1.Secret), false},
		{"missing iat", handMade(t, hs256, with(validClaims(now), "iat", nil), "HS256", key1.Secret), false},
		{"not yet valid (nbf)", handMade(t, hs256, with(validClaims(now), "nbf", now.Add(time.Hour).Unix()), "HS256", key1.Secret), false},
		{"alg none", handMade(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, validClaims(now), "", nil), false},
		{"alg None (case)", handMade(t, map[string]any{"alg": "None", "typ": "JWT", "kid": "k1"}, validClaims(now), "", nil), false},
		{"alg HS384", handMade(t, with(hs256, "alg", "HS384"), validClaims(now), "HS384", key1.Secret), false},
		{"alg HS512", handMade(t, with(hs256, "alg", "HS512"), validClaims(now), "HS512", key1.Secret), false},
		{"RS256 label, HMAC signature (alg confusion)", handMade(t, with(hs256, "alg", "RS256"), validClaims(now), "HS256", key1.Secret), false},
		{"no alg", handMade(t, with(hs256, "alg", nil), validClaims(now), "HS256", key1.Secret), false},
		{"unknown kid", handMade(t, with(hs256, "kid", "k9"), validClaims(now), "HS256", key1.Secret), false},
		{"no kid", handMade(t, with(hs256, "kid", nil), validClaims(now), "HS256", key1.Secret), false},
		{"empty kid", handMade(t, with(hs256, "kid", ""), validClaims(now), "HS256", key1.Secret), false},
		{"kid not a string", handMade(t, with(hs256, "kid", 1), validClaims(now), "HS256", key1.Secret), false},
		{"wrong iss", handMade(t, hs256, with(validClaims(now), "iss", "someone-else"), "HS256", key1.Secret), false},
		{"missing iss", handMade(t, hs256, with(validClaims(now), "iss", nil), "HS256", key1.Secret), false},
		{"wrong aud", handMade(t, hs256, with(validClaims(now), "aud", []string{"other-api"}), "HS256", key1.Secret), false},
		{"missing aud", handMade(t, hs256, with(validClaims(now), "aud", nil), "HS256", key1.Secret), false},
		{"typ refresh", handMade(t, hs256, with(validClaims(now), "typ", "refresh"), "HS256", key1.Secret), false},
		{"missing typ", handMade(t, hs256, with(validClaims(now), "typ", nil), "HS256", key1.Secret), false},
		{"missing sub", handMade(t, hs256, with(validClaims(now), "sub", nil), "HS256", key1.Secret), false},
		{"empty sub", handMade(t, hs256, with(validClaims(now), "sub", ""), "HS256", key1.Secret), false},
		{"missing sid", handMade(t, hs256, with(validClaims(now), "sid", nil), "HS256", key1.Secret), false},
		{"missing jti", handMade(t, hs256, with(validClaims(now), "jti", nil), "HS256", key1.Secret), false},
		{"sid not a string", handMade(t, hs256, with(validClaims(now), "sid", 42), "HS256", key1.Secret), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tokens.Verify(context.Background(), tc.token)
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.UserID != "user-1" || c.SessionID != "session-1" || c.TokenID != "token-1" {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want ErrInvalidToken", err)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Errorf("error quotes the token: %v", err)
			}
			if strings.Contains(err.Error(), string(key1.Secret)) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

// TestVerifyAfterRotation: a token signed before a key rotation still verifies after it
// (AWSPREVIOUS), and new tokens use the new key.
func TestVerifyAfterRotation(t *testing.T) {
	ctx := context.Background()
	t.Run("static key ring", func(t *testing.T) {
		old := newTokens(secrets.NewStaticKeyRing(key1), nil)
		tok, _, err := old.Issue(ctx, "user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		rotated := newTokens(secrets.NewStaticKeyRing(key2, key1), nil)
		if _, err := rotated.Verify(ctx, tok); err != nil {
			t.Errorf("token signed with the previous key: %v", err)
		}
		// Once the previous key is gone, its tokens are refused.
		if _, err := newTokens(secrets.NewStaticKeyRing(key2), nil).Verify(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("token of a retired key: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("Secrets Manager AWSCURRENT/AWSPREVIOUS", func(t *testing.T) {
		sm := smfake.Start(t)
		const id = "cryptovault/dev/jwt"
		sm.Put(id, keyJSON(t, key1))
		ringBefore := secrets.NewSecretsManagerKeyRing(secrets.NewCache(sm.Client(t), secrets.CacheOptions{}), id)
		tok, _, err := newTokens(ringBefore, nil).Issue(ctx, "user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		sm.Put(id, keyJSON(t, key2)) // rotation: k2 becomes AWSCURRENT, k1 AWSPREVIOUS
		// A new instance (fresh cache) after the rotation.
		after := newTokens(secrets.NewSecretsManagerKeyRing(secrets.NewCache(sm.Client(t), secrets.CacheOptions{}), id), nil)
		if _, err := after.Verify(ctx, tok); err != nil {
			t.Errorf("token signed before the rotation: %v", err)
		}
		fresh, _, err := after.Issue(ctx, "user-1", "session-1")
		if err != nil {
			t.Fatal(err)
		}
		var header map[string]any
		decodePart(t, strings.Split(fresh, ".")[0], &header)
		if header["kid"] != "k2" {
			t.Errorf("new token kid = %v, want k2", header["kid"])
		}
	})
}

func keyJSON(t *testing.T, k secrets.Key) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"kid": k.ID, "secret": string(k.Secret)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestKeyRingDown: when the key ring cannot be read, Verify and Issue fail with
// secrets.ErrUnavailable (→ 503), not ErrInvalidToken (→ 401, which would log everyone out).
func TestKeyRingDown(t *testing.T) {
	ctx := context.Background()
	sm := smfake.Start(t)
	const id = "cryptovault/dev/jwt"
	sm.Put(id, keyJSON(t, key1))
	tok := handMade(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, validClaims(time.Now()), "HS256", key1.Secret)

	sm.SetDown(true)
	tokens := newTokens(secrets.NewSecretsManagerKeyRing(secrets.NewCache(sm.Client(t), secrets.CacheOptions{}), id), nil)
	_, err := tokens.Verify(ctx, tok)
	if !errors.Is(err, secrets.ErrUnavailable) || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify with the key ring down: %v, want ErrUnavailable and not ErrInvalidToken", err)
	}
	if _, _, err := tokens.Issue(ctx, "user-1", "session-1"); !errors.Is(err, secrets.ErrUnavailable) {
		t.Errorf("Issue with the key ring down: %v, want ErrUnavailable", err)
	}
	// A token that is bad on its own is still a 401 during the outage: the algorithm is
	// checked before any key is looked up.
	none := handMade(t, map[string]any{"alg": "none", "kid": "k1"}, validClaims(time.Now()), "", nil)
	if _, err := tokens.Verify(ctx, none); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("alg none with the key ring down: %v, want ErrInvalidToken", err)
	}

	// A misconfigured key ring is a server fault (500), not the client's either.
	broken := newTokens(secrets.NewStaticKeyRing(), nil)
	if _, err := broken.Verify(ctx, tok); err == nil || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify with a misconfigured key ring: %v, want a non-401 error", err)
	}
}
