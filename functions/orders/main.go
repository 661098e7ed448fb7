// Command orders is the orders Lambda function: placing, listing, reading and cancelling the
// caller's orders under /api/orders. Resting orders are filled by the matcher, which runs in the
// prices function (trading.NewPricesFunction).
package main

import (
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/trading"
)

func main() {
	app.Main(trading.Name, trading.New)
}
