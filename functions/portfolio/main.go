// Command portfolio is the portfolio Lambda function: valuation of the caller's holdings and
// external holdings under /api/portfolio.
package main

import (
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/portfolio"
)

func main() {
	app.Main(portfolio.Name, portfolio.New)
}
