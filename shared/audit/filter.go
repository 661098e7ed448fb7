package audit

import (
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// actionFilterPattern is what the list route's action filter accepts: the characters of an
// action, so the value needs no escaping to be a literal regex and cannot carry a pattern of its
// own (no catastrophic or cross-word matches).
var actionFilterPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// validActionFilter reports whether a list filter value is acceptable.
func validActionFilter(s string) bool { return actionFilterPattern.MatchString(s) }

// actionFilter matches an action equal to word or containing it as a whole "_"-separated word,
// case-insensitively: "login" finds USER_LOGIN and LOGIN_FAILED, not LOGINX or BLOGIN. The value
// is escaped even though validation already leaves nothing to escape, so a later loosening of
// the validation cannot turn input into a pattern.
func actionFilter(word string) bson.D {
	return bson.D{{Key: "$regex", Value: bson.Regex{
		Pattern: `(^|_)` + regexp.QuoteMeta(word) + `(_|$)`,
		Options: "i",
	}}}
}
