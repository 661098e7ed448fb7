package trading

import (
	"net/http"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/auth"
	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Name is the function's name in logs, metrics and the catalog.
const Name = "orders"

// OrdersCollection holds the order documents.
const OrdersCollection = "orders"

// OrderLifetime is how long a limit or stop order rests before it expires (api.md: 30 days).
const OrderLifetime = 30 * 24 * time.Hour

// Envelope codes of the orders routes.
const (
	// CodeInsufficientFunds: the available cash or coins do not cover the order (422).
	CodeInsufficientFunds = ledger.CodeInsufficientFunds
	// CodeOrderNotOpen: cancelling an order that is no longer open (409).
	CodeOrderNotOpen = "ORDER_NOT_OPEN"
)

// Audit actions the matcher writes besides the audit package's ORDER_* actions: an order that
// expired or that could not be filled is neither filled nor cancelled by the user.
const (
	ActionOrderExpired  = "ORDER_EXPIRED"
	ActionOrderRejected = "ORDER_REJECTED"
)

// Indexes are the indexes of every query the function and the matcher make: a user's orders
// newest first (_id breaks ties and lets the page come from the index), open orders by status and
// symbol for the matcher, and the indexes of the ledger, the idempotency records, the audit
// writer and the guard.
func Indexes() []mongodb.Index {
	return slices.Concat([]mongodb.Index{
		{Collection: OrdersCollection, Name: "user_created",
			Keys: bson.D{{Key: "user_id", Value: 1}, {Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}},
		{Collection: OrdersCollection, Name: "status_symbol",
			Keys: bson.D{{Key: "status", Value: 1}, {Key: "symbol", Value: 1}}},
	}, ledger.Indexes(), idempotency.Indexes(), audit.Indexes(), auth.Indexes())
}

// callerID is the authenticated user's id. The guard answers 401 first; this only fires if a
// route were ever registered without it.
func callerID(r *http.Request) (string, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return "", web.NewError(http.StatusUnauthorized, auth.CodeUnauthenticated, "Authentication required")
	}
	return p.UserID, nil
}

// notFound is the 404 of a missing, malformed or foreign order id: the three are
// indistinguishable on purpose.
func notFound() error {
	return web.NewError(http.StatusNotFound, web.CodeNotFound, "Order not found")
}

func notOpen(s Status) error {
	return web.NewError(http.StatusConflict, CodeOrderNotOpen, "Order is not open (it is "+string(s)+")")
}
