// Package audit is the security audit trail: the Writer that every function uses to record what a
// user did (signups, logins, 2FA changes, orders, cash movements), and the audit function's
// routes, through which users read, summarise and export their own entries.
//
// Entries live in the audit_logs collection and are append-only: nothing in the code updates or
// deletes one, so the trail cannot be rewritten through the API. An audit write never fails the
// user's request (see Writer.Record).
package audit

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "audit"

// Collection holds the entries.
const Collection = "audit_logs"

// Entry statuses: whether the audited action succeeded.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// Indexes are the indexes the audit queries need. Every query is one user's entries, newest first;
// _id is the tiebreak of that order (entries of the same millisecond), and including it in the
// index lets MongoDB return a page in index order instead of sorting the user's whole history.
// They are created by a deploy or start-up step, not on the request path: a cold start must not
// pay index-creation round trips.
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection: Collection,
		Name:       "user_id_created_at",
		Keys:       bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}},
	}}
}
