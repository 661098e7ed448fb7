// Command transactions is the transactions Lambda function: the caller's ledger entries, their
// totals, and cash deposits and withdrawals under /api/transactions.
package main

import (
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/transactions"
)

func main() {
	app.Main(transactions.Name, transactions.New)
}
