// Package transactions is the transactions function: a user's ledger entries (list, one entry,
// totals) and cash deposits and withdrawals through the simulated rails, under /api/transactions.
//
// Balances and entries belong to the ledger package; this package validates requests, applies
// cash movements as ledger changes (idempotently when the client sends an Idempotency-Key, see
// the idempotency package) and shapes the API's transaction objects.
package transactions

import (
	"net/http"
	"slices"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "transactions"

// CodeInsufficientFunds is the 422 of a withdrawal larger than the available cash.
const CodeInsufficientFunds = ledger.CodeInsufficientFunds

// codeUnauthenticated is the contract's 401 code. The guard answers it first; handlers answer it
// only if a route were ever registered without the guard.
const codeUnauthenticated = "UNAUTHENTICATED"

// Indexes are the indexes of every query the function makes: the ledger's, the idempotency
// records', the audit writer's, and the guard's revocation query.
func Indexes() []mongodb.Index {
	return slices.Concat(ledger.Indexes(), idempotency.Indexes(), audit.Indexes(), auth.Indexes())
}

// callerID is the authenticated user's id.
func callerID(r *http.Request) (string, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return "", web.NewError(http.StatusUnauthorized, codeUnauthenticated, "Authentication required")
	}
	return p.UserID, nil
}

// notFound is the 404 of a missing, malformed or foreign id: the three are indistinguishable on
// purpose.
func notFound() error {
	return web.NewError(http.StatusNotFound, web.CodeNotFound, "Transaction not found")
}
