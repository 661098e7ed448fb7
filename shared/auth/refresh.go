package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// RefreshTokenTTL is the lifetime of a refresh token, and so of a session that is not refreshed
// (api.md: 7 days).
const RefreshTokenTTL = 7 * 24 * time.Hour

// refreshTokenBytes is the refresh token's entropy: 256 bits, far beyond guessing.
const refreshTokenBytes = 32

// NewRefreshToken returns a new opaque refresh token (32 random bytes, base64url without
// padding) and its hash, which is what the accounts package stores: a leaked sessions collection
// then holds nothing a client could present.
func NewRefreshToken() (token string, hash string) {
	var b [refreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashRefreshToken(token)
}

// HashRefreshToken returns the stored form of a refresh token: hex SHA-256 of the token string.
// A plain hash (no salt, no bcrypt) is enough because the token is 256 random bits, not a
// password: nothing can be precomputed, and a fast hash lets the refresh route look the session
// up by the hash with an index.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
