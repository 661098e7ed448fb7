package accounts

import (
	"net/http"
	"strings"

	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// tokenResponse is the body of signup, login, verify-email (when it logs in) and refresh.
type tokenResponse struct {
	User         *publicUser `json:"user,omitempty"`
	Message      string      `json:"message,omitempty"`
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    int         `json:"expires_in"`
	RefreshToken string      `json:"refresh_token,omitempty"`
}

// bodyDelivery reports whether the client asked for tokens in the body instead of cookies
// (X-Token-Delivery: body), for clients that cannot keep cookies.
func bodyDelivery(r *http.Request) (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Token-Delivery"))); v {
	case "":
		return false, nil
	case "body":
		return true, nil
	case "cookie":
		return false, nil
	default:
		return false, web.ValidationError(map[string]string{"X-Token-Delivery": "must be body or cookie"})
	}
}

// sendTokens issues an access token for the session and answers with it, in cookies or the body.
// refreshToken is "" when the refresh token does not change (the grace path of refresh).
func (s *Service) sendTokens(w http.ResponseWriter, r *http.Request, status int, resp tokenResponse, userID, sessionID, refreshToken string) error {
	inBody, err := bodyDelivery(r)
	if err != nil {
		return err
	}
	access, _, err := s.tokens.Issue(r.Context(), userID, sessionID)
	if err != nil {
		return err
	}
	resp.AccessToken, resp.TokenType, resp.ExpiresIn = access, "bearer", int(auth.AccessTokenTTL.Seconds())
	if inBody {
		resp.RefreshToken = refreshToken
	} else {
		auth.SetTokenCookies(w, r, s.cookies, access, refreshToken)
	}
	web.WriteJSON(w, status, resp)
	return nil
}

type messageResponse struct {
	Message string `json:"message"`
}
