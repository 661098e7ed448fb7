package accounts

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Passwords are hashed with bcrypt over a SHA-256 pre-hash (base64): bcrypt reads only 72 bytes,
// so without the pre-hash two long passwords sharing a prefix would be the same password.
type passwords struct {
	cost int

	// dummy is a hash of a random password at the configured cost, compared against when the email
	// is unknown, so "no such user" costs the same time as "wrong password". It is computed on first
	// use (not at init: a bcrypt at cost 11 would add ~80 ms to every cold start).
	dummy func() []byte
}

func newPasswords(cost int) *passwords {
	p := &passwords{cost: cost}
	p.dummy = sync.OnceValue(func() []byte {
		h, err := bcrypt.GenerateFromPassword(prehash("not-a-real-password-"+fmt.Sprint(cost)), cost)
		if err != nil {
			panic(fmt.Sprintf("accounts: dummy bcrypt hash: %v", err)) // only an invalid cost, refused by config
		}
		return h
	})
	return p
}

func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// hash returns the stored form of a password.
func (p *passwords) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), p.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// matches reports whether password matches the stored hash. An empty stored hash (unknown user)
// is compared against the dummy hash, so both answers take the same time.
func (p *passwords) matches(stored, password string) bool {
	if stored == "" {
		_ = bcrypt.CompareHashAndPassword(p.dummy(), prehash(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(stored), prehash(password)) == nil
}
