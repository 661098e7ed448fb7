package portfolio

import (
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// AddRoute is the idempotency route of POST /api/portfolio/holding, for tests that play an
// earlier attempt of it.
const AddRoute = addRoute

// AddFingerprint is the fingerprint POST /api/portfolio/holding stores for q of coin.
func AddFingerprint(coin feed.Coin, q money.Quantity) string {
	return addition{Coin: coin, Amount: q}.fingerprint()
}

// AddEntryID is the id of the entry POST /api/portfolio/holding books under a claim's token.
func AddEntryID(token string) string {
	return ledger.DerivedID(Name, "add", token)
}
