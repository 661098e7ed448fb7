package market

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// Indexes lists the indexes the package's queries need, for mongodb.EnsureIndexes. Prices are read
// whole (a document per coin) or by _id. History is read by symbol over a range of days, which
// symbol_day serves. The daily housekeeping queries (compaction on compacted + day, expiry and
// the backfill check on day) scan instead: they run once a day per instance over about 10 coins ×
// 400 days of documents, which costs less than keeping another index on every append.
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection: HistoryCollection,
		Name:       "symbol_day",
		Keys:       bson.D{{Key: "symbol", Value: 1}, {Key: "day", Value: 1}},
	}}
}
