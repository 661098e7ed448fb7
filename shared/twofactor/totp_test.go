package twofactor_test

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp/totp"

	"github.com/cryptovault/serverless/shared/twofactor"
)

// rfcSecret is the RFC 6238 appendix B SHA-1 seed, "12345678901234567890",
// as base32 (the form we store).
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// The RFC's test vectors are 8 digits; a 6-digit code is the same value
// modulo 10^6, i.e. its last six digits.
func TestVerifyRFC6238Vectors(t *testing.T) {
	tests := []struct {
		unix int64
		rfc8 string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tt := range tests {
		t.Run(tt.rfc8, func(t *testing.T) {
			step, ok := twofactor.Verify(rfcSecret, tt.rfc8[2:], time.Unix(tt.unix, 0), 0)
			if !ok {
				t.Fatalf("Verify(%s at %d) refused a valid code", tt.rfc8[2:], tt.unix)
			}
			if want := tt.unix / 30; step != want {
				t.Errorf("step = %d, want %d", step, want)
			}
		})
	}
}

// The window is ±1 step, and lastStep makes each code single-use.
func TestVerifyWindowAndReplay(t *testing.T) {
	const (
		t0   = 1111111111 // inside step s0
		s0   = t0 / 30
		code = "050471" // the code of step s0
	)
	tests := []struct {
		name     string
		now      int64
		lastStep int64
		wantOK   bool
	}{
		{name: "current step", now: t0, wantOK: true},
		{name: "previous step (clock behind or slow typist)", now: t0 + 30, wantOK: true},
		{name: "next step (clock ahead)", now: t0 - 30, wantOK: true},
		{name: "two steps old refused", now: t0 + 60},
		{name: "two steps ahead refused", now: t0 - 60},
		{name: "after the last accepted step", now: t0, lastStep: s0 - 1, wantOK: true},
		{name: "replay of the accepted step refused", now: t0, lastStep: s0},
		{name: "replay within the window refused", now: t0 + 30, lastStep: s0},
		{name: "step earlier than the last accepted refused", now: t0 + 30, lastStep: s0 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, ok := twofactor.Verify(rfcSecret, code, time.Unix(tt.now, 0), tt.lastStep)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			// The accepted step is the code's own step, not the current one:
			// a later step would refuse the user's next valid code, an
			// earlier one would let this code be replayed.
			if ok && step != s0 {
				t.Errorf("step = %d, want %d", step, s0)
			}
			if !ok && step != 0 {
				t.Errorf("refused with step = %d, want 0", step)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	now := time.Unix(59, 0) // the code is 287082
	tests := []struct {
		name, secret, code string
		wantOK             bool
	}{
		{name: "valid", secret: rfcSecret, code: "287082", wantOK: true},
		{name: "surrounding whitespace trimmed", secret: rfcSecret, code: " 287082\n", wantOK: true},
		{name: "lower-case secret", secret: strings.ToLower(rfcSecret), code: "287082", wantOK: true},
		{name: "empty", secret: rfcSecret, code: ""},
		{name: "five digits", secret: rfcSecret, code: "28708"},
		{name: "seven digits", secret: rfcSecret, code: "2870820"},
		{name: "the 8-digit RFC code", secret: rfcSecret, code: "94287082"},
		{name: "letters", secret: rfcSecret, code: "28708a"},
		{name: "inner space", secret: rfcSecret, code: "287 082"},
		{name: "sign", secret: rfcSecret, code: "+28708"},
		{name: "non-ASCII digits", secret: rfcSecret, code: "２８７０８２"},
		{name: "huge input", secret: rfcSecret, code: strings.Repeat(" ", 100) + "287082"},
		{name: "secret not base32", secret: "not base32!", code: "287082"},
		{name: "empty secret", secret: "", code: "287082"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := twofactor.Verify(tt.secret, tt.code, now, 0); ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
		})
	}
}

func TestNewSetup(t *testing.T) {
	tests := []struct {
		name, email string
	}{
		{name: "plain", email: "alice@example.com"},
		{name: "plus and dots", email: "bob.smith+crypto@mail.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := twofactor.NewSetup(tt.email)
			if err != nil {
				t.Fatal(err)
			}

			// Secret: 160 bits, base32 without padding.
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s.Secret)
			if err != nil || len(raw) != 20 || strings.Contains(s.Secret, "=") {
				t.Fatalf("secret %d chars decodes to %d bytes, err %v; want 20 bytes, no padding", len(s.Secret), len(raw), err)
			}

			// URL: the key URI format authenticator apps read.
			u, err := url.Parse(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/CryptoVault:"+tt.email {
				t.Errorf("URL = %s://%s%s, want otpauth://totp/CryptoVault:%s", u.Scheme, u.Host, u.Path, tt.email)
			}
			q := u.Query()
			for k, want := range map[string]string{
				"secret": s.Secret, "issuer": "CryptoVault", "algorithm": "SHA1", "digits": "6", "period": "30",
			} {
				if got := q.Get(k); got != want {
					t.Errorf("URL parameter %s = %q, want %q", k, got, want)
				}
			}

			// The secret works with an independent TOTP implementation.
			now := time.Now()
			code, err := totp.GenerateCode(s.Secret, now)
			if err != nil {
				t.Fatal(err)
			}
			if step, ok := twofactor.Verify(s.Secret, code, now, 0); !ok || step != now.Unix()/30 {
				t.Errorf("Verify(fresh code) = %d, %v; want %d, true", step, ok, now.Unix()/30)
			}

			// QR code: a PNG data URL whose pixels are exactly a QR code of
			// the URL (rendered independently here), so it carries the URL
			// and not, say, the bare secret.
			b64, found := strings.CutPrefix(s.QRCode, "data:image/png;base64,")
			if !found {
				t.Fatalf("QRCode does not start with the PNG data URL prefix: %.40q", s.QRCode)
			}
			data, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("QR code is not a PNG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
				t.Errorf("QR image is %v, want 256×256", b)
			}
			want := renderQR(t, s.URL, 256)
			if !sameImage(img, want) {
				t.Error("QR image does not encode the otpauth URL")
			}
		})
	}
}

func TestNewSetupSecretsDiffer(t *testing.T) {
	a, err := twofactor.NewSetup("alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := twofactor.NewSetup("alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.Secret == b.Secret {
		t.Error("two setups share a secret")
	}
}

func TestNewSetupRejectsBadAccount(t *testing.T) {
	for _, email := range []string{"", "a:b@example.com", "a\n@example.com", "a\x00@example.com"} {
		t.Run(strings.ToValidUTF8(email, "?"), func(t *testing.T) {
			if _, err := twofactor.NewSetup(email); !errors.Is(err, twofactor.ErrInvalidAccount) {
				t.Errorf("err = %v, want ErrInvalidAccount", err)
			}
		})
	}
}

func renderQR(t *testing.T, content string, size int) image.Image {
	t.Helper()
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	scaled, err := barcode.Scale(code, size, size)
	if err != nil {
		t.Fatal(err)
	}
	return scaled
}

// sameImage compares two images pixel by pixel as black or white.
func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	dark := func(img image.Image, x, y int) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		return r+g+bl < 3*0x8000
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if dark(a, x, y) != dark(b, x, y) {
				return false
			}
		}
	}
	return true
}
