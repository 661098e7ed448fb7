package trading

import (
	"errors"

	"github.com/cryptovault/serverless/shared/money"
)

// The trading rules of api.md as pure functions, tested without a database.

// errSellTooSmall: a sell whose total (value − fee) would be zero or negative.
var errSellTooSmall = errors.New("trading: the fee would take the whole sale")

// tradeAt prices the execution of amount coins at price: for a buy the value rounded up to the
// cent, for a sell rounded down, the fee (0.1 % of the exact value rounded up, at least 0.01) and
// the cash moved. A sell that would move no cash or take some is errSellTooSmall; an order
// worth more than money.MaxUSD is money.ErrOutOfRange.
func tradeAt(side Side, amount money.Quantity, price money.Price) (money.Trade, error) {
	if side == Buy {
		return money.QuoteBuy(amount, price)
	}
	t, err := money.QuoteSell(amount, price)
	if err != nil {
		return money.Trade{}, err
	}
	if t.Total <= 0 {
		return money.Trade{}, errSellTooSmall
	}
	return t, nil
}

// reservation is what a resting order holds back until it closes: for a buy the cash its
// execution at price would cost (value + fee), for a sell the coins. A sell is also checked at
// price, so that an order that could never pay anything is refused when placed.
func reservation(side Side, amount money.Quantity, price money.Price) (cash money.USD, coins money.Quantity, err error) {
	t, err := tradeAt(side, amount, price)
	if err != nil {
		return 0, 0, err
	}
	if side == Buy {
		return t.Total, 0, nil
	}
	return 0, amount, nil
}

// triggered reports whether an order of type typ and side with limit or trigger price at would
// execute at the market price p: a buy limit at or below its price, a sell limit at or above; a
// stop sell (stop-loss) when the price has fallen to its price or below, a stop buy when it has
// risen to it or above. A market order always executes.
func triggered(typ OrderType, side Side, at, p money.Price) bool {
	switch {
	case typ == Market:
		return true
	case typ == Limit && side == Buy, typ == Stop && side == Sell:
		return p <= at
	default: // limit sell, stop buy
		return p >= at
	}
}

// restingFillPrice is the price a resting order executes at when the market price p triggers
// it: its limit price for a limit order, p for a stop (a market order once triggered).
func restingFillPrice(o orderDoc, p money.Price) money.Price {
	if o.Type == Limit && o.Price != nil {
		return *o.Price
	}
	return p
}
