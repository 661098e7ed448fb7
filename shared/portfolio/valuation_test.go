package portfolio_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/testkit/moneyenv"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// TestPortfolioValuation: GET /api/portfolio through the Lambda adapter values cash and coins at
// the stored prices exactly, with the frontend's field names and JSON numbers. The expected
// figures were computed independently (Python decimal): values rounded down to the cent,
// allocations half away from zero.
func TestPortfolioValuation(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("BTC", 50_000_000)               // 0.5 BTC × 65000.12 = 32500.06 exactly
	u.adjust("ETH", 212_345_678)              // 2.12345678 × 3500.5 = 7433.160458… → 7433.16
	u.adjust("DOGE", 100_012_345_678)         // 1000.12345678 × 0.15123456 = 151.2532… → 151.25
	u.adjust("SOL", 300_000_000)              // held, then sold off: a zero holding
	u.adjust("SOL", -300_000_000)             //
	h.sells.place(t, "u1", "BTC", 10_000_000) // an open sell of 0.1 BTC
	if _, err := h.Ledger.Apply(testCtx(t), ledger.Change{UserID: "u1", ReserveCash: 10_000}); err != nil {
		t.Fatal(err) // an open buy reserving 100.00
	}
	if h.Account("u1").Holdings["SOL"] != 0 {
		t.Fatal("setup: SOL should be a stored zero")
	}

	p := decodePortfolio(t, u.portfolio())
	got := map[string]string{
		"totalBalance": num(t, p.TotalBalance), "cashBalance": num(t, p.CashBalance),
		"availableCash": num(t, p.AvailableCash), "holdingsValue": num(t, p.HoldingsValue),
	}
	want := map[string]string{
		"totalBalance": "50084.47", "cashBalance": "10000.00", "availableCash": "9900.00", "holdingsValue": "40084.47",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %s, want %s", k, got[k], w)
		}
	}
	wantRows := []holdingRow{
		{"BTC", "Bitcoin", "0.5", "0.4", "65000.12", "32500.06", "64.89", "2.5"},
		{"ETH", "Ethereum", "2.12345678", "2.12345678", "3500.5", "7433.16", "14.84", "-1.25"},
		{"DOGE", "Dogecoin", "1000.12345678", "1000.12345678", "0.15123456", "151.25", "0.3", "0"},
	}
	if len(p.Holdings) != len(wantRows) {
		t.Fatalf("%d holdings, want %d (zero SOL hidden): %+v", len(p.Holdings), len(wantRows), p.Holdings)
	}
	for i, w := range wantRows {
		if r := row(t, p.Holdings[i]); r != w {
			t.Errorf("holding %d = %+v\nwant       %+v", i, r, w)
		}
	}
	// The holdings' allocations plus the cash's share (19.97 %) make the whole.
	var sum money.Percent
	for _, hv := range p.Holdings {
		var a money.Percent
		if err := a.UnmarshalJSON(hv.Allocation); err != nil {
			t.Fatal(err)
		}
		sum += a
	}
	if cashShare := money.ShareOf(1_000_000, 5_008_447); sum+cashShare < 9_998 || sum+cashShare > 10_002 {
		t.Errorf("allocations %s + cash %s, want about 100", sum, cashShare)
	}
	// The newest figure is the account's last change (the reservation), after the prices.
	if want := moneyenv.ClockBase.Add(time.Millisecond).Format(time.RFC3339); p.UpdatedAt != want {
		t.Errorf("updatedAt %s, want %s", p.UpdatedAt, want)
	}
	h.AssertNoSecrets(t)
}

// TestUpdatedAt: updatedAt is the newest of the account's last change and the prices of held
// coins, RFC 3339 UTC with Z; a price of a coin not held does not date the portfolio.
func TestUpdatedAt(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1") // opened at moneyenv.ClockBase + 1 ms (setPrices moved the clock)
	opened := h.Clock.Now()

	h.Clock.Advance(time.Hour)
	h.setPrices(`[{"symbol": "ETH", "price": "3600"}]`) // ETH is not held
	if got := decodePortfolio(t, u.portfolio()).UpdatedAt; got != opened.Format(time.RFC3339) {
		t.Errorf("updatedAt %s, want the account's %s", got, opened.Format(time.RFC3339))
	}

	u.adjust("ETH", 100_000_000)
	h.Clock.Advance(time.Hour)
	refreshed := h.Clock.Now()
	h.setPrices(`[{"symbol": "ETH", "price": "3700"}]`)
	got := decodePortfolio(t, u.portfolio()).UpdatedAt
	if want := refreshed.UTC().Format(time.RFC3339); got != want || got[len(got)-1] != 'Z' {
		t.Errorf("updatedAt %s, want the ETH price's %s", got, want)
	}
}

// TestUnpricedCoin: a supported coin without a stored price is listed with price and change
// null, value and allocation 0; the totals stay numbers. Once a price arrives, it is valued.
func TestUnpricedCoin(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	testenv.Expect(t, u.add(addBody("TRX", "100"), ""), http.StatusCreated, "") // TRX has no price

	p := decodePortfolio(t, u.portfolio())
	if len(p.Holdings) != 1 {
		t.Fatalf("holdings %+v", p.Holdings)
	}
	want := holdingRow{"TRX", "TRON", "100", "100", "null", "0.00", "0", "null"}
	if r := row(t, p.Holdings[0]); r != want {
		t.Errorf("TRX = %+v, want %+v", r, want)
	}
	if num(t, p.TotalBalance) != "10000.00" || num(t, p.HoldingsValue) != "0.00" {
		t.Errorf("totals %s / %s, want cash only", p.TotalBalance, p.HoldingsValue)
	}
	entries := h.entries("u1", "TRX")
	if len(entries) != 1 || entries[0].Price != nil || entries[0].Value != 0 || entries[0].Amount != 10_000_000_000 {
		t.Errorf("entries %+v, want one adjustment of 100 without price and value", entries)
	}

	h.setPrices(`[{"symbol": "TRX", "price": "0.12", "change_24h": "-3.333"}]`)
	want = holdingRow{"TRX", "TRON", "100", "100", "0.12", "12.00", "0.12", "-3.33"}
	if r := row(t, decodeHolding(t, must(t, u.holding("trx"), http.StatusOK))); r != want {
		t.Errorf("TRX priced = %+v, want %+v", r, want)
	}
}

// TestStalePrice: a price older than PRICE_MAX_AGE still values the portfolio and does not block
// recording coins (staleness pauses trading only); updatedAt shows its age.
func TestStalePrice(t *testing.T) {
	h := newHarness(t)
	u := h.newUser("u1")
	u.adjust("BTC", 100_000_000)
	// Prices and account both date from the first second of the test.
	priced := moneyenv.ClockBase.Format(time.RFC3339)

	h.Clock.Advance(2 * time.Hour) // far beyond the 5 min default
	p := decodePortfolio(t, u.portfolio())
	if num(t, p.TotalBalance) != "75000.12" || p.UpdatedAt != priced {
		t.Errorf("total %s, updatedAt %s; want 10000.00 + 65000.12 at the stale price, dated %s", p.TotalBalance, p.UpdatedAt, priced)
	}
	h2 := decodeHolding(t, must(t, u.add(addBody("BTC", "0.5"), ""), http.StatusCreated))
	if r := row(t, h2); r.Amount != "1.5" || r.Value != "97500.18" || r.Price != "65000.12" {
		t.Errorf("POST on a stale price = %+v, want 1.5 BTC at 65000.12", r)
	}
	e := h.entries("u1", "BTC")
	if last := e[len(e)-1]; last.Price == nil || *last.Price != 6_500_012_000_000 || last.Value != 3_250_006 {
		t.Errorf("entry %+v, want the stale price and 32500.06", last)
	}
}

// TestNoAccount: a valid session without an account (a broken signup) sees an empty portfolio;
// the holding routes find nothing and POST cannot book (404 Account not found).
func TestNoAccount(t *testing.T) {
	h := newHarness(t)
	u := &user{h: h, id: "ghost"}

	p := decodePortfolio(t, u.portfolio())
	for name, raw := range map[string][]byte{"totalBalance": p.TotalBalance, "cashBalance": p.CashBalance,
		"availableCash": p.AvailableCash, "holdingsValue": p.HoldingsValue} {
		if num(t, raw) != "0.00" {
			t.Errorf("%s = %s, want 0.00", name, raw)
		}
	}
	if len(p.Holdings) != 0 || p.UpdatedAt != h.Clock.Now().Format(time.RFC3339) {
		t.Errorf("holdings %v, updatedAt %s; want none and the request's time", p.Holdings, p.UpdatedAt)
	}
	testenv.Expect(t, u.holding("BTC"), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, u.add(addBody("BTC", "1"), ""), http.StatusNotFound, web.CodeNotFound)
	testenv.Expect(t, u.remove("BTC"), http.StatusNotFound, web.CodeNotFound)
}

// must fails unless r has the status, and returns it.
func must(t *testing.T, r testenv.Response, status int) testenv.Response {
	t.Helper()
	testenv.Expect(t, r, status, "")
	return r
}
