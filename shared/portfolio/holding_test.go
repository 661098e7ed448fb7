package portfolio_test

import (
	"net/http"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestGetHolding: GET /api/portfolio/holding/{symbol} answers the holding as listed in the
// portfolio for the symbol or the coin id in any case; a coin not held (never, or held and gone)
// or not supported is 404.
func TestGetHolding(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("BTC", 50_000_000)
	u.adjust("ETH", 100_000_000)
	u.adjust("SOL", 100_000_000)
	u.adjust("SOL", -100_000_000) // a stored zero
	h.sells.place(t, "u1", "BTC", 20_000_000)

	// 0.5 BTC = 32500.06, 1 ETH = 3500.50, total 46000.56: 70.65 % and 7.61 %.
	btc := holdingRow{"BTC", "Bitcoin", "0.5", "0.3", "65000.12", "32500.06", "70.65", "2.5"}
	eth := holdingRow{"ETH", "Ethereum", "1", "1", "3500.5", "3500.50", "7.61", "-1.25"}
	tests := []struct {
		symbol string
		status int
		want   holdingRow
	}{
		{"BTC", http.StatusOK, btc},
		{"btc", http.StatusOK, btc},
		{"bitcoin", http.StatusOK, btc},
		{"BiTcOiN", http.StatusOK, btc},
		{"ethereum", http.StatusOK, eth},
		{"SOL", http.StatusNotFound, holdingRow{}},   // held once, zero now
		{"DOGE", http.StatusNotFound, holdingRow{}},  // supported, never held
		{"DOGGO", http.StatusNotFound, holdingRow{}}, // not a supported coin
		{"USD", http.StatusNotFound, holdingRow{}},   // cash is not a holding
		{"b%2Ftc", http.StatusNotFound, holdingRow{}},
	}
	for _, tt := range tests {
		t.Run(tt.symbol, func(t *testing.T) {
			r := u.holding(tt.symbol)
			if tt.status != http.StatusOK {
				testenv.Expect(t, r, tt.status, web.CodeNotFound)
				return
			}
			if got := row(t, decodeHolding(t, must(t, r, http.StatusOK))); got != tt.want {
				t.Errorf("holding = %+v\nwant      %+v", got, tt.want)
			}
		})
	}
	// The same object as in the portfolio list.
	p := decodePortfolio(t, u.portfolio())
	if got := row(t, p.Holdings[0]); got != btc {
		t.Errorf("listed BTC %+v, want %+v", got, btc)
	}
}
