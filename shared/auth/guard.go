package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// CodeUnauthenticated is the envelope code of a request without a valid session (401). The
// frontend treats every 401 as an expired session and refreshes, so it is used for nothing else.
const CodeUnauthenticated = "UNAUTHENTICATED"

// unauthenticatedMessage is the one message every refusal carries: telling the client which
// check failed (expired? revoked? wrong key?) would only help someone probing tokens.
const unauthenticatedMessage = "Authentication required"

// AccessTokenCookie is the cookie carrying the access token for browsers.
const AccessTokenCookie = "access_token"

// Guard protects routes that need a valid session. It is safe for concurrent use.
type Guard struct {
	tokens      *Tokens
	revocations *Revocations
	log         *slog.Logger
}

// NewGuard returns a guard verifying tokens with t and sessions with r. It logs through r's
// logger (RevocationsOptions.Logger), the auth package's one logger.
func NewGuard(t *Tokens, r *Revocations) *Guard {
	return &Guard{tokens: t, revocations: r, log: r.log}
}

// Require returns h behind authentication. The access token comes from "Authorization: Bearer"
// when that header is present (it wins over the cookie, and a bad one is refused even if the
// cookie is good: a client that sends a header means it), else from the access_token cookie.
//
// A missing, malformed, invalid, expired or revoked token is a 401 UNAUTHENTICATED with one
// generic message; the reason is logged at debug, never the token. An operational failure (key
// ring or database unavailable) is returned as is, so the web layer answers 503 and the user's
// session survives the outage. On success the Principal is in the request context (see
// PrincipalFrom) and the user id in the access log.
func (g *Guard) Require(h web.HandlerFunc) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		token, source, reason := tokenFrom(r)
		if reason != "" {
			return g.refuse(r, source, reason)
		}
		claims, err := g.tokens.Verify(ctx, token)
		if errors.Is(err, ErrInvalidToken) {
			return g.refuse(r, source, err.Error())
		}
		if err != nil {
			return err
		}
		revoked, err := g.revocations.IsRevoked(ctx, claims.SessionID)
		if err != nil {
			return err
		}
		if revoked {
			return g.refuse(r, source, "session revoked", slog.String("user_id", claims.UserID))
		}
		ctx = WithPrincipal(ctx, Principal{UserID: claims.UserID, SessionID: claims.SessionID, TokenID: claims.TokenID})
		web.SetUserID(ctx, claims.UserID)
		return h(w, r.WithContext(ctx))
	}
}

// refuse logs why a request is refused (at debug: refusals are routine — every anonymous page
// load — and the access log already counts them by error code) and returns the 401.
func (g *Guard) refuse(r *http.Request, source, reason string, attrs ...slog.Attr) error {
	ctx := r.Context()
	if g.log.Enabled(ctx, slog.LevelDebug) {
		attrs = append(attrs,
			slog.String("request_id", web.RequestIDFrom(ctx)),
			slog.String("credential_source", source),
			slog.String("reason", reason))
		g.log.LogAttrs(ctx, slog.LevelDebug, "auth: request refused", attrs...)
	}
	return web.NewError(http.StatusUnauthorized, CodeUnauthenticated, unauthenticatedMessage)
}

// tokenFrom extracts the access token and names its source ("header", "cookie" or "none"). A
// non-empty reason means the request carries no usable credential.
func tokenFrom(r *http.Request) (token, source, reason string) {
	if values := r.Header.Values("Authorization"); len(values) > 0 && !allBlank(values) {
		if len(values) > 1 {
			return "", "header", "several Authorization headers"
		}
		token, ok := bearer(values[0])
		if !ok {
			return "", "header", "Authorization is not a Bearer credential"
		}
		return token, "header", ""
	}
	if c, err := r.Cookie(AccessTokenCookie); err == nil && c.Value != "" {
		return c.Value, "cookie", ""
	}
	return "", "none", "no credential"
}

// bearer parses "Bearer <token>" (RFC 6750; the scheme is case-insensitive per RFC 9110). The
// token is one base64url-ish word: spaces inside mean it is not a bearer token.
func bearer(v string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// allBlank reports whether every value is empty: an empty Authorization header carries no
// credential (some clients send one when they have no token), so the cookie may still be used.
func allBlank(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
