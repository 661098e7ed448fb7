package auth_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/logbuf"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// fuzzNow is the verifier's clock in the fuzz targets: fixed, so that seed tokens stay valid.
var fuzzNow = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

func fuzzTokens() *auth.Tokens {
	return newTokens(secrets.NewStaticKeyRing(key1), func() time.Time { return fuzzNow })
}

// sign is a JWT of the raw header and payload texts (not necessarily JSON), HS256-signed with
// secret: what someone holding the key could send.
func sign(header, payload string, secret []byte) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// validHeader and validPayload are what Issue writes at fuzzNow.
var (
	validHeader  = jsonText(map[string]any{"alg": "HS256", "typ": "JWT", "kid": key1.ID})
	validPayload = jsonText(validClaims(fuzzNow))
	validToken   = sign(validHeader, validPayload, key1.Secret)
)

// oracleClaims reads a payload as the JWT library does (encoding/json, field names matched
// case-insensitively), keeping every value raw so its type can be checked.
type oracleClaims struct {
	Iss json.RawMessage `json:"iss"`
	Sub json.RawMessage `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp json.RawMessage `json:"exp"`
	Nbf json.RawMessage `json:"nbf"`
	Iat json.RawMessage `json:"iat"`
	Jti json.RawMessage `json:"jti"`
	Sid json.RawMessage `json:"sid"`
	Typ json.RawMessage `json:"typ"`
}

// checkAccepted explains why Verify must not have accepted token, or returns "" when an
// independent reading agrees that it is a valid access token: three strict base64url parts, an
// HS256 header naming the known key, a correct HMAC-SHA256 signature, and the claims of api.md
// (typ access, sub, sid, jti, our iss and aud, exp after now, iat at most 30 s ahead, nbf not
// ahead; times within a second, as NumericDate rounds) — matching the Claims returned.
func checkAccepted(token string, c auth.Claims) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "not three parts"
	}
	var seg [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return "a part is not strict base64url"
		}
		seg[i] = b
	}
	var header map[string]any
	if err := json.Unmarshal(seg[0], &header); err != nil {
		return "the header is not a JSON object"
	}
	if header["alg"] != "HS256" || header["kid"] != key1.ID {
		return "alg or kid"
	}
	m := hmac.New(sha256.New, key1.Secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), seg[2]) {
		return "the signature is wrong"
	}
	var oc oracleClaims
	if err := json.Unmarshal(seg[1], &oc); err != nil {
		return "the payload is not a JSON object"
	}
	str := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	}
	num := func(raw json.RawMessage) (float64, bool) {
		var n json.Number
		if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &n) != nil {
			return 0, false
		}
		f, err := n.Float64()
		return f, err == nil
	}
	now := float64(fuzzNow.Unix())
	switch {
	case str(oc.Typ) != "access":
		return "typ"
	case str(oc.Sub) == "" || str(oc.Sub) != c.UserID:
		return "sub"
	case str(oc.Sid) == "" || str(oc.Sid) != c.SessionID:
		return "sid"
	case str(oc.Jti) == "" || str(oc.Jti) != c.TokenID:
		return "jti"
	case str(oc.Iss) != testIssuer:
		return "iss"
	}
	var aud []string
	if s := str(oc.Aud); s != "" {
		aud = []string{s}
	} else if json.Unmarshal(oc.Aud, &aud) != nil {
		return "aud is neither a string nor strings"
	}
	found := false
	for _, a := range aud {
		found = found || a == testAudience
	}
	if !found {
		return "aud"
	}
	exp, ok := num(oc.Exp)
	if !ok || exp < now-1 {
		return "exp missing or past"
	}
	iat, ok := num(oc.Iat)
	if !ok || iat > now+auth.IssuedAtLeeway.Seconds()+1 {
		return "iat missing or ahead"
	}
	if nbf, ok := num(oc.Nbf); ok && nbf > now+1 {
		return "nbf ahead"
	}
	return ""
}

// FuzzVerifyToken: Verify on any string never panics, never fails with anything but
// ErrInvalidToken, and accepts only a token that an independent check finds validly signed with
// the key and carrying valid claims.
func FuzzVerifyToken(f *testing.F) {
	parts := strings.Split(validToken, ".")
	for _, s := range []string{
		validToken, "", ".", "..", "a.b.c", "a.b", "a.b.c.d", validToken + ".", "." + validToken, validToken + "=",
		parts[0] + "." + parts[1] + ".", parts[0] + ".." + parts[2], strings.ToUpper(validToken),
		"Bearer " + validToken, validToken + " ", " " + validToken, validToken + "\x00",
		sign(`{"alg":"none","kid":"k1"}`, validPayload, nil), parts[0] + "." + parts[1],
		sign(`{"alg":"HS256","kid":"k2"}`, validPayload, key2.Secret),
		sign(validHeader, validPayload, key2.Secret),
		strings.Repeat("A", 5000), "eyJ" + strings.Repeat(".", 3),
		base64.URLEncoding.EncodeToString([]byte(validHeader)) + "." + parts[1] + "." + parts[2],
	} {
		f.Add(s)
	}
	tokens := fuzzTokens()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := tokens.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify(%q): %v does not wrap ErrInvalidToken", token, err)
			}
			if strings.Contains(err.Error(), string(key1.Secret)) || len(token) > 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("the error quotes the token or the key: %v", err)
			}
			return
		}
		if why := checkAccepted(token, c); why != "" {
			t.Fatalf("Verify accepted %q: %s", token, why)
		}
	})
}

// FuzzVerifyMutation: any one-byte change (replace, insert, delete) of a valid token is refused,
// unless it gives back the token itself.
func FuzzVerifyMutation(f *testing.F) {
	for i := range len(validToken) + 1 {
		if i%7 == 0 || i == len(validToken) {
			f.Add(uint16(i), byte('A'), uint8(i%3))
		}
	}
	f.Add(uint16(0), byte('.'), uint8(1))
	f.Add(uint16(len(validToken)-1), byte('B'), uint8(0)) // the signature's last character
	tokens := fuzzTokens()
	f.Fuzz(func(t *testing.T, pos uint16, b byte, op uint8) {
		i := int(pos) % (len(validToken) + 1)
		var m string
		switch op % 3 {
		case 0: // replace
			if i == len(validToken) {
				return
			}
			m = validToken[:i] + string([]byte{b}) + validToken[i+1:]
		case 1: // insert
			m = validToken[:i] + string([]byte{b}) + validToken[i:]
		case 2: // delete
			if i == len(validToken) {
				return
			}
			m = validToken[:i] + validToken[i+1:]
		}
		if _, err := tokens.Verify(context.Background(), m); err == nil && m != validToken {
			t.Fatalf("a mutated token was accepted: %q", m)
		}
	})
}

// FuzzVerifySigned: a token signed with the real key over any header and payload texts (what a
// forger who had the key, or a bug in Issue, would produce) is accepted only when the header and
// the claims are valid: the claim checks, not the signature, are under test.
func FuzzVerifySigned(f *testing.F) {
	claims := func(mod func(map[string]any)) string {
		c := validClaims(fuzzNow)
		mod(c)
		return jsonText(c)
	}
	for _, s := range []struct{ header, payload string }{
		{validHeader, validPayload},
		{`{"alg":"none","kid":"k1"}`, validPayload},
		{`{"alg":"HS512","kid":"k1"}`, validPayload},
		{`{"alg":"hs256","kid":"k1"}`, validPayload},
		{`{"alg":"HS256"}`, validPayload},
		{`{"alg":"HS256","kid":""}`, validPayload},
		{`{"alg":"HS256","kid":1}`, validPayload},
		{`{"alg":"HS256","kid":"k1","crit":["exp"]}`, validPayload},
		{`{"alg":"HS256","kid":"k1","alg":"none"}`, validPayload},
		{`{"ALG":"HS256","kid":"k1"}`, validPayload},
		{`[]`, validPayload},
		{validHeader, `null`},
		{validHeader, `[]`},
		{validHeader, ``},
		{validHeader, claims(func(c map[string]any) { delete(c, "exp") })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = fuzzNow.Add(-time.Second).Unix() })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = fuzzNow.Unix() })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = "1795856400" })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = 1e300 })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = -1 })},
		{validHeader, claims(func(c map[string]any) { c["exp"] = true })},
		{validHeader, claims(func(c map[string]any) { delete(c, "iat") })},
		{validHeader, claims(func(c map[string]any) { c["iat"] = fuzzNow.Add(31 * time.Second).Unix() })},
		{validHeader, claims(func(c map[string]any) { c["iat"] = fuzzNow.Add(30 * time.Second).Unix() })},
		{validHeader, claims(func(c map[string]any) { c["nbf"] = fuzzNow.Add(time.Minute).Unix() })},
		{validHeader, claims(func(c map[string]any) { c["aud"] = "cryptovault-api" })},
		{validHeader, claims(func(c map[string]any) { c["aud"] = []string{"other", "cryptovault-api"} })},
		{validHeader, claims(func(c map[string]any) { c["aud"] = "other" })},
		{validHeader, claims(func(c map[string]any) { c["aud"] = []any{1} })},
		{validHeader, claims(func(c map[string]any) { c["iss"] = "evil" })},
		{validHeader, claims(func(c map[string]any) { c["typ"] = "refresh" })},
		{validHeader, claims(func(c map[string]any) { delete(c, "typ"); c["TYP"] = "access" })},
		{validHeader, claims(func(c map[string]any) { c["sub"] = "" })},
		{validHeader, claims(func(c map[string]any) { c["sub"] = map[string]any{"$ne": nil} })},
		{validHeader, claims(func(c map[string]any) { delete(c, "sid") })},
		{validHeader, claims(func(c map[string]any) { c["jti"] = 5 })},
		{validHeader, strings.TrimSuffix(validPayload, "}") + `,"typ":"refresh"}`},
		{validHeader, validPayload + " "},
		{validHeader, validPayload + "x"},
	} {
		f.Add(s.header, s.payload)
	}
	tokens := fuzzTokens()
	f.Fuzz(func(t *testing.T, header, payload string) {
		token := sign(header, payload, key1.Secret)
		c, err := tokens.Verify(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("%v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if why := checkAccepted(token, c); why != "" {
			t.Fatalf("Verify accepted header %s payload %s: %s", header, payload, why)
		}
	})
}

// FuzzRefreshTokenFromCookie: any Cookie header gives either nothing or the non-empty value of a
// refresh_token cookie that the header really carries, never a value with a separator or a
// control character in it.
func FuzzRefreshTokenFromCookie(f *testing.F) {
	for _, s := range []string{
		"refresh_token=abc", "theme=dark; refresh_token=abc", "refresh_token=", "refresh_token", "refresh_token=a; refresh_token=b",
		`refresh_token="quoted"`, "refresh_token=a b", "refresh_token=a,b", "refresh_token=a;b", "REFRESH_TOKEN=abc", " refresh_token = abc ",
		"refresh_token=\x00", "refresh_token=%00", "refresh_token=ä", ";;;;", "=", strings.Repeat("refresh_token=x;", 1000),
		"access_token=x; refresh_token=y\r\nSet-Cookie: z=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cookie string) {
		r := httptest.NewRequest(http.MethodPost, "/api/auth/refresh", nil)
		r.Header.Set("Cookie", cookie)
		v, ok := auth.RefreshTokenFromCookie(r)
		if !ok {
			if v != "" {
				t.Fatalf("not found, but value %q", v)
			}
			return
		}
		// net/http's cookie-value rule: printable ASCII without ; " and \ (spaces and commas
		// inside a value are accepted since Go 1.22).
		if v == "" || strings.ContainsAny(v, ";\"\\") || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			t.Fatalf("%q gave the value %q", cookie, v)
		}
		if !strings.Contains(cookie, auth.RefreshTokenCookie) || !strings.Contains(cookie, v) {
			t.Fatalf("%q gave the value %q, which it does not carry", cookie, v)
		}
	})
}

// FuzzGuardCredentials: whatever Authorization headers and Cookie a request carries, the guard
// (behind the real middleware) answers 200 or 401, never anything else; and it lets a request in
// only with the valid token where the credential rules look: the one non-blank Authorization
// header when there is one, else the access_token cookie. In the inputs "{T}" stands for a valid
// token, "{X}" an expired one, "{F}" one signed with an unknown key and "{R}" one of a revoked
// session, so that the fuzzer mixes real credentials.
func FuzzGuardCredentials(f *testing.F) {
	db := testenv.DB(f)
	uri := db.URI()
	client := mongodb.New(mongodb.Options{
		URI:                    func(context.Context) (string, error) { return uri, nil },
		Database:               "auth_fuzz",
		ServerSelectionTimeout: 2 * time.Second,
	})
	f.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	tokens := fuzzTokens()
	logs := &logbuf.Buffer{}
	rev := auth.NewRevocations(auth.RevocationsOptions{DB: client.Database})
	rev.Revoke("s-revoked")
	g := newGuarded(tokens, rev, logs)

	ctx := context.Background()
	issue := func(tk *auth.Tokens, sid string) string {
		tok, _, err := tk.Issue(ctx, "user-1", sid)
		if err != nil {
			f.Fatal(err)
		}
		return tok
	}
	valid := issue(tokens, "session-1")
	placeholders := strings.NewReplacer(
		"{T}", valid,
		"{X}", issue(newTokens(secrets.NewStaticKeyRing(key1), func() time.Time { return fuzzNow.Add(-time.Hour) }), "session-1"),
		"{F}", issue(newTokens(secrets.NewStaticKeyRing(key2), func() time.Time { return fuzzNow }), "session-1"),
		"{R}", issue(tokens, "s-revoked"),
	)
	for _, s := range []struct {
		auth1, auth2, cookie string
		set                  uint8 // bit 0: auth1 sent, bit 1: auth2 sent, bit 2: cookie sent
	}{
		{"Bearer {T}", "", "", 1},
		{"bearer {T}", "", "", 1},
		{"BEARER   {T}", "", "", 1},
		{"Bearer {T}", "Bearer {T}", "", 3},
		{"", "", "access_token={T}", 4},
		{"", "", "access_token={T}", 5},
		{"  ", "", "access_token={T}", 7},
		{"Bearer {X}", "", "access_token={T}", 5},
		{"Basic dXNlcjpwdw==", "", "access_token={T}", 5},
		{"Bearer {T} x", "", "", 1},
		{"Bearer\t{T}", "", "", 1},
		{"Bearer {F}", "", "", 1},
		{"Bearer {R}", "", "", 1},
		{"", "", "access_token={R}; access_token={T}", 4},
		{"", "", "access_token={T}; access_token={R}", 4},
		{"", "", `access_token="{T}"`, 4},
		{"", "", "refresh_token={T}", 4},
		{"Bearer {T}\r\nX-Injected: 1", "", "", 1},
		{"Bearer " + strings.Repeat("A", 5000), "", "", 1},
		{"{T}", "", "", 1},
	} {
		f.Add(s.auth1, s.auth2, s.cookie, s.set)
	}
	f.Fuzz(func(t *testing.T, auth1, auth2, cookie string, set uint8) {
		header := http.Header{}
		if set&1 != 0 {
			header.Add("Authorization", placeholders.Replace(auth1))
		}
		if set&2 != 0 {
			header.Add("Authorization", placeholders.Replace(auth2))
		}
		if set&4 != 0 {
			header.Add("Cookie", placeholders.Replace(cookie))
		}
		res := g.get(t, header)
		switch res.status {
		case http.StatusUnauthorized:
			checkUnauthenticated(t, res)
			return
		case http.StatusOK:
		default:
			t.Fatalf("status %d for %q", res.status, header)
		}
		if res.body["user_id"] != "user-1" || res.body["session_id"] != "session-1" {
			t.Fatalf("let in as %v for %q", res.body, header)
		}
		var nonBlank []string
		for _, v := range header.Values("Authorization") {
			if strings.TrimSpace(v) != "" {
				nonBlank = append(nonBlank, v)
			}
		}
		switch {
		case len(nonBlank) > 1:
			t.Fatalf("let in with several Authorization headers: %q", header)
		case len(nonBlank) == 1:
			if !strings.Contains(nonBlank[0], valid) || !strings.EqualFold(strings.Fields(nonBlank[0])[0], "Bearer") {
				t.Fatalf("let in by the header %q", nonBlank[0])
			}
		case !bytes.Contains([]byte(header.Get("Cookie")), []byte("access_token="+valid)) &&
			!bytes.Contains([]byte(header.Get("Cookie")), []byte(`access_token="`+valid+`"`)): // RFC 6265 quoting
			t.Fatalf("let in by the cookie %q", header.Get("Cookie"))
		}
	})
}
