package portfolio

import "github.com/cryptovault/serverless/shared/money"

// The API's objects, with the frontend's field names. USD figures are money.USD (a JSON number
// with 2 decimals), quantities and prices money.Quantity/money.Price (JSON numbers, trailing zeros
// trimmed), percentages money.Percent (a JSON number with at most 2 decimals).

// portfolioView is the API's "portfolio" object.
type portfolioView struct {
	TotalBalance  money.USD     `json:"totalBalance"`
	CashBalance   money.USD     `json:"cashBalance"`
	AvailableCash money.USD     `json:"availableCash"`
	HoldingsValue money.USD     `json:"holdingsValue"`
	Holdings      []holdingView `json:"holdings"` // never nil: no holdings is [], not null
	UpdatedAt     string        `json:"updatedAt"`
}

// holdingView is the API's "holding" object.
type holdingView struct {
	Symbol    string         `json:"symbol"`
	Name      string         `json:"name"`
	Amount    money.Quantity `json:"amount"`
	Available money.Quantity `json:"available"`
	// Price and Change are null for a coin whose price has never been stored: unknown, not 0.
	Price      *money.Price   `json:"price"`
	Value      money.USD      `json:"value"`
	Allocation money.Percent  `json:"allocation"`
	Change     *money.Percent `json:"change"`
}

// holding returns the listed holding of symbol; ok is false when it is not held.
func (p portfolioView) holding(symbol string) (holdingView, bool) {
	for _, h := range p.Holdings {
		if h.Symbol == symbol {
			return h, true
		}
	}
	return holdingView{}, false
}

type portfolioResponse struct {
	Portfolio portfolioView `json:"portfolio"`
}

type holdingResponse struct {
	Holding holdingView `json:"holding"`
}

type addResponse struct {
	Message string      `json:"message"`
	Holding holdingView `json:"holding"`
}

type removeResponse struct {
	Message string `json:"message"`
}
