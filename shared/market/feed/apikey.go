package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SecretReader reads a secret's current value; *secrets.Cache (shared/platform/secrets) satisfies
// it, with its in-memory caching and stale-while-error behaviour.
type SecretReader interface {
	Value(ctx context.Context, secretID, versionStage string) (string, error)
}

// APIKeyFromSecret returns an Options.APIKey that reads the CoinGecko key from the secret
// secretID (COINGECKO_API_KEY_SECRET_ARN) at every request through r, so a rotation is picked up
// when the cache refreshes. It returns nil when secretID is empty: no key is configured.
//
// The secret holds the key as plain text, or as a JSON object with a single string field (what
// the Secrets Manager console's key/value editor stores, e.g. {"COINGECKO_API_KEY": "CG-..."}).
// Surrounding whitespace is ignored. Errors name the secret, never its value.
func APIKeyFromSecret(r SecretReader, secretID string) func(ctx context.Context) (string, error) {
	if secretID == "" {
		return nil
	}
	return func(ctx context.Context) (string, error) {
		v, err := r.Value(ctx, secretID, "")
		if err != nil {
			return "", err // the secrets package's errors never contain the value
		}
		return keyFromSecretValue(v, secretID)
	}
}

// errKeyShape reports a secret that holds neither a plain key nor a one-field JSON object.
var errKeyShape = errors.New("the secret is not a plain API key or a JSON object with one string field")

func keyFromSecretValue(v, secretID string) (string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "{") {
		return v, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(v), &fields); err != nil || len(fields) != 1 {
		return "", fmt.Errorf("price feed: API key secret %q: %w", secretID, errKeyShape)
	}
	for _, f := range fields {
		if s, ok := f.(string); ok {
			return strings.TrimSpace(s), nil
		}
	}
	return "", fmt.Errorf("price feed: API key secret %q: %w", secretID, errKeyShape)
}
