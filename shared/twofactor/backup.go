package twofactor

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// BackupCodeCount is how many backup codes a set holds.
const BackupCodeCount = 10

// Backup codes are 10 characters from a 32-character alphabet, shown as two
// groups of five ("7kq2m-x9fcd"): 10 × 5 = 50 bits of entropy each.
//
// The alphabet is Crockford's base32 in lower case: it has no i, l, o or u,
// and on input i and l are read as 1 and o as 0, so the characters people
// confuse when copying a code by hand mean the same thing. 32 symbols also
// means a random byte masked to 5 bits picks one without modulo bias.
const (
	backupAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	backupLen      = 10
	backupGroup    = 5
)

// NewBackupCodes generates a set of [BackupCodeCount] distinct backup codes
// and their hashes. codes are shown to the user once and never stored;
// hashes[i] is the hash of codes[i], to be stored.
//
// A hash is the hex SHA-256 of the normalised code (64 lower-case hex
// characters, which are also safe as a MongoDB field name). A fast hash is
// enough here, unlike for passwords: a code is random with 50 bits of entropy,
// not chosen by a person, so there is no dictionary to try, and the TOTP
// secret that a database thief would also find is a second factor on its own.
// A slow hash would cost instead of protect: every backup-code login compares
// against all ten hashes, which with bcrypt would take about a second.
func NewBackupCodes() (codes []string, hashes []string, err error) {
	codes = make([]string, 0, BackupCodeCount)
	hashes = make([]string, 0, BackupCodeCount)
	seen := make(map[string]bool, BackupCodeCount)
	for len(codes) < BackupCodeCount {
		var raw [backupLen]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, nil, fmt.Errorf("twofactor: generate backup codes: %w", err)
		}
		var norm [backupLen]byte
		for i, b := range raw {
			norm[i] = backupAlphabet[b&31]
		}
		n := string(norm[:])
		if seen[n] {
			continue // a 2^-50 chance, but "distinct" is a promise
		}
		seen[n] = true
		codes = append(codes, n[:backupGroup]+"-"+n[backupGroup:])
		hashes = append(hashes, hashBackupCode(n))
	}
	return codes, hashes, nil
}

// MatchBackupCode reports which of hashes (as made by [NewBackupCodes]) code
// matches. The code is normalised first: surrounding whitespace, dashes and
// spaces are dropped, letters are case-insensitive, and i, l, o are read as
// 1, 1, 0. Every hash is compared, in constant time, whether or not an earlier
// one matched, so the timing does not reveal which code was used.
//
// A backup code is usable once: on success the caller removes hashes[index]
// from storage (conditionally, so that two logins racing with the same code
// cannot both succeed).
func MatchBackupCode(hashes []string, code string) (index int, ok bool) {
	n, valid := normaliseBackupCode(code)
	if !valid {
		return -1, false
	}
	sum := []byte(hashBackupCode(n))
	index = -1
	for i, h := range hashes {
		if subtle.ConstantTimeCompare(sum, []byte(h)) == 1 && index < 0 {
			index = i
		}
	}
	return index, index >= 0
}

// LooksLikeBackupCode reports whether code has the shape of a backup code
// (after the same normalisation as [MatchBackupCode]), so that a caller can
// tell it from a 6-digit TOTP code and check it the right way. It says nothing
// about whether the code is valid.
func LooksLikeBackupCode(code string) bool {
	_, ok := normaliseBackupCode(code)
	return ok
}

// normaliseBackupCode maps what a user may type to the canonical 10-character
// form, or reports that it cannot be a backup code.
func normaliseBackupCode(code string) (string, bool) {
	if len(code) > maxCodeInput {
		return "", false
	}
	code = strings.TrimSpace(code)
	out := make([]byte, 0, backupLen)
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(backupAlphabet, c) < 0 || len(out) == backupLen {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != backupLen {
		return "", false
	}
	return string(out), true
}

func hashBackupCode(normalised string) string {
	sum := sha256.Sum256([]byte(normalised))
	return hex.EncodeToString(sum[:])
}
