// Command market is the market Lambda function: public market data under /api/crypto, read from
// the price store (never from the upstream feed).
package main

import (
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
)

func main() {
	app.Main(market.MarketName, market.NewMarketFunction)
}
