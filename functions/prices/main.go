// Command prices is the scheduled prices Lambda function: every minute it refreshes the price
// store from the configured feed, then runs the order matcher.
package main

import (
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/trading"
)

func main() {
	app.Main(market.PricesName, trading.NewPricesFunction)
}
