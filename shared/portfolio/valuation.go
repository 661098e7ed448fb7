package portfolio

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// valuate prices an account: the rules are in the package documentation ("Valuation"). It does
// no I/O, so every number of the API is decided here and tested without a database. now dates a
// portfolio that nothing else dates (no account). The only error is a holding worth more than
// money.MaxUSD at its price, which POST prevents at booking time; a later rally of a gigantic
// holding would need to exceed it, and then a 500 is more honest than a clamped figure.
func valuate(acc ledger.Account, prices []market.Price, now time.Time) (portfolioView, error) {
	bySymbol := make(map[string]market.Price, len(prices))
	for _, p := range prices {
		bySymbol[p.Symbol] = p
	}
	v := portfolioView{
		CashBalance: acc.Cash, AvailableCash: acc.CashAvailable, Holdings: []holdingView{},
	}
	updated := acc.UpdatedAt

	var err error
	for _, sym := range heldSymbols(acc) {
		h := holdingView{Symbol: sym, Name: coinName(sym), Amount: acc.Holdings[sym], Available: acc.Available[sym]}
		if p, ok := bySymbol[sym]; ok {
			h.Price, h.Change = &p.Price, &p.Change24h
			if h.Value, err = money.Value(h.Amount, p.Price, money.RoundDown); err != nil {
				return portfolioView{}, fmt.Errorf("portfolio: value of %s %s at %s: %w", h.Amount, sym, p.Price, err)
			}
			if p.UpdatedAt.After(updated) {
				updated = p.UpdatedAt
			}
		}
		if v.HoldingsValue, err = v.HoldingsValue.Add(h.Value); err != nil {
			return portfolioView{}, fmt.Errorf("portfolio: holdings value: %w", err)
		}
		v.Holdings = append(v.Holdings, h)
	}
	if v.TotalBalance, err = v.CashBalance.Add(v.HoldingsValue); err != nil {
		return portfolioView{}, fmt.Errorf("portfolio: total balance: %w", err)
	}
	for i := range v.Holdings {
		v.Holdings[i].Allocation = money.ShareOf(int64(v.Holdings[i].Value), int64(v.TotalBalance))
	}
	if updated.IsZero() {
		updated = now
	}
	v.UpdatedAt = updated.UTC().Format(time.RFC3339)
	return v, nil
}

// heldSymbols lists the symbols with a positive holding: supported coins in the market's order
// (the order of every coin list of the API), then any other symbol alphabetically (a coin the
// platform stopped supporting is still the user's).
func heldSymbols(acc ledger.Account) []string {
	var out []string
	supported := make(map[string]bool, len(feed.Coins))
	for _, c := range feed.Coins {
		supported[c.Symbol] = true
		if acc.Holdings[c.Symbol] > 0 {
			out = append(out, c.Symbol)
		}
	}
	for _, sym := range slices.Sorted(maps.Keys(acc.Holdings)) {
		if !supported[sym] && acc.Holdings[sym] > 0 {
			out = append(out, sym)
		}
	}
	return out
}

// coinName is the display name of a symbol; an unsupported one is shown by its symbol.
func coinName(symbol string) string {
	if c, ok := feed.CoinBySymbolOrID(symbol); ok && c.Symbol == symbol {
		return c.Name
	}
	return symbol
}

// supportedCoin finds a supported coin by symbol or upstream id in any case (api.md: {symbol}
// is case-insensitive and also accepts the coin id).
func supportedCoin(symbolOrID string) (feed.Coin, bool) {
	return feed.CoinBySymbolOrID(symbolOrID)
}
