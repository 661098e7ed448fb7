package auth_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/cmdlog"
	"github.com/cryptovault/serverless/shared/testkit/fakeclock"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

const (
	testIssuer   = "cryptovault"
	testAudience = "cryptovault-api"
)

// Test keys: distinct, long enough for the key ring, and recognisable in a log dump.
var (
	key1 = secrets.Key{ID: "k1", Secret: []byte("key-one-0123456789abcdef-0123456789abcdef")}
	key2 = secrets.Key{ID: "k2", Secret: []byte("key-two-0123456789abcdef-0123456789abcdef")}
)

func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC))
}

func newTokens(keys secrets.KeyRing, now func() time.Time) *auth.Tokens {
	return auth.NewTokens(auth.TokensOptions{Keys: keys, Issuer: testIssuer, Audience: testAudience, Now: now})
}

// handMade builds a JWT from raw header and claims, signed as alg says — or, for the attacks,
// as the test says: sigAlg picks the HMAC actually computed ("" for no signature).
func handMade(t *testing.T, header, claims map[string]any, sigAlg string, secret []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signingInput := enc(header) + "." + enc(claims)
	var h func() hash.Hash
	switch sigAlg {
	case "":
		return signingInput + "."
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		t.Fatalf("unknown signature algorithm %q", sigAlg)
	}
	m := hmac.New(h, secret)
	m.Write([]byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// validClaims are the claims Issue would put in a token at now.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"aud": []string{testAudience},
		"sub": "user-1",
		"sid": "session-1",
		"jti": "token-1",
		"iat": now.Unix(),
		"exp": now.Add(auth.AccessTokenTTL).Unix(),
		"typ": "access",
	}
}

// testDB is an embedded database with a client whose find commands on it are counted.
type testDB struct {
	srv    *devdb.Server
	client *mongodb.Client
	name   string
	cmds   cmdlog.Log
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	tdb := &testDB{srv: testenv.DB(t), name: "auth_test"}
	uri := tdb.srv.URI()
	tdb.client = mongodb.New(mongodb.Options{
		URI:                    func(context.Context) (string, error) { return uri, nil },
		Database:               tdb.name,
		ServerSelectionTimeout: 400 * time.Millisecond,
		Monitor:                tdb.cmds.Monitor(),
	})
	t.Cleanup(func() { _ = tdb.client.Disconnect(context.Background()) })
	return tdb
}

// finds is how many find commands the client has sent to the database so far: the revocation
// view's queries (the tests' own writes are not finds).
func (d *testDB) finds() int64 {
	var n int64
	for _, c := range d.cmds.Since(0) {
		if c.Name == "find" && c.Database == d.name {
			n++
		}
	}
	return n
}

// db returns the database directly (for the test's own writes, which are not counted).
func (d *testDB) db(t *testing.T) *mongo.Database {
	t.Helper()
	db, err := d.client.Database(context.Background())
	if err != nil {
		t.Fatalf("database: %v", err)
	}
	return db
}
