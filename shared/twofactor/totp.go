package twofactor

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// Issuer names CryptoVault in authenticator apps: it is both the label prefix
// and the issuer parameter of the otpauth URL.
const Issuer = "CryptoVault"

// TOTP parameters (RFC 6238). These are the defaults every authenticator app
// supports; the otpauth URL states them anyway so that no app has to guess.
const (
	// Period is the length of a time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one are accepted,
	// to absorb clock drift and the time a user takes to type.
	Skew = 1
)

const (
	periodSeconds = int64(Period / time.Second)
	// secretSize is 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226
	// recommends; it encodes to 32 base32 characters with no padding.
	secretSize = 20
	// qrSize is the QR image's width and height in pixels: large enough to
	// scan from a screen, small enough (a few KB) for a JSON response.
	qrSize = 256
	// maxCodeInput bounds the work done on a submitted code before it is
	// refused; a real code is 6 characters.
	maxCodeInput = 64
)

// ErrInvalidAccount is returned by NewSetup for an account name that cannot be
// an otpauth label (empty, or containing ':' or a control character).
var ErrInvalidAccount = errors.New("twofactor: invalid account name")

// Setup is what a user needs to enrol an authenticator app. It is returned to
// the client once, at 2fa/setup; only Secret is stored.
type Setup struct {
	// Secret is the shared key, base32 (RFC 4648) without padding.
	Secret string
	// URL is the otpauth://totp/CryptoVault:<email>?... key URI (issuer,
	// algorithm SHA1, digits 6, period 30 and the secret as parameters).
	URL string
	// QRCode is a "data:image/png;base64,..." URL of a QR code encoding URL.
	QRCode string
}

// NewSetup generates a fresh random secret for accountEmail and the otpauth
// URL and QR code that carry it. The email is used as given (the caller has
// already normalised it); it must not be empty or contain ':' (the label
// separator) or control characters.
func NewSetup(accountEmail string) (Setup, error) {
	if accountEmail == "" || strings.ContainsRune(accountEmail, ':') ||
		strings.IndexFunc(accountEmail, unicode.IsControl) >= 0 {
		return Setup{}, ErrInvalidAccount
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      Issuer,
		AccountName: accountEmail,
		Period:      uint(periodSeconds),
		SecretSize:  secretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return Setup{}, fmt.Errorf("twofactor: generate key: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Setup{}, fmt.Errorf("twofactor: render QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Setup{}, fmt.Errorf("twofactor: encode QR code: %w", err)
	}
	return Setup{
		Secret: key.Secret(),
		URL:    key.String(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// Verify checks a TOTP code against secret at time now. It accepts the codes
// of steps now-1, now and now+1 (see [Skew]) but refuses any step less than or
// equal to lastStep, so that each code is accepted once (replay protection,
// and a code older than the last one used is refused too). On success it
// returns the accepted step, which the caller stores as the new lastStep
// (with a conditional update, so that two requests racing with the same code
// cannot both win). A user who never used a code has lastStep 0: real steps
// are in the tens of millions.
//
// code must be exactly 6 ASCII digits; surrounding whitespace is trimmed
// (pasted codes often carry a newline) but inner spaces are not, so "123 456"
// is refused. Comparison is constant-time, and all candidate steps are
// computed whatever the outcome. A malformed secret or code yields false.
func Verify(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code, valid := normaliseTOTP(code)
	if !valid {
		return 0, false
	}
	current := now.Unix() / periodSeconds
	matched := false
	for s := current - Skew; s <= current+Skew; s++ {
		if s < 0 {
			continue // before 1970: no such step (and hotp's counter is unsigned)
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{
			Digits:    otp.DigitsSix,
			Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false // the secret is not base32; the same for every step
		}
		// The lowest matching step wins when a code collides across steps
		// (a 1e-6 chance): storing the lower step refuses fewer later codes.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep && !matched {
			step, matched = s, true
		}
	}
	if !matched {
		return 0, false
	}
	return step, true
}

// normaliseTOTP trims surrounding whitespace and checks for exactly [Digits]
// ASCII digits (unicode.IsDigit would let other scripts' digits through).
func normaliseTOTP(code string) (string, bool) {
	if len(code) > maxCodeInput {
		return "", false
	}
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}
