package hardening_test

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// publicRoutes are the routes that need no access token; every other template route does.
var publicRoutes = map[string]bool{
	"GET /health": true, "GET /api/health": true, "GET /api": true, "GET /api/status": true, "POST /api/status": true,
	"GET /api/crypto": true, "GET /api/crypto/{symbol}": true, "GET /api/crypto/{symbol}/history": true,
	"POST /api/auth/signup": true, "POST /api/auth/login": true, "POST /api/auth/refresh": true,
	"POST /api/auth/verify-email": true, "POST /api/auth/resend-verification": true,
}

// victim is a user with something to lose on every route: cash, a BTC holding, a filled order, an
// open limit order, a deposit, audit entries.
type victim struct {
	*user
	filledOrder, openOrder, deposit, auditLog string
}

func newVictim(s *stack, email string) *victim {
	s.t.Helper()
	v := &victim{user: s.signup(email)}
	v.filledOrder = field(testenv.Expect(s.t, v.do("POST", "/api/orders", `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.02}`), 201, ""), "order", "id")
	v.openOrder = field(testenv.Expect(s.t, v.do("POST", "/api/orders", `{"trading_pair":"ETH/USD","order_type":"limit","side":"buy","amount":0.1,"price":1000}`), 201, ""), "order", "id")
	v.deposit = field(testenv.Expect(s.t, v.do("POST", "/api/transactions", `{"type":"deposit","amount":250}`), 201, ""), "transaction", "id")
	logs := testenv.Expect(s.t, v.do("GET", "/api/audit-logs?limit=1", ""), 200, "")["logs"].([]any)
	v.auditLog, _ = logs[0].(map[string]any)["id"].(string)
	if v.filledOrder == "" || v.openOrder == "" || v.deposit == "" || v.auditLog == "" {
		s.t.Fatalf("victim %s: missing ids %+v", email, v)
	}
	return v
}

// target fills a route's path parameters with the victim's ids (BTC for a symbol).
func (v *victim) target(route samtemplate.Route) string {
	p := route.Path
	id := v.filledOrder
	switch {
	case strings.HasPrefix(p, "/api/orders/") && strings.HasSuffix(p, "/cancel"):
		id = v.openOrder
	case strings.HasPrefix(p, "/api/transactions/"):
		id = v.deposit
	case strings.HasPrefix(p, "/api/audit-logs/"):
		id = v.auditLog
	}
	p = strings.ReplaceAll(p, "{id}", id)
	return strings.ReplaceAll(p, "{symbol}", "BTC")
}

// apiRoutes are the template's routes other than OPTIONS, sorted.
func (s *stack) apiRoutes() []samtemplate.Route {
	var out []samtemplate.Route
	for _, r := range s.routes {
		if r.Method != http.MethodOptions {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b samtemplate.Route) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// acceptedBodies is, for every state-changing route, a JSON body the route would act on (the
// victim's password where one is needed): what a cross-site form would try to smuggle in.
var acceptedBodies = map[string]string{
	"POST /api/auth/2fa/backup-codes":        `{"code":"123456"}`,
	"POST /api/auth/2fa/disable":             `{"password":"` + password + `","code":"123456"}`,
	"POST /api/auth/2fa/setup":               ``,
	"POST /api/auth/2fa/verify":              `{"code":"123456"}`,
	"POST /api/auth/change-password":         `{"current_password":"` + password + `","new_password":"Attacker9Chosen"}`,
	"POST /api/auth/login":                   `{"email":"victim@example.com","password":"` + password + `"}`,
	"POST /api/auth/logout":                  ``,
	"POST /api/auth/refresh":                 ``,
	"POST /api/auth/resend-verification":     `{"email":"victim@example.com"}`,
	"POST /api/auth/signup":                  `{"email":"csrf@example.com","password":"` + password + `","name":"Cross Site"}`,
	"POST /api/auth/verify-email":            `{"email":"victim@example.com","code":"000000"}`,
	"POST /api/orders":                       `{"trading_pair":"BTC/USD","order_type":"market","side":"buy","amount":0.01}`,
	"POST /api/orders/{id}/cancel":           ``,
	"POST /api/portfolio/holding":            `{"symbol":"ETH","amount":3}`,
	"DELETE /api/portfolio/holding/{symbol}": ``,
	"POST /api/status":                       `{"client":"csrf"}`,
	"POST /api/transactions":                 `{"type":"withdrawal","amount":500}`,
}

// formOf re-encodes a flat JSON object as the fields of a form.
func formOf(t *testing.T, body string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	if body == "" {
		return fields
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range m {
		fields[k] = fmt.Sprint(v)
	}
	return fields
}

// TestCrossSiteFormPostsChangeNothing: the three content types an HTML form (or a no-cors fetch)
// can send cross-site — text/plain (the JSON-in-a-form trick), form-urlencoded and multipart —
// are refused with 415 on every state-changing route of every function, even with the victim's
// cookies and a body the route would accept as JSON; and nothing in the database changes.
func TestCrossSiteFormPostsChangeNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	v := newVictim(s, "victim@example.com")
	before := s.snapshot()
	checked := 0
	for _, route := range s.apiRoutes() {
		if route.Method == http.MethodGet {
			continue
		}
		jsonBody, ok := acceptedBodies[route.String()]
		if !ok {
			t.Errorf("%s changes state but has no CSRF case: add it to acceptedBodies", route)
			continue
		}
		fields := formOf(t, jsonBody)
		form := url.Values{}
		for k, val := range fields {
			form.Set(k, val)
		}
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			_ = mw.WriteField(k, fields[k])
		}
		_ = mw.Close()
		cases := []struct{ contentType, body string }{
			{"text/plain", jsonBody},
			{"text/plain;charset=UTF-8", jsonBody + "="}, // <form enctype="text/plain"> appends "=" to the smuggled JSON
			{"application/x-www-form-urlencoded", form.Encode()},
			{mw.FormDataContentType(), mp.String()},
		}
		for _, c := range cases {
			h := v.cookies("Content-Type", c.contentType)
			h.Set("Origin", "https://evil.example")
			r := s.do(route.Method, v.target(route), h, c.body)
			testenv.Expect(t, r, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")
			assertNoCORS(t, route.String()+" "+c.contentType, r)
			checked++
		}
	}
	s.assertUnchanged("cross-site form posts", before)
	// The same requests as the frontend sends them (JSON, allowed origin) do work: the refusals
	// above are the content type's doing.
	testenv.Expect(t, v.do("POST", "/api/transactions", acceptedBodies["POST /api/transactions"]), 201, "")
	t.Logf("%d cross-site form posts refused with 415, database unchanged", checked)
}

// disallowedOrigins are origins a browser may send that are not on the allowlist
// (testenv.Origin): another site, an opaque origin, look-alikes of the allowed one.
var disallowedOrigins = []string{
	"https://evil.example",
	"null",
	"http://localhost:3000.evil.example",
	"http://evil.example:3000",
	"http://localhost:30000",
	"https://localhost:3000",
	"http://127.0.0.1:3000",
}

func assertNoCORS(t *testing.T, what string, r response) {
	t.Helper()
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: CORS header %s: %q for a disallowed origin", what, k, r.Header.Get(k))
		}
	}
}

// TestDisallowedOriginGetsNoCORS: on every route of every function (preflights included), a
// request from an origin outside the allowlist gets no Access-Control-* header at all, whatever
// the status; a preflight is still 204. The allowed origin gets them on the same routes.
func TestDisallowedOriginGetsNoCORS(t *testing.T) {
	s := newStack(t, stackOptions{})
	v := newVictim(s, "victim@example.com")
	var preflights, requests int
	for _, route := range slices.Concat(s.apiRoutes(), s.preflightRoutes()) {
		for _, origin := range disallowedOrigins {
			h := v.bearer("Origin", origin)
			h.Set("Origin", origin)
			body := acceptedBodies[route.String()]
			if route.Method == http.MethodOptions {
				h = http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"},
					"Access-Control-Request-Headers": {"content-type,authorization"}}
				body = ""
			}
			r := s.do(route.Method, v.target(route), h, body)
			assertNoCORS(t, route.String()+" from "+origin, r)
			if route.Method == http.MethodOptions {
				preflights++
				if r.Status != http.StatusNoContent {
					t.Errorf("preflight %s from %s: %d, want 204", route, origin, r.Status)
				}
			} else {
				requests++
			}
		}
		// Control: the allowed origin does get CORS headers on this route.
		h := v.bearer()
		if route.Method == http.MethodOptions {
			h = http.Header{"Origin": {testenv.Origin}, "Access-Control-Request-Method": {"POST"}}
		}
		r := s.do(route.Method, v.target(route), h, "")
		if r.Header.Get("Access-Control-Allow-Origin") != testenv.Origin || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s from the allowed origin: no CORS headers (%d %v)", route, r.Status, r.Header)
		}
	}
	t.Logf("%d requests and %d preflights from %d disallowed origins: no CORS header", requests, preflights, len(disallowedOrigins))
}

// preflightRoutes are the template's OPTIONS routes.
func (s *stack) preflightRoutes() []samtemplate.Route {
	var out []samtemplate.Route
	for _, r := range s.routes {
		if r.Method == http.MethodOptions {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b samtemplate.Route) int { return strings.Compare(a.String(), b.String()) })
	return slices.Compact(out)
}

// jwtPart is base64url without padding, as JWTs use.
func jwtPart(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge builds a JWT from a header and claims, signed by sign over "header.payload" (nil: no
// signature).
func forge(header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	in := jwtPart(header) + "." + jwtPart(claims)
	if sign == nil {
		return in + "."
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func hs256(key []byte) func([]byte) []byte {
	return func(in []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(in)
		return m.Sum(nil)
	}
}

// claimsOf decodes a token's payload without verifying it.
func claimsOf(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// with returns a copy of m with kv set (a nil value deletes the key).
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// TestForgedTokensOnEveryRoute: every authenticated route of every function refuses, with 401
// UNAUTHENTICATED and no change, each classic token attack — alg none, HS/RS confusion (an RS256
// token signed with the attacker's key and its public key embedded; an HS256 token keyed with a
// public key), wrong kid, kid path traversal, missing exp, expired, future iat, wrong aud/iss,
// a tampered payload, a refresh token or a refresh-typed JWT as access token, a revoked
// session — whether it comes as a bearer header or as the access cookie. A token forged the same
// way with valid claims and our key is accepted, so each refusal is the attack's doing.
func TestForgedTokensOnEveryRoute(t *testing.T) {
	s := newStack(t, stackOptions{})
	v := newVictim(s, "victim@example.com")
	other := s.signup("other@example.com")
	key := []byte(testenv.JWTSecret)
	now := time.Now()
	real := claimsOf(t, v.access)
	valid := map[string]any{
		"sub": v.id, "sid": real["sid"], "jti": "forged-1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"iss": real["iss"], "aud": real["aud"], "typ": "access",
	}
	hs := map[string]any{"alg": "HS256", "typ": "JWT", "kid": app.LocalKeyID}

	// The attacker's RSA key: its public half is what an RS/HS confusion uses as an HMAC secret.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rs256 := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	jwk := map[string]any{"kty": "RSA", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes())}

	control := forge(hs, valid, hs256(key))
	testenv.Expect(t, s.do("GET", "/api/auth/me", jsonHeader("Authorization", "Bearer "+control), ""), 200, "")

	// A logged-out session's token.
	loggedOut := s.do("POST", "/api/auth/login", jsonHeader(), fmt.Sprintf(`{"email":%q,"password":%q}`, other.email, password))
	revoked := testenv.Expect(t, loggedOut, 200, "")["access_token"].(string)
	testenv.Expect(t, s.do("POST", "/api/auth/logout", jsonHeader("Authorization", "Bearer "+revoked), ""), 200, "")

	validParts := strings.Split(control, ".")
	tamperedPayload := jwtPart(with(valid, "sub", other.id))
	attacks := map[string]string{
		"alg none":                        forge(with(hs, "alg", "none"), valid, nil),
		"alg NONE with our signature":     jwtPart(with(hs, "alg", "NONE")) + "." + validParts[1] + "." + validParts[2],
		"RS256 with the attacker's key":   forge(with(hs, "alg", "RS256"), valid, rs256),
		"RS256 with an embedded jwk":      forge(with(hs, "alg", "RS256", "jwk", jwk), valid, rs256),
		"RS256 with a jku":                forge(with(hs, "alg", "RS256", "jku", "https://evil.example/jwks.json"), valid, rs256),
		"RS256 label, our HMAC signature": forge(with(hs, "alg", "RS256"), valid, hs256(key)),
		"HS256 keyed with a public key":   forge(hs, valid, hs256(pubPEM)),
		"HS256 keyed with the empty key":  forge(hs, valid, hs256(nil)),
		"HS512 with our key":              forge(with(hs, "alg", "HS512"), valid, hs256(key)),
		"kid path traversal":              forge(with(hs, "kid", "../../../../dev/null"), valid, hs256(nil)),
		"unknown kid":                     forge(with(hs, "kid", "prod-9"), valid, hs256(key)),
		"no kid":                          forge(with(hs, "kid", nil), valid, hs256(key)),
		"missing exp":                     forge(hs, with(valid, "exp", nil), hs256(key)),
		"expired":                         forge(hs, with(valid, "iat", now.Add(-time.Hour).Unix(), "exp", now.Add(-time.Minute).Unix()), hs256(key)),
		"iat an hour ahead":               forge(hs, with(valid, "iat", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix()), hs256(key)),
		"wrong aud":                       forge(hs, with(valid, "aud", "another-api"), hs256(key)),
		"wrong iss":                       forge(hs, with(valid, "iss", "evil"), hs256(key)),
		"typ refresh":                     forge(hs, with(valid, "typ", "refresh"), hs256(key)),
		"tampered payload":                validParts[0] + "." + tamperedPayload + "." + validParts[2],
		"refresh token as access token":   v.refresh,
		"revoked session":                 revoked,
	}

	routes := []samtemplate.Route{}
	for _, r := range s.apiRoutes() {
		if !publicRoutes[r.String()] {
			routes = append(routes, r)
		}
	}
	// Every non-public route really is authenticated (no token: 401), so the list is right.
	for _, r := range routes {
		testenv.Expect(t, s.do(r.Method, v.target(r), jsonHeader(), acceptedBodies[r.String()]), 401, "UNAUTHENTICATED")
	}
	before := s.snapshot()
	n := 0
	for _, name := range slices.Sorted(maps.Keys(attacks)) {
		tok := attacks[name]
		for _, r := range routes {
			for _, h := range []http.Header{
				jsonHeader("Authorization", "Bearer "+tok),
				jsonHeader("Cookie", "access_token="+tok),
			} {
				res := s.do(r.Method, v.target(r), h, acceptedBodies[r.String()])
				if res.Status != http.StatusUnauthorized || !bytes.Contains(res.Body, []byte(`"UNAUTHENTICATED"`)) {
					t.Errorf("%s on %s: %d %s, want 401 UNAUTHENTICATED", name, r, res.Status, res.Body)
				}
				n++
			}
		}
	}
	s.assertUnchanged("forged tokens", before)
	t.Logf("%d attacks × %d authenticated routes × bearer and cookie = %d requests, all 401, nothing changed", len(attacks), len(routes), n)
}
