package accounts

import "go.mongodb.org/mongo-driver/v2/bson"

// newID is an opaque, unique, time-ordered id (an ObjectID's hex form).
func newID() string { return bson.NewObjectID().Hex() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
