package ledger

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Indexes lists the indexes the ledger's queries need, for mongodb.EnsureIndexes. Accounts are
// read by _id only. Entries are listed by user, newest first, ties broken by id: the index holds
// all three keys so the sort comes from the index, not from memory. Entry-id uniqueness is _id's.
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection: TransactionsCollection,
		Name:       "user_created",
		Keys:       bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}},
	}}
}
