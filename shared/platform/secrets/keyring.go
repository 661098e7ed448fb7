package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// KeyRing supplies JWT keys: one to sign with, and the set accepted when
// verifying. Implementations are safe for concurrent use.
type KeyRing interface {
	// SigningKey returns the key new tokens are signed with (AWSCURRENT).
	SigningKey(ctx context.Context) (Key, error)
	// VerificationKey returns the current or previous key whose ID is kid.
	// It returns [ErrUnknownKey] when neither has that kid, and an error
	// wrapping [ErrUnavailable] when the keys cannot be read.
	VerificationKey(ctx context.Context, kid string) (Key, error)
	// Check returns nil when the signing key can be had; /health uses it
	// to report the secrets dependency.
	Check(ctx context.Context) error
}

// NewStaticKeyRing returns a KeyRing over fixed keys, for local mode where
// keys come from configuration. The first key signs; all verify. Invalid keys
// (empty kid, short secret) or no keys make every method return an error
// wrapping [ErrInvalidSecret], which Check surfaces at startup.
func NewStaticKeyRing(keys ...Key) KeyRing {
	r := &staticKeyRing{}
	if len(keys) == 0 {
		r.err = fmt.Errorf("%w: no signing keys configured", ErrInvalidSecret)
	}
	for i, k := range keys {
		if err := k.validate(); err != nil {
			r.err = fmt.Errorf("static key %d: %w", i, err)
			break
		}
		r.keys = append(r.keys, k.clone())
	}
	return r
}

type staticKeyRing struct {
	keys []Key
	err  error
}

func (r *staticKeyRing) SigningKey(context.Context) (Key, error) {
	if r.err != nil {
		return Key{}, r.err
	}
	return r.keys[0].clone(), nil
}

func (r *staticKeyRing) VerificationKey(_ context.Context, kid string) (Key, error) {
	if r.err != nil {
		return Key{}, r.err
	}
	for _, k := range r.keys {
		if k.ID == kid {
			return k.clone(), nil
		}
	}
	return Key{}, ErrUnknownKey
}

func (r *staticKeyRing) Check(context.Context) error { return r.err }

// NewSecretsManagerKeyRing returns a KeyRing reading secretID through c:
// AWSCURRENT signs, AWSCURRENT and AWSPREVIOUS verify.
//
// Both versions are fetched and cached together, as one item, so that they
// always come from the same moment: were they cached separately, the current
// key could be refreshed (new kid) while a stale "no previous version" was
// still cached, and tokens signed just before the rotation would be rejected.
// A missing AWSPREVIOUS (a secret with a single version) is normal. A
// malformed AWSPREVIOUS is logged and ignored rather than taking signing down.
func NewSecretsManagerKeyRing(c *Cache, secretID string) KeyRing {
	return &smKeyRing{c: c, secretID: secretID}
}

type smKeyRing struct {
	c        *Cache
	secretID string
}

// keySet is one consistent view of the key secret.
type keySet struct {
	current     Key
	previous    Key
	hasPrevious bool
}

func (r *smKeyRing) SigningKey(ctx context.Context) (Key, error) {
	ks, err := r.load(ctx)
	if err != nil {
		return Key{}, err
	}
	return ks.current.clone(), nil
}

func (r *smKeyRing) VerificationKey(ctx context.Context, kid string) (Key, error) {
	if kid == "" {
		return Key{}, ErrUnknownKey
	}
	ks, err := r.load(ctx)
	if err != nil {
		return Key{}, err
	}
	switch {
	case ks.current.ID == kid:
		return ks.current.clone(), nil
	case ks.hasPrevious && ks.previous.ID == kid:
		return ks.previous.clone(), nil
	}
	return Key{}, ErrUnknownKey
}

func (r *smKeyRing) Check(ctx context.Context) error {
	_, err := r.load(ctx)
	return err
}

func (r *smKeyRing) load(ctx context.Context) (*keySet, error) {
	if r.secretID == "" {
		return nil, errors.New("secrets: key ring has an empty secret id")
	}
	v, err := r.c.get(ctx, entryKey{kind: kindKeySet, secretID: r.secretID}, r.fetch)
	if err != nil {
		return nil, err
	}
	return v.(*keySet), nil
}

// fetch reads and parses both versions; it runs under the cache's
// single-flight, so its two calls happen at most once per refresh.
func (r *smKeyRing) fetch(ctx context.Context) (any, error) {
	raw, err := r.c.fetchString(ctx, r.secretID, StageCurrent)
	if err != nil {
		return nil, err
	}
	cur, err := ParseKey(raw)
	if err != nil {
		return nil, &fetchError{secretID: r.secretID, stage: StageCurrent, reason: err.Error(), cause: err}
	}
	ks := &keySet{current: cur}

	raw, err = r.c.fetchString(ctx, r.secretID, StagePrevious)
	switch {
	case err == nil:
		prev, perr := ParseKey(raw)
		if perr != nil {
			r.c.log.Warn("secrets: ignoring malformed previous signing key",
				slog.String("secret_id", r.secretID), slog.String("version_stage", StagePrevious),
				slog.String("error", perr.Error()))
			break
		}
		ks.previous, ks.hasPrevious = prev, true
	case isNotFound(err):
		// Only one version exists yet: nothing else to verify against.
	default:
		return nil, err
	}
	return ks, nil
}
