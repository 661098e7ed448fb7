package app

import (
	"sync"

	"github.com/cryptovault/serverless/shared/auth"
)

// AuthKit is the authentication every authenticated function of a process shares: one token
// issuer/verifier and one view of revoked sessions, so a logout in this process takes effect on
// every route at once (the local server runs all functions in one process).
type AuthKit struct {
	Tokens      *auth.Tokens
	Revocations *auth.Revocations
	Guard       *auth.Guard
}

type authOnce struct {
	once sync.Once
	kit  *AuthKit
}

// Auth returns the process's AuthKit, built on first use (the health function never needs it).
func (d *Deps) Auth() *AuthKit {
	d.auth.once.Do(func() {
		tokens := auth.NewTokens(auth.TokensOptions{Keys: d.Keys, Issuer: d.Config.JWTIssuer, Audience: d.Config.JWTAudience})
		revocations := auth.NewRevocations(auth.RevocationsOptions{DB: d.Mongo.Database, Logger: d.Logger})
		d.auth.kit = &AuthKit{Tokens: tokens, Revocations: revocations, Guard: auth.NewGuard(tokens, revocations)}
	})
	return d.auth.kit
}
