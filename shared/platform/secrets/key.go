package secrets

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// MinSecretLen is the minimum HMAC key length in bytes: HS256 needs at least
// 256 bits of key to keep its full strength.
const MinSecretLen = 32

const redacted = "[REDACTED]"

// Key is a JWT signing key. ID is the kid placed in token headers; Secret is
// the HMAC key (the raw bytes of the secret string, at least MinSecretLen).
//
// Every way of printing a Key (fmt verbs, slog, encoding/json) redacts Secret,
// so that a Key that ends up in a log line or an error does not leak.
type Key struct {
	ID     string
	Secret []byte
}

// String describes the key without its secret.
func (k Key) String() string { return fmt.Sprintf("Key{ID:%q, Secret:%s}", k.ID, redacted) }

// GoString makes %#v redact the secret too.
func (k Key) GoString() string { return "secrets." + k.String() }

// Format makes every fmt verb (%v, %+v, %d, %x, ...) print the redacted form;
// without it, verbs such as %d would print the secret bytes.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// LogValue makes slog log the kid and a redacted secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("secret", redacted))
}

// MarshalJSON keeps the secret out of JSON dumps of structs holding a Key.
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct{ ID, Secret string }{k.ID, redacted})
}

// validate checks the invariants every usable key has.
func (k Key) validate() error {
	if strings.TrimSpace(k.ID) == "" {
		return fmt.Errorf("%w: signing key has an empty kid", ErrInvalidSecret)
	}
	if len(k.Secret) < MinSecretLen {
		// The length itself is not reported: it says something about the key.
		return fmt.Errorf("%w: signing key %q is shorter than %d bytes", ErrInvalidSecret, k.ID, MinSecretLen)
	}
	return nil
}

// clone returns a copy whose Secret does not alias k's, so a caller that
// mutates the slice cannot corrupt the key ring.
func (k Key) clone() Key {
	return Key{ID: k.ID, Secret: append([]byte(nil), k.Secret...)}
}

// ParseKey parses a signing key secret: JSON {"kid":"...","secret":"..."}
// with a non-empty kid and a secret of at least MinSecretLen bytes (used as
// is, not base64-decoded). Errors wrap [ErrInvalidSecret] and never quote the
// input: JSON syntax errors are not passed on because they echo characters
// of it.
func ParseKey(secretString string) (Key, error) {
	var doc struct {
		Kid    *string `json:"kid"`
		Secret *string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(secretString), &doc); err != nil {
		return Key{}, fmt.Errorf(`%w: signing key is not a JSON object {"kid":string,"secret":string}`, ErrInvalidSecret)
	}
	if doc.Kid == nil {
		return Key{}, fmt.Errorf(`%w: signing key has no "kid"`, ErrInvalidSecret)
	}
	if doc.Secret == nil {
		return Key{}, fmt.Errorf(`%w: signing key has no "secret"`, ErrInvalidSecret)
	}
	k := Key{ID: *doc.Kid, Secret: []byte(*doc.Secret)}
	if err := k.validate(); err != nil {
		return Key{}, err
	}
	return k, nil
}
