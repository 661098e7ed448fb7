package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

// localJWTSecret returns the local server's signing key, creating it on first run. Keeping it in
// the data folder means a restart does not log everyone out (the original regenerated its secret
// on every start).
func localJWTSecret(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		key, err := secrets.ParseKey(string(raw))
		if err != nil {
			return "", fmt.Errorf("local JWT key file %s: %w (delete it, or start with -reset)", path, err)
		}
		return string(key.Secret), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read local JWT key: %w", err)
	}
	secret := make([]byte, 48)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("generate local JWT key: %w", err)
	}
	encoded := base64.RawURLEncoding.EncodeToString(secret)
	body, err := json.Marshal(map[string]string{"kid": "local", "secret": encoded})
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, body, 0o600); err != nil {
		return "", fmt.Errorf("write local JWT key: %w", err)
	}
	return encoded, nil
}
