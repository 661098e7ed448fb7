package auth_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

// guarded is a tiny function: one protected route that echoes the principal, behind the real
// middleware with the platform's error classifiers and a captured log.
type guarded struct {
	h    http.Handler
	logs *logbuf.Buffer
}

func newGuarded(tokens *auth.Tokens, rev *auth.Revocations, logs *logbuf.Buffer) *guarded {
	classifiers := new(app.Deps).Classifiers() // the platform's 503 mappings (they read no Deps field)
	rt := web.NewRouter(web.RouterOptions{Classifiers: classifiers})
	guard := auth.NewGuard(tokens, rev)
	rt.Handle("GET /api/auth/me", guard.Require(func(w http.ResponseWriter, r *http.Request) error {
		p, ok := auth.PrincipalFrom(r.Context())
		web.WriteJSON(w, http.StatusOK, map[string]any{
			"ok": ok, "user_id": p.UserID, "session_id": p.SessionID, "token_id": p.TokenID,
		})
		return nil
	}))
	return &guarded{
		h: web.Wrap(rt, web.Options{
			Function: "auth", Logger: obs.NewLogger(logs, slog.LevelDebug), Classifiers: classifiers,
		}),
		logs: logs,
	}
}

type result struct {
	status int
	body   map[string]any
}

func (g *guarded) get(t *testing.T, header http.Header) result {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/auth/me", nil)
	for k, vs := range header {
		r.Header[k] = vs
	}
	w := httptest.NewRecorder()
	g.h.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, w.Body)
	}
	return result{status: w.Code, body: body}
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func cookieHeader(tok string) http.Header {
	return http.Header{"Cookie": {"theme=dark; " + auth.AccessTokenCookie + "=" + tok}}
}

func merge(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, vs := range h {
			out[k] = append(out[k], vs...)
		}
	}
	return out
}

func TestGuard(t *testing.T) {
	tdb := newTestDB(t)
	ctx := context.Background()
	now := time.Now()
	insertSessions(t, tdb,
		session{id: "s-alice", expiresAt: now.Add(time.Hour)},
		session{id: "s-bob", expiresAt: now.Add(time.Hour)},
		session{id: "s-logged-out", revokedAt: now.Add(-time.Minute), expiresAt: now.Add(time.Hour)},
		session{id: "s-revoked-here", expiresAt: now.Add(time.Hour)},
	)
	logs := &logbuf.Buffer{}
	tokens := newTokens(secrets.NewStaticKeyRing(key1), nil)
	rev := auth.NewRevocations(auth.RevocationsOptions{DB: tdb.client.Database, Logger: obs.NewLogger(logs, slog.LevelDebug)})
	g := newGuarded(tokens, rev, logs)

	var issued []string // every token, to check none reaches the log
	issue := func(user, sid string) string {
		tok, _, err := tokens.Issue(ctx, user, sid)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok)
		return tok
	}
	alice, bob := issue("alice", "s-alice"), issue("bob", "s-bob")
	loggedOut, revokedHere := issue("carol", "s-logged-out"), issue("dave", "s-revoked-here")
	rev.Revoke("s-revoked-here")
	past := newTokens(secrets.NewStaticKeyRing(key1), func() time.Time { return now.Add(-time.Hour) })
	expired, _, err := past.Issue(ctx, "alice", "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := newTokens(secrets.NewStaticKeyRing(key2), nil).Issue(ctx, "alice", "s-alice")
	if err != nil {
		t.Fatal(err)
	}
	issued = append(issued, expired, foreign)

	tests := []struct {
		name   string
		header http.Header
		user   string // "" means 401
	}{
		{"no credential", nil, ""},
		{"bearer", bearerHeader(alice), "alice"},
		{"bearer, lower-case scheme", http.Header{"Authorization": {"bearer " + alice}}, "alice"},
		{"cookie", cookieHeader(alice), "alice"},
		{"bearer wins over cookie", merge(bearerHeader(bob), cookieHeader(alice)), "bob"},
		{"invalid bearer, valid cookie", merge(bearerHeader("garbage"), cookieHeader(alice)), ""},
		{"expired bearer, valid cookie", merge(bearerHeader(expired), cookieHeader(alice)), ""},
		{"not a bearer scheme, valid cookie", merge(http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, cookieHeader(alice)), ""},
		{"bearer without a token", http.Header{"Authorization": {"Bearer "}}, ""},
		{"bearer token with a space", http.Header{"Authorization": {"Bearer " + alice + " x"}}, ""},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + alice, "Bearer " + bob}}, ""},
		{"empty Authorization header, valid cookie", merge(http.Header{"Authorization": {""}}, cookieHeader(alice)), "alice"},
		{"empty cookie", http.Header{"Cookie": {auth.AccessTokenCookie + "="}}, ""},
		{"expired", bearerHeader(expired), ""},
		{"signed with an unknown key", bearerHeader(foreign), ""},
		{"malformed", bearerHeader("a.b.c"), ""},
		{"session revoked by another instance", bearerHeader(loggedOut), ""},
		{"session revoked by this process", cookieHeader(revokedHere), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.get(t, tc.header)
			if tc.user == "" {
				checkUnauthenticated(t, res)
				return
			}
			if res.status != http.StatusOK || res.body["ok"] != true || res.body["user_id"] != tc.user ||
				res.body["session_id"] == "" || res.body["token_id"] == "" {
				t.Fatalf("got %d %v, want 200 for %s", res.status, res.body, tc.user)
			}
		})
	}

	out := logs.String()
	for _, tok := range issued {
		for _, part := range strings.Split(tok, ".") {
			if strings.Contains(out, part) {
				t.Fatalf("a token (or part of one) reached the log:\n%s", out)
			}
		}
	}
	if strings.Contains(out, string(key1.Secret)) {
		t.Fatalf("the signing key reached the log")
	}
	// The access log names the user of authenticated requests, and the refusals say why at
	// debug (the client was only told "Authentication required").
	if !strings.Contains(out, `"user_id":"alice"`) {
		t.Errorf("no access-log line with the user id:\n%s", out)
	}
	for _, reason := range []string{"session revoked", "no credential", "token is expired", "Authorization is not a Bearer credential"} {
		if !strings.Contains(out, reason) {
			t.Errorf("refusal reason %q not logged at debug", reason)
		}
	}
}

func checkUnauthenticated(t *testing.T, res result) {
	t.Helper()
	if res.status != http.StatusUnauthorized || res.body["code"] != auth.CodeUnauthenticated ||
		res.body["error"] != "Authentication required" || res.body["detail"] != res.body["error"] ||
		res.body["request_id"] == "" {
		t.Fatalf("got %d %v, want the 401 UNAUTHENTICATED envelope", res.status, res.body)
	}
}

// TestGuardOutages: a key ring or database outage is a 503, never a 401 — a 401 would make every
// browser drop its session.
func TestGuardOutages(t *testing.T) {
	ctx := context.Background()
	now := time.Now()

	t.Run("key ring down", func(t *testing.T) {
		tdb := newTestDB(t)
		sm := smfake.Start(t)
		const id = "cryptovault/dev/jwt"
		sm.Put(id, keyJSON(t, key1))
		sm.SetDown(true)
		tokens := newTokens(secrets.NewSecretsManagerKeyRing(secrets.NewCache(sm.Client(t), secrets.CacheOptions{}), id), nil)
		rev := auth.NewRevocations(auth.RevocationsOptions{DB: tdb.client.Database})
		tok := handMade(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "k1"}, validClaims(now), "HS256", key1.Secret)
		res := newGuarded(tokens, rev, &logbuf.Buffer{}).get(t, bearerHeader(tok))
		if res.status != http.StatusServiceUnavailable || res.body["code"] != web.CodeSecretsUnavailable {
			t.Errorf("got %d %v, want 503 SECRETS_UNAVAILABLE", res.status, res.body)
		}
	})

	t.Run("database down", func(t *testing.T) {
		tdb := newTestDB(t)
		tokens := newTokens(secrets.NewStaticKeyRing(key1), nil)
		rev := auth.NewRevocations(auth.RevocationsOptions{DB: tdb.client.Database})
		tok, _, err := tokens.Issue(ctx, "alice", "s-alice")
		if err != nil {
			t.Fatal(err)
		}
		if err := tdb.srv.StopEngine(); err != nil {
			t.Fatal(err)
		}
		res := newGuarded(tokens, rev, &logbuf.Buffer{}).get(t, bearerHeader(tok))
		if res.status != http.StatusServiceUnavailable || res.body["code"] != web.CodeDatabaseUnavailable {
			t.Errorf("got %d %v, want 503 DATABASE_UNAVAILABLE", res.status, res.body)
		}
	})
}
