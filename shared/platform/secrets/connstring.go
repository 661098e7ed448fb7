package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// ConnectionString returns the MongoDB URI stored in secretID (AWSCURRENT).
// The secret may hold the URI itself or JSON {"uri":"..."}, the two shapes
// people actually store. The URI must use mongodb:// or mongodb+srv://.
//
// Errors wrap [ErrUnavailable] (and [ErrInvalidSecret] for a malformed value)
// and never include the value, which carries the database password; that is
// also why the URI is checked by prefix rather than with net/url, whose
// errors quote their input.
func ConnectionString(ctx context.Context, c *Cache, secretID string) (string, error) {
	raw, err := c.Value(ctx, secretID, StageCurrent)
	if err != nil {
		return "", err
	}
	uri, err := parseConnectionString(raw)
	if err != nil {
		return "", fmt.Errorf("%w: secret %q: MongoDB connection string: %w", ErrUnavailable, secretID, err)
	}
	return uri, nil
}

var mongoSchemes = []string{"mongodb://", "mongodb+srv://"}

func parseConnectionString(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "{") {
		var doc struct {
			URI *string `json:"uri"`
		}
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return "", fmt.Errorf(`%w: not valid JSON {"uri":string}`, ErrInvalidSecret)
		}
		if doc.URI == nil {
			return "", fmt.Errorf(`%w: JSON value has no "uri"`, ErrInvalidSecret)
		}
		s = strings.TrimSpace(*doc.URI)
	}
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	for _, scheme := range mongoSchemes {
		if rest, ok := strings.CutPrefix(s, scheme); ok {
			if rest == "" || strings.HasPrefix(rest, "/") {
				return "", fmt.Errorf("%w: no host after %s", ErrInvalidSecret, scheme)
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: scheme must be mongodb:// or mongodb+srv://", ErrInvalidSecret)
}
