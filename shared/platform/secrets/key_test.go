package secrets_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

func TestParseKey(t *testing.T) {
	const long = "0123456789abcdef0123456789abcdef" // exactly MinSecretLen
	tests := []struct {
		name    string
		in      string
		wantID  string
		wantErr bool
	}{
		{name: "ok", in: `{"kid":"2025-01","secret":"` + long + `"}`, wantID: "2025-01"},
		{name: "ok with extra fields", in: `{"kid":"k","secret":"` + long + `","note":"x"}`, wantID: "k"},
		{name: "bad json", in: `{"kid":"k","secret":"` + long + `"`, wantErr: true},
		{name: "not json", in: long, wantErr: true},
		{name: "syntax error inside the secret", in: `{"kid":"k","secret":"` + long + `\q"}`, wantErr: true},
		{name: "secret not a string", in: `{"kid":"k","secret":12345678901234567890123456789012345}`, wantErr: true},
		{name: "missing kid", in: `{"secret":"` + long + `"}`, wantErr: true},
		{name: "blank kid", in: `{"kid":"  ","secret":"` + long + `"}`, wantErr: true},
		{name: "missing secret", in: `{"kid":"k"}`, wantErr: true},
		{name: "short secret", in: `{"kid":"k","secret":"` + long[:31] + `"}`, wantErr: true},
		{name: "null", in: `null`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := secrets.ParseKey(tt.in)
			if tt.wantErr {
				if !errors.Is(err, secrets.ErrInvalidSecret) {
					t.Fatalf("err = %v, want ErrInvalidSecret", err)
				}
				// Not even a fragment of the secret may appear.
				assertNoLeak(t, "error", err.Error(), long[:8], long[8:16], "12345678", `\q`)
				return
			}
			if err != nil || k.ID != tt.wantID || string(k.Secret) != long {
				t.Fatalf("ParseKey = %v, %v", k, err)
			}
		})
	}
}

func TestKeyIsRedactedEverywhere(t *testing.T) {
	const secret = "super-secret-signing-key-material!"
	k := secrets.Key{ID: "kid-1", Secret: []byte(secret)}
	type holder struct {
		Name string
		Key  secrets.Key
		Ptr  *secrets.Key
	}
	h := holder{Name: "h", Key: k, Ptr: &k}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outputs = append(outputs, fmt.Sprintf(verb, k), fmt.Sprintf(verb, &k), fmt.Sprintf(verb, h))
	}
	outputs = append(outputs, k.String(), fmt.Sprint(k), fmt.Sprintln([]secrets.Key{k}))
	if b, err := json.Marshal(h); err == nil {
		outputs = append(outputs, string(b))
	} else {
		t.Fatal(err)
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("text", "key", k, "holder", h)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("json", "key", k, "ptr", &k)
	outputs = append(outputs, logs.String())

	// The secret in hex or decimal bytes must not show up either.
	hexSecret := fmt.Sprintf("%x", []byte(secret))
	decSecret := strings.Trim(fmt.Sprint([]byte(secret)[:4]), "[]")
	for _, out := range outputs {
		assertNoLeak(t, "output", out, secret, hexSecret[:16], decSecret)
		if !strings.Contains(out, "kid-1") {
			t.Errorf("output lost the kid: %q", out)
		}
	}
}
