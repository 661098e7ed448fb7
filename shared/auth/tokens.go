package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

// AccessTokenTTL is the lifetime of an access token (api.md: 15 min; the cookie's Max-Age is the
// same 900 s).
const AccessTokenTTL = 15 * time.Minute

// IssuedAtLeeway is how far in the future a token's iat may be. Tokens are issued by other Lambda
// instances whose clocks may run slightly ahead of this one; a larger gap means a forged or
// badly minted token.
const IssuedAtLeeway = 30 * time.Second

// tokenTypeAccess is the typ claim of access tokens. It keeps any other JWT signed with the same
// key (should one ever exist, e.g. a refresh or e-mail token) from being accepted as an access
// token.
const tokenTypeAccess = "access"

// maxTokenLen bounds what Verify parses. Our tokens are ~400 bytes; anything far larger is not
// ours and is refused before any base64 or JSON work is spent on it.
const maxTokenLen = 4096

// signingMethod is the only algorithm issued and accepted (api.md: HS256).
var signingMethod = jwt.SigningMethodHS256

// ErrInvalidToken is wrapped by every Verify failure that is the token's fault (malformed, bad
// signature, wrong algorithm or key id, expired, wrong issuer, audience or type, missing claims).
// The guard answers those with 401. Errors that do not wrap it are operational (the key ring is
// unavailable) and must not log the user out.
var ErrInvalidToken = errors.New("invalid access token")

// Claims are the verified contents of an access token.
type Claims struct {
	UserID    string // sub
	SessionID string // sid
	TokenID   string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// TokensOptions configures NewTokens.
type TokensOptions struct {
	// Keys signs with its current key and verifies against current and previous ones.
	Keys secrets.KeyRing
	// Issuer and Audience are the iss and aud claims (configuration JWT_ISSUER, JWT_AUDIENCE).
	Issuer, Audience string
	// Now replaces time.Now, in tests.
	Now func() time.Time
}

// Tokens issues and verifies access tokens. It is safe for concurrent use.
type Tokens struct {
	keys   secrets.KeyRing
	iss    string
	aud    string
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns a Tokens over o. It does no I/O: keys are read from the ring when needed.
func NewTokens(o TokensOptions) *Tokens {
	t := &Tokens{keys: o.Keys, iss: o.Issuer, aud: o.Audience, now: o.Now}
	if t.now == nil {
		t.now = time.Now
	}
	t.parser = jwt.NewParser(
		// Without this list the library would honour the token's own alg header: "none", or
		// RS256 "verified" with the HMAC secret as public key (algorithm confusion).
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithIssuer(t.iss),
		jwt.WithAudience(t.aud),
		// exp is optional in RFC 7519; a token without one would never expire.
		jwt.WithExpirationRequired(),
		// Refuse non-canonical base64 (trailing bits), so one token has one spelling.
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(t.now),
		// No leeway on exp: our instances' clocks agree within far less than the token's life,
		// and a client holding an expired token simply refreshes. iat is checked in Verify with
		// IssuedAtLeeway, because the library applies one leeway to every time claim.
	)
	return t
}

// accessClaims is the token's payload.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Type      string `json:"typ"`
}

// Issue signs a new access token for the user's session with the key ring's current key. An
// unavailable key ring yields an error wrapping secrets.ErrUnavailable (503, not 500).
func (t *Tokens) Issue(ctx context.Context, userID, sessionID string) (string, Claims, error) {
	if userID == "" || sessionID == "" {
		return "", Claims{}, errors.New("auth: issue access token: empty user or session id")
	}
	key, err := t.keys.SigningKey(ctx)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: issue access token: signing key: %w", err)
	}
	// NumericDate has whole-second precision on the wire; truncating here makes the returned
	// Claims equal to what Verify will read back.
	now := t.now().UTC().Truncate(time.Second)
	c := Claims{
		UserID:    userID,
		SessionID: sessionID,
		TokenID:   newTokenID(),
		IssuedAt:  now,
		ExpiresAt: now.Add(AccessTokenTTL),
	}
	tok := jwt.NewWithClaims(signingMethod, accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.iss,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{t.aud},
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.TokenID,
		},
		SessionID: c.SessionID,
		Type:      tokenTypeAccess,
	})
	tok.Header["kid"] = key.ID
	signed, err := tok.SignedString(key.Secret)
	if err != nil {
		// The message is the library's ("key is invalid", ...), never the key.
		return "", Claims{}, fmt.Errorf("auth: sign access token with key %q: %w", key.ID, err)
	}
	return signed, c, nil
}

// keyRingError marks a key-ring failure other than an unknown kid, so Verify can tell "the
// server cannot check tokens right now" (pass through) from "this token is bad" (401).
type keyRingError struct{ err error }

func (e *keyRingError) Error() string { return e.err.Error() }
func (e *keyRingError) Unwrap() error { return e.err }

// Verify checks token and returns its claims. Every failure that is the token's fault wraps
// ErrInvalidToken, with a reason meant for a debug log (it never quotes the token or a key). A
// key ring that cannot be read returns its own error — wrapping secrets.ErrUnavailable for an
// outage — so the web layer answers 503 instead of logging every user out with a 401.
func (t *Tokens) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLen)
	}
	// Only the base64url alphabet and the dots: base64 decoding skips \r and \n, which would give
	// one token several spellings.
	if strings.IndexFunc(token, func(c rune) bool { return !isTokenChar(c) }) >= 0 {
		return Claims{}, fmt.Errorf("%w: a byte outside base64url", ErrInvalidToken)
	}
	var ac accessClaims
	_, err := t.parser.ParseWithClaims(token, &ac, func(tok *jwt.Token) (any, error) {
		// WithValidMethods has already refused other algorithms; checking the concrete method
		// again costs nothing and keeps this function safe if the parser options change.
		if tok.Method != signingMethod {
			return nil, errors.New("unexpected signing method")
		}
		kid, _ := tok.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid header")
		}
		key, err := t.keys.VerificationKey(ctx, kid)
		switch {
		case errors.Is(err, secrets.ErrUnknownKey):
			return nil, err
		case err != nil:
			return nil, &keyRingError{err: err}
		}
		return key.Secret, nil
	})
	if err != nil {
		var kre *keyRingError
		if errors.As(err, &kre) {
			return Claims{}, fmt.Errorf("auth: verify access token: verification key: %w", kre.err)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	// The signature and the registered claims the parser knows about are valid; what remains
	// are the rules specific to our access tokens.
	switch {
	case ac.Type != tokenTypeAccess:
		return Claims{}, fmt.Errorf("%w: typ is not %q", ErrInvalidToken, tokenTypeAccess)
	case ac.Subject == "":
		return Claims{}, fmt.Errorf("%w: no sub", ErrInvalidToken)
	case ac.SessionID == "":
		return Claims{}, fmt.Errorf("%w: no sid", ErrInvalidToken)
	case ac.ID == "":
		return Claims{}, fmt.Errorf("%w: no jti", ErrInvalidToken)
	case ac.IssuedAt == nil:
		return Claims{}, fmt.Errorf("%w: no iat", ErrInvalidToken)
	case ac.IssuedAt.After(t.now().Add(IssuedAtLeeway)):
		return Claims{}, fmt.Errorf("%w: iat is in the future", ErrInvalidToken)
	}
	return Claims{
		UserID:    ac.Subject,
		SessionID: ac.SessionID,
		TokenID:   ac.ID,
		IssuedAt:  ac.IssuedAt.UTC(),
		ExpiresAt: ac.ExpiresAt.UTC(),
	}, nil
}

// isTokenChar reports whether c may appear in a compact JWS: base64url or the separating dot.
func isTokenChar(c rune) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// newTokenID returns a random jti: 128 bits, enough that two tokens never share one.
func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
