package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/secrets"
)

const (
	secretA = "aaaaaaaa-first-signing-secret-32+bytes"
	secretB = "bbbbbbbb-second-signing-secret-32+bytes"
	secretC = "cccccccc-third-signing-secret-32+bytes"
)

func TestSecretsManagerKeyRingRotation(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("jwt", keyJSON(t, "kid-a", secretA))
	ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")

	// A secret with a single version has no AWSPREVIOUS: that is normal.
	if err := ring.Check(ctxT(t)); err != nil {
		t.Fatalf("Check = %v", err)
	}
	k, err := ring.SigningKey(ctxT(t))
	if err != nil || k.ID != "kid-a" || string(k.Secret) != secretA {
		t.Fatalf("SigningKey = %v, %v; want kid-a", k, err)
	}
	callsPerLoad := e.srv.Calls() // AWSCURRENT + AWSPREVIOUS

	// Rotation: kid-b becomes AWSCURRENT, kid-a AWSPREVIOUS. Until the TTL
	// expires the cached keys are used without any call.
	e.srv.Put("jwt", keyJSON(t, "kid-b", secretB))
	if k, _ := ring.SigningKey(ctxT(t)); k.ID != "kid-a" {
		t.Fatalf("SigningKey before expiry = %v, want kid-a (cached)", k)
	}
	if e.srv.Calls() != callsPerLoad {
		t.Fatalf("Calls() = %d, want %d: fresh keys need no call", e.srv.Calls(), callsPerLoad)
	}

	e.clock.Advance(testTTL)
	eventually(t, "the new signing key", func() bool {
		k, err := ring.SigningKey(ctxT(t))
		return err == nil && k.ID == "kid-b"
	})

	tests := []struct {
		kid     string
		secret  string
		wantErr error
	}{
		{kid: "kid-b", secret: secretB},                // current
		{kid: "kid-a", secret: secretA},                // previous: tokens from before the rotation
		{kid: "kid-x", wantErr: secrets.ErrUnknownKey}, // never existed
		{kid: "", wantErr: secrets.ErrUnknownKey},      // no kid in the token
		{kid: "KID-B", wantErr: secrets.ErrUnknownKey}, // kids are exact
	}
	for _, tt := range tests {
		k, err := ring.VerificationKey(ctxT(t), tt.kid)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || errors.Is(err, secrets.ErrUnavailable) {
				t.Errorf("VerificationKey(%q) = %v, %v; want %v", tt.kid, k, err, tt.wantErr)
			}
			continue
		}
		if err != nil || k.ID != tt.kid || string(k.Secret) != tt.secret {
			t.Errorf("VerificationKey(%q) = %v, %v", tt.kid, k, err)
		}
	}

	// A second rotation retires kid-a.
	e.srv.Put("jwt", keyJSON(t, "kid-c", secretC))
	e.clock.Advance(testTTL)
	eventually(t, "the second rotation", func() bool {
		k, err := ring.SigningKey(ctxT(t))
		return err == nil && k.ID == "kid-c"
	})
	if _, err := ring.VerificationKey(ctxT(t), "kid-b"); err != nil {
		t.Errorf("kid-b (now previous) = %v", err)
	}
	if _, err := ring.VerificationKey(ctxT(t), "kid-a"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("kid-a after two rotations = %v, want ErrUnknownKey", err)
	}
}

func TestSecretsManagerKeyRingReturnsCopies(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("jwt", keyJSON(t, "kid-a", secretA))
	ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")
	k, err := ring.SigningKey(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	clear(k.Secret) // a careless caller must not corrupt the ring
	if k2, _ := ring.SigningKey(ctxT(t)); string(k2.Secret) != secretA {
		t.Fatalf("ring key was mutated through a returned Key")
	}
}

func TestSecretsManagerKeyRingSingleFlight(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("jwt", keyJSON(t, "kid-a", secretA))
	ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")
	e.srv.Hold()

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := ring.VerificationKey(ctxT(t), "kid-a"); err != nil {
				t.Error(err)
			}
		})
	}
	eventually(t, "the first fetch", func() bool { return e.srv.Attempts() >= 1 })
	time.Sleep(50 * time.Millisecond)
	e.srv.Release()
	wg.Wait()
	if c := e.srv.Calls(); c != 2 {
		t.Errorf("Calls() = %d, want 2 (AWSCURRENT and AWSPREVIOUS once)", c)
	}
}

func TestSecretsManagerKeyRingColdStartDown(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("jwt", keyJSON(t, "kid-a", secretA))
	e.srv.SetDown(true)
	ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")

	err := ring.Check(ctxT(t))
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Check = %v, want ErrUnavailable", err)
	}
	_, signErr := ring.SigningKey(ctxT(t))
	_, verifyErr := ring.VerificationKey(ctxT(t), "kid-a")
	for name, err := range map[string]error{"Check": err, "SigningKey": signErr, "VerificationKey": verifyErr} {
		if !errors.Is(err, secrets.ErrUnavailable) || errors.Is(err, secrets.ErrUnknownKey) {
			t.Errorf("%s = %v, want ErrUnavailable (not ErrUnknownKey)", name, err)
			continue
		}
		assertNoLeak(t, name+" error", err.Error(), secretA)
	}

	e.srv.SetDown(false)
	e.clock.Advance(testRetry)
	if err := ring.Check(ctxT(t)); err != nil {
		t.Fatalf("Check after recovery = %v", err)
	}
	if k, err := ring.SigningKey(ctxT(t)); err != nil || k.ID != "kid-a" {
		t.Fatalf("SigningKey after recovery = %v, %v", k, err)
	}
	assertNoLeak(t, "log", e.logs.String(), secretA)
}

func TestSecretsManagerKeyRingWarmRefreshDown(t *testing.T) {
	e := newEnv(t)
	e.srv.Put("jwt", keyJSON(t, "kid-a", secretA))
	ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")
	if err := ring.Check(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	e.srv.SetDown(true)
	e.clock.Advance(testTTL)
	if _, err := ring.SigningKey(ctxT(t)); err != nil {
		t.Fatalf("SigningKey on a stale ring = %v", err)
	}
	eventually(t, "the refresh warning", func() bool { return strings.Contains(e.logs.String(), "refresh failed") })
	if err := ring.Check(ctxT(t)); err != nil {
		t.Errorf("Check with cached keys while down = %v, want nil", err)
	}
	if k, err := ring.VerificationKey(ctxT(t), "kid-a"); err != nil || k.ID != "kid-a" {
		t.Errorf("VerificationKey while down = %v, %v", k, err)
	}
	assertNoLeak(t, "log", e.logs.String(), secretA)
}

func TestSecretsManagerKeyRingMalformedSecrets(t *testing.T) {
	t.Run("current", func(t *testing.T) {
		e := newEnv(t)
		bad := `{"kid":"kid-a","secret":"short-do-not-log"}`
		e.srv.Put("jwt", bad)
		ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")
		_, err := ring.SigningKey(ctxT(t))
		if !errors.Is(err, secrets.ErrUnavailable) || !errors.Is(err, secrets.ErrInvalidSecret) {
			t.Fatalf("err = %v, want ErrUnavailable and ErrInvalidSecret", err)
		}
		assertNoLeak(t, "error", err.Error(), "short-do-not-log")
		assertNoLeak(t, "log", e.logs.String(), "short-do-not-log")
	})

	t.Run("previous is ignored", func(t *testing.T) {
		e := newEnv(t)
		e.srv.Put("jwt", `not json: do-not-log`)
		e.srv.Put("jwt", keyJSON(t, "kid-b", secretB))
		ring := secrets.NewSecretsManagerKeyRing(e.cache, "jwt")
		if k, err := ring.SigningKey(ctxT(t)); err != nil || k.ID != "kid-b" {
			t.Fatalf("SigningKey = %v, %v", k, err)
		}
		if _, err := ring.VerificationKey(ctxT(t), "kid-a"); !errors.Is(err, secrets.ErrUnknownKey) {
			t.Errorf("VerificationKey = %v, want ErrUnknownKey", err)
		}
		logs := e.logs.String()
		if !strings.Contains(logs, "ignoring malformed previous signing key") {
			t.Errorf("no warning about the malformed previous key: %s", logs)
		}
		assertNoLeak(t, "log", logs, "do-not-log", secretB)
	})
}

func TestStaticKeyRing(t *testing.T) {
	a := secrets.Key{ID: "local-a", Secret: []byte(secretA)}
	b := secrets.Key{ID: "local-b", Secret: []byte(secretB)}

	tests := []struct {
		name       string
		keys       []secrets.Key
		wantErr    error
		wantSigner string
	}{
		{name: "one key", keys: []secrets.Key{a}, wantSigner: "local-a"},
		{name: "first signs", keys: []secrets.Key{b, a}, wantSigner: "local-b"},
		{name: "no keys", wantErr: secrets.ErrInvalidSecret},
		{name: "short secret", keys: []secrets.Key{a, {ID: "x", Secret: []byte("tiny-do-not-log")}}, wantErr: secrets.ErrInvalidSecret},
		{name: "empty kid", keys: []secrets.Key{{Secret: []byte(secretA)}}, wantErr: secrets.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ring := secrets.NewStaticKeyRing(tt.keys...)
			ctx := context.Background()
			err := ring.Check(ctx)
			k, signErr := ring.SigningKey(ctx)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(signErr, tt.wantErr) {
					t.Fatalf("Check = %v, SigningKey = %v; want %v", err, signErr, tt.wantErr)
				}
				assertNoLeak(t, "error", err.Error(), secretA, "tiny-do-not-log")
				return
			}
			if err != nil || signErr != nil || k.ID != tt.wantSigner {
				t.Fatalf("Check = %v, SigningKey = %v, %v; want %s", err, k, signErr, tt.wantSigner)
			}
			for _, want := range tt.keys {
				got, err := ring.VerificationKey(ctx, want.ID)
				if err != nil || !bytes.Equal(got.Secret, want.Secret) {
					t.Errorf("VerificationKey(%q) = %v, %v", want.ID, got, err)
				}
			}
			if _, err := ring.VerificationKey(ctx, "other"); !errors.Is(err, secrets.ErrUnknownKey) {
				t.Errorf("VerificationKey(other) = %v, want ErrUnknownKey", err)
			}
		})
	}
}
