package accounts

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signup rules of the API contract; the frontend enforces the same, so a violation here means a
// client that skipped it.
const (
	maxEmailLen    = 254
	minNameLen     = 2
	maxNameLen     = 100
	minPasswordLen = 8
	maxPasswordLen = 128
)

// normalizeEmail trims and lower-cases an address and checks that it is a plain addr-spec
// ("a@b.c": no display name, no comments, a dot in the domain). ok is false for anything else.
func normalizeEmail(raw string) (string, bool) {
	email := strings.ToLower(strings.TrimSpace(raw))
	if email == "" || len(email) > maxEmailLen || !utf8.ValidString(email) {
		return "", false
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || addr.Name != "" {
		return "", false
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.ContainsAny(email, " \t\r\n\"(),:;<>[]\\") {
		return "", false
	}
	return email, true
}

// normalizeName trims a display name and checks its length in characters and that it holds no
// control characters (it is shown in the UI and written to logs of other systems).
func normalizeName(raw string) (string, string) {
	name := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(name)
	switch {
	case !utf8.ValidString(name):
		return "", "must be valid text"
	case n < minNameLen || n > maxNameLen:
		return "", "must be 2 to 100 characters"
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", "must not contain control characters"
	}
	return name, ""
}

// passwordProblem returns why a new password is refused, or "".
func passwordProblem(p string) string {
	n := utf8.RuneCountInString(p)
	if !utf8.ValidString(p) || n < minPasswordLen || n > maxPasswordLen {
		return "must be 8 to 128 characters"
	}
	var upper, lower, digit bool
	for _, r := range p {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	if !upper || !lower || !digit {
		return "must contain an upper-case letter, a lower-case letter and a digit"
	}
	return ""
}
