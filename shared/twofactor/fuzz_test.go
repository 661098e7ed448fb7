package twofactor_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/twofactor"
)

// hotpCode is RFC 4226 written out independently of the library Verify uses: HMAC-SHA-1 over the
// 8-byte big-endian counter, dynamic truncation, 6 digits.
func hotpCode(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

var noPad = base32.StdEncoding.WithPadding(base32.NoPadding)

// canonicalSecret: upper-case base32 without padding, the form NewSetup stores; only for such
// secrets does the test decode the key itself.
var canonicalSecret = regexp.MustCompile(`^[A-Z2-7]+$`)

// FuzzVerify: whatever the secret, code, time and last step, Verify does not panic, and a code it
// accepts is six ASCII digits (after trimming), for a step after lastStep within one step of now,
// the lowest such step, and (for a canonical secret) really the RFC 4226 code of that step.
func FuzzVerify(f *testing.F) {
	now := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC).Unix()
	step := now / 30
	for _, s := range []struct {
		secret, code   string
		unix, lastStep int64
	}{
		{rfcSecret, hotpCode([]byte("12345678901234567890"), uint64(step)), now, 0},
		{rfcSecret, hotpCode([]byte("12345678901234567890"), uint64(step)), now, step},
		{rfcSecret, hotpCode([]byte("12345678901234567890"), uint64(step-1)), now, step - 2},
		{rfcSecret, " " + hotpCode([]byte("12345678901234567890"), uint64(step+1)) + "\n", now, 0},
		{rfcSecret, "123 456", now, 0},
		{rfcSecret, "１２３４５６", now, 0},
		{rfcSecret, "12345", now, 0},
		{rfcSecret, "1234567", now, 0},
		{rfcSecret, "", now, 0},
		{rfcSecret, "000000", 0, -1},
		{rfcSecret, "000000", -1, -9223372036854775808},
		{rfcSecret, "000000", 9223372036854775807, 0},
		{rfcSecret, "000000", -9223372036854775808, 0},
		{"", "123456", now, 0},
		{"not base32!", "123456", now, 0},
		{"gezdgnbvgy3tqojqgezdgnbvgy3tqojq", "123456", now, 0},
		{"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====", "123456", now, 0},
		{"A", "123456", now, 0},
		{rfcSecret, strings.Repeat("1", 65), now, 0},
		{rfcSecret, "12345\x00", now, 0},
	} {
		f.Add(s.secret, s.code, s.unix, s.lastStep)
	}
	f.Fuzz(func(t *testing.T, secret, code string, unix, lastStep int64) {
		got, ok := twofactor.Verify(secret, code, time.Unix(unix, 0), lastStep)
		if !ok {
			if got != 0 {
				t.Fatalf("refused with step %d", got)
			}
			return
		}
		current := unix / 30
		if got <= lastStep || got < current-twofactor.Skew || got > current+twofactor.Skew || got < 0 {
			t.Fatalf("accepted step %d: lastStep %d, current %d", got, lastStep, current)
		}
		trimmed := strings.TrimSpace(code)
		if len(trimmed) != twofactor.Digits || strings.Trim(trimmed, "0123456789") != "" || len(code) > 64 {
			t.Fatalf("accepted code %q", code)
		}
		if !canonicalSecret.MatchString(secret) {
			return
		}
		key, err := noPad.DecodeString(secret)
		if err != nil {
			t.Fatalf("accepted a code for the undecodable secret %q", secret)
		}
		if want := hotpCode(key, uint64(got)); want != trimmed {
			t.Fatalf("accepted %q for step %d, whose code is %s", trimmed, got, want)
		}
		for s := max(current-twofactor.Skew, lastStep+1, 0); s < got; s++ {
			if hotpCode(key, uint64(s)) == trimmed {
				t.Fatalf("returned step %d, but the lower step %d matches too", got, s)
			}
		}
	})
}

// FuzzVerifyReplay: the real code of a step s within the window is refused whenever lastStep ≥ s
// (unless, by a one-in-a-million collision, it is also the code of a later step, which is then
// the step returned), and accepted with a step ≤ s when lastStep < s.
func FuzzVerifyReplay(f *testing.F) {
	f.Add([]byte("12345678901234567890"), uint32(1_795_855_500), int8(0), uint16(0))
	f.Add([]byte("12345678901234567890"), uint32(1_795_855_500), int8(-1), uint16(0))
	f.Add([]byte("12345678901234567890"), uint32(1_795_855_500), int8(1), uint16(1))
	f.Add([]byte{}, uint32(59), int8(-1), uint16(65535))
	f.Add([]byte{0xff}, uint32(0), int8(0), uint16(2))
	f.Fuzz(func(t *testing.T, seed []byte, unix uint32, offset int8, back uint16) {
		key := make([]byte, 20)
		copy(key, seed)
		secret := noPad.EncodeToString(key)
		now := time.Unix(int64(unix), 0)
		s := int64(unix)/30 + int64(offset)%2
		if s < 0 {
			return
		}
		code := hotpCode(key, uint64(s))

		// Replayed or older: refused, unless the code is also a later step's.
		lastStep := s + int64(back)
		if got, ok := twofactor.Verify(secret, code, now, lastStep); ok && (got <= lastStep || hotpCode(key, uint64(got)) != code) {
			t.Fatalf("code of step %d accepted as step %d with lastStep %d", s, got, lastStep)
		}
		// Fresh: accepted, at the lowest matching step after lastStep.
		lastStep = s - 1 - int64(back)
		got, ok := twofactor.Verify(secret, code, now, lastStep)
		if !ok || got > s || got <= lastStep || hotpCode(key, uint64(got)) != code {
			t.Fatalf("code of step %d with lastStep %d: step %d, %v", s, lastStep, got, ok)
		}
	})
}

// FuzzBackupCode: a backup code matches only when it is, after the documented normalisation
// (surrounding space, dashes and spaces dropped, any case, i l o read as 1 1 0), one of the set's
// codes; "{n}" in the input stands for the set's n-th code, so that the fuzzer can mutate real
// codes.
func FuzzBackupCode(f *testing.F) {
	codes, hashes, err := twofactor.NewBackupCodes()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"{0}", " {1}\n", "{2}x", "x{3}", "{4}{4}", "{5}-", "--{6}--", "{7}", "123456", "",
		"abcde-fghij", "ABCDE FGHIJ", "ooooo-iiiii", strings.Repeat("a", 65), "\x00{8}", "{9}\u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code := in
		for i, c := range codes {
			code = strings.ReplaceAll(code, fmt.Sprintf("{%d}", i), c)
		}
		i, ok := twofactor.MatchBackupCode(hashes, code)
		if !ok {
			if i != -1 {
				t.Fatalf("refused with index %d", i)
			}
			return
		}
		if !twofactor.LooksLikeBackupCode(code) {
			t.Fatalf("%q matched but does not look like a backup code", code)
		}
		norm := strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(strings.TrimSpace(code)))
		norm = strings.NewReplacer("o", "0", "i", "1", "l", "1").Replace(norm)
		want := strings.ReplaceAll(strings.ToLower(codes[i]), "-", "")
		if norm != want || len(code) > 64 {
			t.Fatalf("%q matched code %d (%s)", code, i, codes[i])
		}
	})
}
