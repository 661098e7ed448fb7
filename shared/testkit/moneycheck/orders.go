package moneycheck

import (
	"fmt"
	"maps"
	"slices"
)

// Reservations returns the violations of the orders' invariant (shared/trading/doc.go): what the
// account holds back (cash − cash_available, holdings − available) equals what its open orders
// reserve, and its open marks name exactly its open orders; a filled order has exactly one trade
// entry and one fee entry, agreeing with the order's figures; no other order has entries, and no
// entry names an order that is not stored. The orders are taken as read: see WithUnwritten.
func (s State) Reservations() []error {
	acc := s.Account
	var errs []error
	byOrder := map[string][]Entry{}
	for _, e := range s.Entries {
		if e.OrderID != nil {
			byOrder[*e.OrderID] = append(byOrder[*e.OrderID], e)
		}
	}

	var reservedCash int64
	reservedCoins := map[string]int64{}
	open := map[string]bool{}
	for _, o := range s.Orders {
		entries := byOrder[o.ID]
		delete(byOrder, o.ID)
		switch o.Status {
		case "open":
			open[o.ID] = true
			reservedCash += o.ReservedCash
			reservedCoins[o.Symbol] += o.ReservedAmount
			if len(entries) != 0 {
				errs = append(errs, fmt.Errorf("%s: open order %s has %d entries", acc.ID, o.ID, len(entries)))
			}
		case "filled":
			errs = append(errs, fillEntries(acc.ID, o, entries)...)
		default:
			if len(entries) != 0 {
				errs = append(errs, fmt.Errorf("%s: %s order %s has %d entries", acc.ID, o.Status, o.ID, len(entries)))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(byOrder)) {
		errs = append(errs, fmt.Errorf("%s: %d entries of order %s, which is not stored", acc.ID, len(byOrder[id]), id))
	}

	if held := acc.Cash - acc.CashAvailable; held != reservedCash {
		errs = append(errs, fmt.Errorf("%s: the account holds back %d cents, the open orders reserve %d", acc.ID, held, reservedCash))
	}
	for _, sym := range symbols(reservedCoins, acc.Holdings, acc.Available) {
		if held := acc.Holdings[sym] - acc.Available[sym]; held != reservedCoins[sym] {
			errs = append(errs, fmt.Errorf("%s: the account holds back %d %s, the open orders reserve %d", acc.ID, held, sym, reservedCoins[sym]))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(acc.Open)) {
		if !open[id] {
			errs = append(errs, fmt.Errorf("%s: the account still reserves for order %s, which is not open", acc.ID, id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(open)) {
		if _, ok := acc.Open[id]; !ok {
			errs = append(errs, fmt.Errorf("%s: open order %s has no account mark", acc.ID, id))
		}
	}
	return errs
}

// fillEntries checks a filled order's entries: exactly its trade entry (of the order's side) and
// its fee entry, agreeing with the order's amount, symbol, price, fee and total.
func fillEntries(userID string, o Order, entries []Entry) []error {
	var errs []error
	var trade, fee *Entry
	for i, e := range entries {
		switch e.Type {
		case o.Side:
			if trade != nil {
				errs = append(errs, fmt.Errorf("%s: order %s has two %s entries", userID, o.ID, e.Type))
			}
			trade = &entries[i]
		case "fee":
			if fee != nil {
				errs = append(errs, fmt.Errorf("%s: order %s has two fee entries", userID, o.ID))
			}
			fee = &entries[i]
		default:
			errs = append(errs, fmt.Errorf("%s: order %s has a %s entry", userID, o.ID, e.Type))
		}
	}
	if trade == nil || fee == nil {
		return append(errs, fmt.Errorf("%s: filled order %s has entries %+v", userID, o.ID, entries))
	}
	total := trade.Value + fee.Amount
	if o.Side == "sell" {
		total = trade.Value - fee.Amount
	}
	if trade.Amount != o.Amount || trade.Symbol != o.Symbol || fee.Amount != o.Fee || total != o.Total ||
		o.FilledPrice == nil || trade.Price == nil || *trade.Price != *o.FilledPrice {
		errs = append(errs, fmt.Errorf("%s: order %s (%+v) disagrees with its entries %+v, %+v", userID, o.ID, o, *trade, *fee))
	}
	return errs
}

// WithUnwritten returns s with the order documents the account has not written to the orders
// collection yet (order_writes) counted as written: one replaces the stored order when that is
// missing, or stored open while the snapshot has closed it. A state read while order writes may
// be outstanding (after a fault, under load) is checked this way; a test that expects them
// written checks the state as read.
func (s State) WithUnwritten() State {
	byID := map[string]Order{}
	var ids []string
	for _, o := range s.Orders {
		byID[o.ID] = o
		ids = append(ids, o.ID)
	}
	for _, key := range slices.Sorted(maps.Keys(s.Account.Writes)) {
		o := s.Account.Writes[key]
		cur, ok := byID[o.ID]
		if !ok {
			ids = append(ids, o.ID)
		}
		if !ok || (cur.Status == "open" && o.Status != "open") {
			byID[o.ID] = o
		}
	}
	out := s
	out.Orders = make([]Order, len(ids))
	for i, id := range ids {
		out.Orders[i] = byID[id]
	}
	return out
}
