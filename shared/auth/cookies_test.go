package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// cookieFunction is a Lambda function whose one handler reports BasePath and sets or clears the
// token cookies, so cookies are tested through the real API Gateway translation and adapter.
func cookieFunction(o auth.CookieOptions) *lambdahttp.Function {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("do") {
		case "set":
			auth.SetTokenCookies(w, r, o, "access.jwt.value", "refresh-value")
		case "clear":
			auth.ClearTokenCookies(w, r, o)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"base": auth.BasePath(r)})
	})
	return &lambdahttp.Function{Name: "cookies", HTTP: mux}
}

// serve sends an API Gateway event for path with the given stage prefix.
func serve(t *testing.T, fn *lambdahttp.Function, path, prefix string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	ev := apigateway.Event(r, r.URL.Path, nil, apigateway.Stage{Name: "prod", PathPrefix: prefix}, "req-1")
	return serveEvent(t, fn, ev)
}

func serveEvent(t *testing.T, fn *lambdahttp.Function, ev events.APIGatewayProxyRequest) *http.Response {
	t.Helper()
	resp, err := fn.ServeEvent(context.Background(), ev)
	if err != nil {
		t.Fatalf("ServeEvent: %v", err)
	}
	rec := httptest.NewRecorder()
	if err := apigateway.WriteResponse(rec, resp); err != nil {
		t.Fatal(err)
	}
	return rec.Result()
}

func baseOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("body: %v", err)
	}
	return body["base"]
}

func TestBasePath(t *testing.T) {
	fn := cookieFunction(auth.CookieOptions{})

	t.Run("stage URL via testenv.Do", func(t *testing.T) {
		r := testenv.Do(t, fn, testenv.Request{Method: http.MethodGet, Path: "/api/auth/login"})
		var body map[string]string
		if err := json.Unmarshal(r.Body, &body); err != nil || body["base"] != "/dev" {
			t.Errorf("base = %q (%v), want /dev", body["base"], err)
		}
	})

	tests := []struct {
		name, path, prefix, want string
	}{
		{"stage", "/api/auth/refresh", "/prod", "/prod"},
		{"custom domain", "/api/auth/refresh", "", ""},
		{"custom domain with a base path mapping", "/api/auth/refresh", "/v1", "/v1"},
		{"nested base path", "/api/auth/login", "/cv/v1", "/cv/v1"},
		{"root of the API", "/api/", "/dev", "/dev"},
		{"path with a query", "/api/orders?limit=5", "/dev", "/dev"},
		{"prefix with a cookie separator", "/api/auth/login", "/dev;x", ""},
		{"prefix ending in a slash", "/api/auth/login", "/dev/", ""},
		{"prefix without a leading slash", "/api/auth/login", "dev", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := baseOf(t, serve(t, fn, tc.path, tc.prefix)); got != tc.want {
				t.Errorf("BasePath = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("requestContext.path not ending with the request path", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/auth/login", nil)
		ev := apigateway.Event(r, r.URL.Path, nil, apigateway.Stage{Name: "dev", PathPrefix: "/dev"}, "req-1")
		ev.RequestContext.Path = "/dev/api/other"
		if got := baseOf(t, serveEvent(t, fn, ev)); got != "" {
			t.Errorf("BasePath = %q, want \"\"", got)
		}
		ev.RequestContext.Path = ""
		if got := baseOf(t, serveEvent(t, fn, ev)); got != "" {
			t.Errorf("BasePath with an empty requestContext.path = %q, want \"\"", got)
		}
	})

	t.Run("plain HTTP, no requestContext", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/auth/login", nil)
		// A client-supplied header imitating the proxy's context must not count.
		r.Header.Set("X-GoLambdaProxy-ApiGw-Context", `{"path":"/evil/api/auth/login"}`)
		if got := auth.BasePath(r); got != "" {
			t.Errorf("BasePath = %q, want \"\"", got)
		}
	})
}

func TestTokenCookies(t *testing.T) {
	tests := []struct {
		name        string
		opts        auth.CookieOptions
		prefix      string
		accessPath  string
		refreshPath string
	}{
		{"local: Lax, not Secure, no prefix", auth.CookieOptions{Secure: false, SameSite: http.SameSiteLaxMode}, "", "/", "/api/auth"},
		{"cross-site production: None, Secure, stage", auth.CookieOptions{Secure: true, SameSite: http.SameSiteNoneMode}, "/prod", "/prod/", "/prod/api/auth"},
		{"strict, stage", auth.CookieOptions{Secure: true, SameSite: http.SameSiteStrictMode}, "/dev", "/dev/", "/dev/api/auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fn := cookieFunction(tc.opts)

			set := serve(t, fn, "/api/auth/login?do=set", tc.prefix)
			checkCookies(t, set, tc.opts, map[string]wantCookie{
				auth.AccessTokenCookie:  {value: "access.jwt.value", path: tc.accessPath, maxAge: 900},
				auth.RefreshTokenCookie: {value: "refresh-value", path: tc.refreshPath, maxAge: 604800},
			})

			cleared := serve(t, fn, "/api/auth/logout?do=clear", tc.prefix)
			checkCookies(t, cleared, tc.opts, map[string]wantCookie{
				auth.AccessTokenCookie:  {value: "", path: tc.accessPath, maxAge: 0},
				auth.RefreshTokenCookie: {value: "", path: tc.refreshPath, maxAge: 0},
			})
		})
	}
}

type wantCookie struct {
	value  string
	path   string
	maxAge int // as sent: 0 means "Max-Age=0" (delete)
}

// checkCookies parses the Set-Cookie headers as a browser would and compares every attribute.
func checkCookies(t *testing.T, resp *http.Response, o auth.CookieOptions, want map[string]wantCookie) {
	t.Helper()
	raw := resp.Header.Values("Set-Cookie")
	if len(raw) != len(want) {
		t.Fatalf("Set-Cookie = %q, want %d cookies", raw, len(want))
	}
	for _, line := range raw {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected cookie %q", line)
			continue
		}
		maxAge := c.MaxAge
		if maxAge < 0 { // net/http reads "Max-Age=0" as -1
			maxAge = 0
		}
		if c.Value != w.value || c.Path != w.path || maxAge != w.maxAge || !strings.Contains(line, "Max-Age=") ||
			!c.HttpOnly || c.Secure != o.Secure || c.SameSite != o.SameSite || c.Domain != "" {
			t.Errorf("Set-Cookie %q: want value %q, Path %s, Max-Age %d, HttpOnly, Secure %v, SameSite %v, no Domain",
				line, w.value, w.path, w.maxAge, o.Secure, o.SameSite)
		}
	}
}

func TestSetTokenCookiesSkipsEmpty(t *testing.T) {
	w := httptest.NewRecorder()
	auth.SetTokenCookies(w, httptest.NewRequest(http.MethodPost, "/api/auth/refresh", nil), auth.CookieOptions{}, "access", "")
	if got := w.Header().Values("Set-Cookie"); len(got) != 1 || !strings.HasPrefix(got[0], auth.AccessTokenCookie+"=access;") {
		t.Errorf("Set-Cookie = %q, want only the access cookie", got)
	}
}

func TestRefreshTokenFromCookie(t *testing.T) {
	tests := []struct {
		name   string
		cookie string
		want   string
		ok     bool
	}{
		{"absent", "", "", false},
		{"other cookies only", "theme=dark; access_token=a.b.c", "", false},
		{"present", "theme=dark; refresh_token=abc_DEF-123", "abc_DEF-123", true},
		{"empty", "refresh_token=", "", false},
		{"several: the most specific path comes first", "refresh_token=newer; refresh_token=older", "newer", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/auth/refresh", nil)
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			got, ok := auth.RefreshTokenFromCookie(r)
			if got != tc.want || ok != tc.ok {
				t.Errorf("RefreshTokenFromCookie = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRefreshTokens(t *testing.T) {
	// Known answer: hex SHA-256 of the token string.
	if got := auth.HashRefreshToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashRefreshToken(abc) = %s", got)
	}
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok, hash := auth.NewRefreshToken()
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q is not 32 bytes of base64url: %v", tok, err)
		}
		if h, err := hex.DecodeString(hash); err != nil || len(h) != 32 || hash != auth.HashRefreshToken(tok) {
			t.Fatalf("hash %q of %q is not its hex SHA-256", hash, tok)
		}
		if seen[tok] {
			t.Fatalf("token repeated after %d draws", i)
		}
		seen[tok] = true
	}
}
