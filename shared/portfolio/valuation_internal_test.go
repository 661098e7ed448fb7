package portfolio

import (
	"reflect"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/money"
)

// TestValuate pins the valuation rules (package documentation, "Valuation") on the pure
// function, without a database: rounding, allocation, order, unpriced and unsupported coins,
// updatedAt.
func TestValuate(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	price := func(sym string, p money.Price, change money.Percent, at time.Time) market.Price {
		return market.Price{Symbol: sym, Price: p, Change24h: change, UpdatedAt: at}
	}
	btc := price("BTC", 6_500_012_000_000, 250, t0)
	doge := price("DOGE", 15_999_999, -125, t0)
	cent := price("XRP", 1_000_000, 0, t0) // 0.01 USD per coin
	account := func(cash money.USD, holdings map[string]money.Quantity) ledger.Account {
		a := ledger.Account{UserID: "u", Cash: cash, CashAvailable: cash, Holdings: holdings,
			Available: map[string]money.Quantity{}, UpdatedAt: t0}
		for k, v := range holdings {
			a.Available[k] = v
		}
		return a
	}
	pp := func(p money.Price) *money.Price { return &p }
	pc := func(p money.Percent) *money.Percent { return &p }
	at := func(t time.Time) string { return t.Format(time.RFC3339) }

	tests := []struct {
		name    string
		acc     ledger.Account
		prices  []market.Price
		want    portfolioView
		wantErr bool
	}{
		{
			name: "no account: zeros, no holdings, dated now",
			acc:  ledger.Account{},
			want: portfolioView{Holdings: []holdingView{}, UpdatedAt: at(now)},
		},
		{
			name:   "dust rounds down to 0.00 and gets no allocation",
			acc:    account(1_000_000, map[string]money.Quantity{"BTC": 1}),
			prices: []market.Price{btc},
			want: portfolioView{TotalBalance: 1_000_000, CashBalance: 1_000_000, AvailableCash: 1_000_000, UpdatedAt: at(t0),
				Holdings: []holdingView{{Symbol: "BTC", Name: "Bitcoin", Amount: 1, Available: 1, Price: pp(btc.Price), Change: pc(250)}}},
		},
		{
			name:   "value rounds down, never to nearest: 1 DOGE at 0.15999999 is 0.15",
			acc:    account(0, map[string]money.Quantity{"DOGE": 100_000_000}),
			prices: []market.Price{doge},
			want: portfolioView{TotalBalance: 15, HoldingsValue: 15, UpdatedAt: at(t0),
				Holdings: []holdingView{{Symbol: "DOGE", Name: "Dogecoin", Amount: 100_000_000, Available: 100_000_000,
					Price: pp(doge.Price), Value: 15, Allocation: 10_000, Change: pc(-125)}}},
		},
		{
			name:   "allocation halves go away from zero: 0.01 of 200.00 is 0.005 % → 0.01",
			acc:    account(19_999, map[string]money.Quantity{"XRP": 100_000_000}),
			prices: []market.Price{cent},
			want: portfolioView{TotalBalance: 20_000, CashBalance: 19_999, AvailableCash: 19_999, HoldingsValue: 1, UpdatedAt: at(t0),
				Holdings: []holdingView{{Symbol: "XRP", Name: "XRP", Amount: 100_000_000, Available: 100_000_000,
					Price: pp(cent.Price), Value: 1, Allocation: 1, Change: pc(0)}}},
		},
		{
			name: "a zero total gives allocation 0; unpriced coins have null price and change",
			acc:  account(0, map[string]money.Quantity{"TRX": 5}),
			want: portfolioView{UpdatedAt: at(t0),
				Holdings: []holdingView{{Symbol: "TRX", Name: "TRON", Amount: 5, Available: 5}}},
		},
		{
			name:   "coin order, zeros hidden, an unsupported symbol last under its own name",
			acc:    account(0, map[string]money.Quantity{"OLD": 7, "DOGE": 100_000_000, "SOL": 0, "BTC": 1}),
			prices: []market.Price{doge, btc},
			want: portfolioView{TotalBalance: 15, HoldingsValue: 15, UpdatedAt: at(t0),
				Holdings: []holdingView{
					{Symbol: "BTC", Name: "Bitcoin", Amount: 1, Available: 1, Price: pp(btc.Price), Change: pc(250)},
					{Symbol: "DOGE", Name: "Dogecoin", Amount: 100_000_000, Available: 100_000_000, Price: pp(doge.Price),
						Value: 15, Allocation: 10_000, Change: pc(-125)},
					{Symbol: "OLD", Name: "OLD", Amount: 7, Available: 7},
				}},
		},
		{
			name: "updatedAt: a held coin's newer price dates it, a coin not held does not",
			acc:  account(0, map[string]money.Quantity{"DOGE": 100_000_000}),
			prices: []market.Price{price("BTC", 1, 0, t0.Add(2*time.Minute)),
				price("DOGE", 15_999_999, -125, t0.Add(time.Minute))},
			want: portfolioView{TotalBalance: 15, HoldingsValue: 15, UpdatedAt: at(t0.Add(time.Minute)),
				Holdings: []holdingView{{Symbol: "DOGE", Name: "Dogecoin", Amount: 100_000_000, Available: 100_000_000,
					Price: pp(doge.Price), Value: 15, Allocation: 10_000, Change: pc(-125)}}},
		},
		{
			name:    "a holding worth more than money.MaxUSD is an error, not a clamped figure",
			acc:     account(0, map[string]money.Quantity{"BTC": money.MaxQuantity}),
			prices:  []market.Price{btc},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := valuate(tt.acc, tt.prices, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("valuate =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestFingerprint: requests that mean the same addition share a fingerprint; others do not.
func TestFingerprint(t *testing.T) {
	btc, _ := supportedCoin("btc")
	eth, _ := supportedCoin("ETH")
	same := []addition{{btc, 50_000_000}, {btc, 50_000_000}}
	if same[0].fingerprint() != same[1].fingerprint() {
		t.Fatal("equal additions differ")
	}
	for _, other := range []addition{{btc, 50_000_001}, {eth, 50_000_000}} {
		if other.fingerprint() == same[0].fingerprint() {
			t.Errorf("%+v has the fingerprint of %+v", other, same[0])
		}
	}
}
