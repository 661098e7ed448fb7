package moneycheck

import (
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// consistent is a state that keeps every invariant: an opening deposit (stored and still pending,
// as between a flush's insert and its clean), a filled market buy, an open limit buy and an open
// limit sell holding their reservations, a cancelled order, and an adjustment only pending.
func consistent() State {
	o1, price := "o1", int64(6_000_000_000_000) // 60000.00000000
	deposit := Entry{ID: "d1", Type: "deposit", Symbol: "USD", Amount: 1_000_000, Value: 1_000_000, Status: completed}
	return State{
		Account: Account{
			ID:            "u1",
			Cash:          1_000_000 - 600_000 - 600,
			CashAvailable: 1_000_000 - 600_000 - 600 - 100_100,
			Holdings:      map[string]int64{"BTC": 10_000_000, "ETH": 200_000_000},
			Available:     map[string]int64{"BTC": 5_000_000, "ETH": 200_000_000},
			Pending: map[string]Entry{
				"d1":   deposit,
				"adj1": {Type: "adjustment", Symbol: "ETH", Amount: 200_000_000, Status: completed},
			},
			Open: map[string]bson.M{"o2": {}, "o3": {}},
		},
		Entries: []Entry{
			deposit,
			{ID: "o1-buy", Type: "buy", Symbol: "BTC", Amount: 10_000_000, Value: 600_000, Price: &price, OrderID: &o1, Status: completed},
			{ID: "o1-fee", Type: "fee", Symbol: "USD", Amount: 600, Value: 600, OrderID: &o1, Status: completed},
		},
		Orders: []Order{
			{ID: "o1", Symbol: "BTC", Side: "buy", Status: "filled", Amount: 10_000_000, FilledPrice: &price, Fee: 600, Total: 600_600},
			{ID: "o2", Symbol: "BTC", Side: "buy", Status: "open", Amount: 1_000_000, ReservedCash: 100_100},
			{ID: "o3", Symbol: "BTC", Side: "sell", Status: "open", Amount: 5_000_000, ReservedAmount: 5_000_000},
			{ID: "o4", Symbol: "ETH", Side: "sell", Status: "cancelled", Amount: 1},
		},
	}
}

// assertErrors fails unless errs are one error per want, each containing it.
func assertErrors(t *testing.T, errs []error, want []string) {
	t.Helper()
	ok := len(errs) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(errs[i].Error(), want[i])
	}
	if !ok {
		t.Errorf("errors:\n%v\nwant one containing each of %q", errors.Join(errs...), want)
	}
}

func TestBalances(t *testing.T) {
	tests := []struct {
		name   string
		doctor func(s *State)
		want   []string
	}{
		{"consistent", func(*State) {}, nil},
		{"cash off by a cent", func(s *State) { s.Account.Cash++ }, []string{"u1: cash 399401, the ledger says 399400"}},
		{"a holding off", func(s *State) { s.Account.Holdings["BTC"]-- }, []string{"holdings.BTC 9999999, the ledger says 10000000"}},
		{"a holding without entries", func(s *State) { s.Account.Holdings["SOL"] = 5 }, []string{"holdings.SOL 5, the ledger says 0"}},
		{"a pending entry is part of the sum", func(s *State) { delete(s.Account.Pending, "adj1") },
			[]string{"holdings.ETH 200000000, the ledger says 0"}},
		{"an entry stored and pending counts once", func(s *State) { s.Account.Pending["o1-fee"] = s.Entries[2] }, nil},
		{"negative cash", func(s *State) { s.Account.Cash, s.Account.CashAvailable = -1, -1 },
			[]string{"cash -1, the ledger says 399400", "cash -1, available -1: negative"}},
		{"cash available above the balance", func(s *State) { s.Account.CashAvailable = s.Account.Cash + 1 },
			[]string{"cash 399400, available 399401: negative or available above the balance"}},
		{"coins available above the balance", func(s *State) { s.Account.Available["ETH"]++ },
			[]string{"holdings.ETH 200000000, available 200000001"}},
		{"coins available without a holding", func(s *State) { s.Account.Available["DOGE"] = 1 },
			[]string{"holdings.DOGE 0, available 1"}},
		{"an entry of an unknown type", func(s *State) { s.Entries = append(s.Entries, Entry{ID: "x", Type: "bonus", Status: completed}) },
			[]string{`entry x of unknown type "bonus"`}},
		{"an entry not completed", func(s *State) { s.Entries[0].Status = "pending" }, []string{`entry d1 has status "pending"`}},
		{"a sell adds its value and takes its coins", func(s *State) {
			s.Entries = append(s.Entries, Entry{ID: "s", Type: "sell", Symbol: "ETH", Amount: 100_000_000, Value: 175_000, Status: completed})
			s.Account.Cash += 175_000
			s.Account.CashAvailable += 175_000
			s.Account.Holdings["ETH"] -= 100_000_000
			s.Account.Available["ETH"] -= 100_000_000
		}, nil},
		{"a withdrawal takes its amount", func(s *State) {
			s.Entries = append(s.Entries, Entry{ID: "w", Type: "withdrawal", Symbol: "USD", Amount: 400, Value: 400, Status: completed})
		}, []string{"cash 399400, the ledger says 399000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := consistent()
			tt.doctor(&s)
			assertErrors(t, s.Balances(), tt.want)
		})
	}
}

// Bounds reads the account alone: a balance the ledger disagrees with is not its business.
func TestBounds(t *testing.T) {
	tests := []struct {
		name   string
		doctor func(s *State)
		want   []string
	}{
		{"consistent", func(*State) {}, nil},
		{"off the ledger, within bounds", func(s *State) { s.Account.Cash++; s.Entries = nil }, nil},
		{"negative coins", func(s *State) { s.Account.Holdings["ETH"], s.Account.Available["ETH"] = -1, -1 },
			[]string{"holdings.ETH -1, available -1: negative"}},
		{"cash available above the balance", func(s *State) { s.Account.CashAvailable = s.Account.Cash + 1 },
			[]string{"cash 399400, available 399401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := consistent()
			tt.doctor(&s)
			assertErrors(t, s.Bounds(), tt.want)
		})
	}
}

func TestFlushed(t *testing.T) {
	s := consistent()
	assertErrors(t, s.Flushed(), []string{"u1: 2 entries still pending after a flush"})
	s.Account.Pending = nil
	assertErrors(t, s.Flushed(), nil)
}

func TestReservations(t *testing.T) {
	tests := []struct {
		name   string
		doctor func(s *State)
		want   []string
	}{
		{"consistent", func(*State) {}, nil},
		{"cash held back beyond the open orders", func(s *State) { s.Account.CashAvailable-- },
			[]string{"holds back 100101 cents, the open orders reserve 100100"}},
		{"coins held back beyond the open orders", func(s *State) { s.Account.Available["ETH"]-- },
			[]string{"holds back 1 ETH, the open orders reserve 0"}},
		{"a mark without an open order", func(s *State) { s.Account.Open["o4"] = bson.M{} },
			[]string{"still reserves for order o4, which is not open"}},
		{"an open order without a mark", func(s *State) { delete(s.Account.Open, "o3") },
			[]string{"open order o3 has no account mark"}},
		{"a closed order whose reservation stayed", func(s *State) { s.Orders[1].Status = "cancelled" },
			[]string{"holds back 100100 cents, the open orders reserve 0", "still reserves for order o2, which is not open"}},
		{"a filled order without its fee", func(s *State) { s.Entries = s.Entries[:2] },
			[]string{"filled order o1 has entries"}},
		{"a filled order with two trades", func(s *State) { s.Entries = append(s.Entries, s.Entries[1]) },
			[]string{"order o1 has two buy entries"}},
		{"a filled order with a foreign entry", func(s *State) { s.Entries[0].OrderID = s.Entries[1].OrderID },
			[]string{"order o1 has a deposit entry"}},
		{"a fee that disagrees", func(s *State) { s.Orders[0].Fee++ }, []string{"order o1 ("}},
		{"a total that disagrees", func(s *State) { s.Orders[0].Total-- }, []string{"order o1 ("}},
		{"a price that disagrees", func(s *State) { p := *s.Orders[0].FilledPrice + 1; s.Orders[0].FilledPrice = &p },
			[]string{"order o1 ("}},
		{"a symbol that disagrees", func(s *State) { s.Entries[1].Symbol = "ETH" }, []string{"order o1 ("}},
		{"entries of an order not stored", func(s *State) { s.Orders = s.Orders[1:] },
			[]string{"2 entries of order o1, which is not stored"}},
		{"an open order with entries", func(s *State) { id := "o2"; s.Entries[2].OrderID = &id },
			[]string{"filled order o1 has entries", "open order o2 has 1 entries"}},
		{"a cancelled order with entries", func(s *State) { id := "o4"; s.Entries[2].OrderID = &id },
			[]string{"filled order o1 has entries", "cancelled order o4 has 1 entries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := consistent()
			tt.doctor(&s)
			assertErrors(t, s.Reservations(), tt.want)
		})
	}
}

func TestWithUnwritten(t *testing.T) {
	tests := []struct {
		name string
		// doctor leaves writes in the account that the orders collection does not show.
		doctor  func(s *State)
		asRead  []string // Reservations of the state as read
		written []string // and with the snapshots counted as written
	}{
		{"none", func(*State) {}, nil, nil},
		{"an open order not written", func(s *State) {
			s.Account.Writes = map[string]Order{"o2_open": s.Orders[1]}
			s.Orders = append(s.Orders[:1], s.Orders[2:]...)
		}, []string{"holds back 100100 cents, the open orders reserve 0", "still reserves for order o2, which is not open"}, nil},
		{"a fill not written: the stored order is still open", func(s *State) {
			s.Account.Writes = map[string]Order{"o1_filled": s.Orders[0]}
			s.Orders[0] = Order{ID: "o1", Symbol: "BTC", Side: "buy", Status: "open", Amount: 10_000_000}
		}, []string{"open order o1 has 2 entries", "open order o1 has no account mark"}, nil},
		{"a new order's two snapshots: the closing one wins", func(s *State) {
			s.Account.Writes = map[string]Order{"o1_filled": s.Orders[0], "o1_open": {ID: "o1", Status: "open", ReservedCash: 600_600}}
			s.Orders = s.Orders[1:]
		}, []string{"2 entries of order o1, which is not stored"}, nil},
		{"a stale open snapshot of a closed order changes nothing", func(s *State) {
			s.Account.Writes = map[string]Order{"o4_open": {ID: "o4", Status: "open", ReservedAmount: 1}}
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := consistent()
			tt.doctor(&s)
			stored := len(s.Orders)
			assertErrors(t, s.Reservations(), tt.asRead)
			assertErrors(t, s.WithUnwritten().Reservations(), tt.written)
			if len(s.Orders) != stored {
				t.Errorf("WithUnwritten changed the state it was called on")
			}
		})
	}
}
