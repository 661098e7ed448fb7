package twofactor_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/twofactor"
)

var (
	backupShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
	hexSHA256   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func TestNewBackupCodes(t *testing.T) {
	codes, hashes, err := twofactor.NewBackupCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != twofactor.BackupCodeCount || len(hashes) != twofactor.BackupCodeCount {
		t.Fatalf("got %d codes and %d hashes, want %d of each", len(codes), len(hashes), twofactor.BackupCodeCount)
	}
	if twofactor.BackupCodeCount != 10 {
		t.Errorf("BackupCodeCount = %d, the API promises 10", twofactor.BackupCodeCount)
	}
	seenCodes, seenHashes := map[string]bool{}, map[string]bool{}
	for i, c := range codes {
		if !backupShape.MatchString(c) {
			t.Errorf("code %d has the wrong shape (want xxxxx-xxxxx from the unambiguous alphabet)", i)
		}
		if !hexSHA256.MatchString(hashes[i]) {
			t.Errorf("hash %d is not 64 lower-case hex characters", i)
		}
		if seenCodes[c] || seenHashes[hashes[i]] {
			t.Errorf("code %d is a duplicate", i)
		}
		seenCodes[c], seenHashes[hashes[i]] = true, true
		if !twofactor.LooksLikeBackupCode(c) {
			t.Errorf("LooksLikeBackupCode(code %d) = false", i)
		}
		if got, ok := twofactor.MatchBackupCode(hashes, c); !ok || got != i {
			t.Errorf("MatchBackupCode(code %d) = %d, %v; want %d, true", i, got, ok, i)
		}
	}

	// A second set shares nothing with the first.
	again, _, err := twofactor.NewBackupCodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if seenCodes[c] {
			t.Error("a new set repeats a code of the previous set")
		}
	}
}

// Each code works once when the caller removes the hash it matched, as the
// accounts package does; the others keep working.
func TestBackupCodesSingleUse(t *testing.T) {
	codes, hashes, err := twofactor.NewBackupCodes()
	if err != nil {
		t.Fatal(err)
	}
	// Use them in a scrambled order so that indexes shift under removal.
	order := []int{3, 0, 9, 5, 1, 8, 2, 7, 4, 6}
	for n, i := range order {
		idx, ok := twofactor.MatchBackupCode(hashes, codes[i])
		if !ok {
			t.Fatalf("use %d: code %d refused before its first use", n, i)
		}
		hashes = slices.Delete(hashes, idx, idx+1)
		if _, ok := twofactor.MatchBackupCode(hashes, codes[i]); ok {
			t.Fatalf("use %d: code %d accepted a second time", n, i)
		}
	}
	if len(hashes) != 0 {
		t.Errorf("%d hashes left, want 0", len(hashes))
	}
}

// The stored format is pinned: SHA-256 hex of the normalised code. Changing it
// would silently invalidate every user's stored backup codes.
func TestMatchBackupCodeNormalisation(t *testing.T) {
	sum := sha256.Sum256([]byte("01ab2cd3ef"))
	stored := hex.EncodeToString(sum[:])
	other := strings.Repeat("0", 64)
	hashes := []string{other, "", "not a hash", stored}

	tests := []struct {
		name, code string
		wantOK     bool
	}{
		{name: "as shown", code: "01ab2-cd3ef", wantOK: true},
		{name: "upper case", code: "01AB2-CD3EF", wantOK: true},
		{name: "no dash", code: "01ab2cd3ef", wantOK: true},
		{name: "space instead of dash, surrounding whitespace", code: " 01ab2 cd3ef\n", wantOK: true},
		{name: "dash elsewhere", code: "01-ab2cd-3ef", wantOK: true},
		{name: "O and I typed for 0 and 1", code: "OIab2-cd3ef", wantOK: true},
		{name: "o and l typed for 0 and 1", code: "olab2-cd3ef", wantOK: true},
		{name: "one character wrong", code: "01ab2-cd3eg"},
		{name: "too short", code: "01ab2-cd3e"},
		{name: "too long", code: "01ab2-cd3ef0"},
		{name: "letter outside the alphabet", code: "01ab2-cd3eu"},
		{name: "en dash", code: "01ab2–cd3ef"},
		{name: "a TOTP code", code: "123456"},
		{name: "empty", code: ""},
		{name: "the hash itself", code: stored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, ok := twofactor.MatchBackupCode(hashes, tt.code)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && idx != 3 {
				t.Errorf("index = %d, want 3", idx)
			}
			if !ok && idx != -1 {
				t.Errorf("refused with index = %d, want -1", idx)
			}
		})
	}
	if _, ok := twofactor.MatchBackupCode(nil, "01ab2-cd3ef"); ok {
		t.Error("matched against no hashes")
	}
}

func TestLooksLikeBackupCode(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"7kq2m-x9fcd", true},
		{"7KQ2MX9FCD", true},
		{" 7kq2m x9fcd ", true},
		{"123456", false},
		{" 123456 ", false},
		{"1234567890", true}, // ten digits are a possible backup code, never a TOTP code
		{"", false},
		{"hello-world", true}, // the shape only: o and l read as 0 and 1
		{"hello", false},
		{"7kq2m-x9fcu", false},
		{"7kq2m-x9fc", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := twofactor.LooksLikeBackupCode(tt.code); got != tt.want {
				t.Errorf("LooksLikeBackupCode(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}
