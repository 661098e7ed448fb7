package transactions

import (
	"time"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
)

// transactionView is the API's "transaction" object.
type transactionView struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Symbol string `json:"symbol"`
	// Amount is money.USD for cash entries (2 decimals) and money.Quantity for coin entries
	// (trimmed), each written by its own MarshalJSON as a JSON number.
	Amount      any          `json:"amount"`
	Price       *money.Price `json:"price"` // null for cash movements
	Value       money.USD    `json:"value"`
	Description string       `json:"description"`
	Status      string       `json:"status"`
	OrderID     *string      `json:"order_id"`
	// Both spellings of the time: the frontend reads createdAt, other clients created_at.
	CreatedAt      string `json:"created_at"`
	CreatedAtCamel string `json:"createdAt"`
}

func view(e ledger.Entry) transactionView {
	var amount any = money.Quantity(e.Amount)
	if e.Symbol == ledger.CashSymbol {
		amount = money.USD(e.Amount)
	}
	var orderID *string
	if e.OrderID != "" {
		orderID = &e.OrderID
	}
	created := e.CreatedAt.UTC().Format(time.RFC3339)
	return transactionView{
		ID: e.ID, Type: string(e.Type), Symbol: e.Symbol, Amount: amount, Price: e.Price, Value: e.Value,
		Description: e.Description, Status: e.Status, OrderID: orderID,
		CreatedAt: created, CreatedAtCamel: created,
	}
}

func views(entries []ledger.Entry) []transactionView {
	out := make([]transactionView, len(entries)) // never nil: an empty list is [], not null
	for i, e := range entries {
		out[i] = view(e)
	}
	return out
}
