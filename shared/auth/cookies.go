package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"
)

// RefreshTokenCookie is the cookie carrying the refresh token; its Path limits it to the auth
// routes, so it is not sent with every API call.
const RefreshTokenCookie = "refresh_token"

// Cookie lifetimes in seconds (api.md): each cookie lives as long as the token it carries.
const (
	AccessCookieMaxAge  = int(AccessTokenTTL / time.Second)  // 900
	RefreshCookieMaxAge = int(RefreshTokenTTL / time.Second) // 604800
)

// CookieOptions are the configured cookie attributes (COOKIE_SECURE, COOKIE_SAMESITE): Lax and
// not Secure locally; None and Secure for a cross-site production frontend.
type CookieOptions struct {
	Secure   bool
	SameSite http.SameSite
}

// BasePath returns the path under which the browser sees this API, without a trailing slash:
// "/dev" behind an execute-api stage URL, "" on a custom domain or the local server.
//
// It cannot be a constant: the same function is reached as /dev/api/... through the stage URL and
// as /api/... on a custom domain, while the function itself always sees /api/.... API Gateway
// tells the browser's path in requestContext.path, so the base is that path minus the request's
// own. Without a requestContext (plain HTTP), or when the two paths do not line up, or when the
// result is not a plain path, it is "": a cookie scoped to "/" is still sent, whereas a wrong
// prefix would silently never be.
func BasePath(r *http.Request) string {
	rc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok || rc.Path == "" {
		return ""
	}
	for _, own := range []string{r.URL.Path, r.URL.EscapedPath()} {
		if own == "" || !strings.HasSuffix(rc.Path, own) {
			continue
		}
		if base := strings.TrimSuffix(rc.Path, own); validBase(base) {
			return base
		}
		return ""
	}
	return ""
}

// validBase accepts "" or "/seg[/seg...]" with segments of unreserved URL characters (stage names
// and custom-domain base paths are such). Anything else — a trailing slash, an empty segment,
// ';' or a control character that would end or corrupt the Set-Cookie attribute — is refused.
func validBase(base string) bool {
	if base == "" {
		return true
	}
	if !strings.HasPrefix(base, "/") {
		return false
	}
	for _, seg := range strings.Split(base[1:], "/") {
		if seg == "" {
			return false
		}
		for _, c := range []byte(seg) {
			if !isUnreserved(c) {
				return false
			}
		}
	}
	return true
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// accessCookiePath and refreshCookiePath scope the cookies under the API's base as the browser
// sees it.
func accessCookiePath(base string) string  { return base + "/" }
func refreshCookiePath(base string) string { return base + "/api/auth" }

// SetTokenCookies sets the access_token cookie (Path <base>/, Max-Age 900) and the
// refresh_token cookie (Path <base>/api/auth, Max-Age 604800), both HttpOnly so scripts (and
// XSS) cannot read them. An empty token sets no cookie.
func SetTokenCookies(w http.ResponseWriter, r *http.Request, o CookieOptions, accessToken, refreshToken string) {
	base := BasePath(r)
	if accessToken != "" {
		http.SetCookie(w, o.cookie(AccessTokenCookie, accessToken, accessCookiePath(base), AccessCookieMaxAge))
	}
	if refreshToken != "" {
		http.SetCookie(w, o.cookie(RefreshTokenCookie, refreshToken, refreshCookiePath(base), RefreshCookieMaxAge))
	}
}

// ClearTokenCookies deletes both cookies (Max-Age=0). A cookie is only replaced by one with the
// same name, path and domain, hence the same paths as SetTokenCookies; Secure and SameSite are
// repeated because browsers refuse a SameSite=None cookie without Secure, deletions included.
func ClearTokenCookies(w http.ResponseWriter, r *http.Request, o CookieOptions) {
	base := BasePath(r)
	http.SetCookie(w, o.cookie(AccessTokenCookie, "", accessCookiePath(base), -1))
	http.SetCookie(w, o.cookie(RefreshTokenCookie, "", refreshCookiePath(base), -1))
}

// cookie builds one token cookie; maxAge < 0 sends Max-Age=0 (delete now), as net/http does.
func (o CookieOptions) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   o.Secure,
		SameSite: o.SameSite,
	}
}

// RefreshTokenFromCookie returns the refresh_token cookie's value, if a non-empty one was sent.
// When the browser holds several (e.g. an old one on a wider path), it sends the most specific
// path first, and that is the one returned.
func RefreshTokenFromCookie(r *http.Request) (string, bool) {
	c, err := r.Cookie(RefreshTokenCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}
