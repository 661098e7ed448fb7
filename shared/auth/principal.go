// Package auth authenticates requests: access tokens (JWT, HS256, from the key ring), the
// per-instance view of revoked sessions, the guard that protects routes, and the session cookies.
package auth

import "context"

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    string
	SessionID string
	TokenID   string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. The guard calls it; tests of route packages may too.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller set by the guard.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok && p.UserID != ""
}
