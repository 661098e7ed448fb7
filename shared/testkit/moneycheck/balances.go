package moneycheck

import (
	"fmt"
	"maps"
	"slices"
)

// Balances returns the violations of the ledger invariant: for every asset, the balance equals the
// sum of the user's entries, those in transactions and those pending in the account, each counted
// once (a pending entry may be in both); every entry is completed and of a known type; and the
// account keeps its Bounds. The sum is this package's own reading of the entry types, not the
// ledger's, so that a wrong sign in the ledger cannot agree with itself.
func (s State) Balances() []error {
	acc := s.Account
	var errs []error
	entries := slices.Clone(s.Entries)
	stored := map[string]bool{}
	for _, e := range s.Entries {
		stored[e.ID] = true
	}
	for _, id := range slices.Sorted(maps.Keys(acc.Pending)) {
		if !stored[id] {
			e := acc.Pending[id]
			e.ID = id
			entries = append(entries, e)
		}
	}

	var cash int64
	holdings := map[string]int64{}
	for _, e := range entries {
		if e.Status != completed {
			errs = append(errs, fmt.Errorf("%s: entry %s has status %q", acc.ID, e.ID, e.Status))
		}
		switch e.Type {
		case "deposit":
			cash += e.Amount
		case "withdrawal", "fee":
			cash -= e.Amount
		case "buy":
			cash -= e.Value
			holdings[e.Symbol] += e.Amount
		case "sell":
			cash += e.Value
			holdings[e.Symbol] -= e.Amount
		case "adjustment":
			holdings[e.Symbol] += e.Amount
		default:
			errs = append(errs, fmt.Errorf("%s: entry %s of unknown type %q", acc.ID, e.ID, e.Type))
		}
	}

	if acc.Cash != cash {
		errs = append(errs, fmt.Errorf("%s: cash %d, the ledger says %d (%d entries)", acc.ID, acc.Cash, cash, len(entries)))
	}
	for _, sym := range symbols(holdings, acc.Holdings) {
		if acc.Holdings[sym] != holdings[sym] {
			errs = append(errs, fmt.Errorf("%s: holdings.%s %d, the ledger says %d", acc.ID, sym, acc.Holdings[sym], holdings[sym]))
		}
	}
	return append(errs, s.Bounds()...)
}

// Bounds returns the account's balances and available amounts that are negative, and the
// available amounts above their balance: what every update keeps, whatever the ledger says.
func (s State) Bounds() []error {
	acc := s.Account
	var errs []error
	if acc.Cash < 0 || acc.CashAvailable < 0 || acc.CashAvailable > acc.Cash {
		errs = append(errs, fmt.Errorf("%s: cash %d, available %d: negative or available above the balance", acc.ID, acc.Cash, acc.CashAvailable))
	}
	for _, sym := range symbols(acc.Holdings, acc.Available) {
		if h, a := acc.Holdings[sym], acc.Available[sym]; h < 0 || a < 0 || a > h {
			errs = append(errs, fmt.Errorf("%s: holdings.%s %d, available %d: negative or available above the balance", acc.ID, sym, h, a))
		}
	}
	return errs
}

// Flushed reports entries still pending in the account: after a flush there are none.
func (s State) Flushed() []error {
	if n := len(s.Account.Pending); n != 0 {
		return []error{fmt.Errorf("%s: %d entries still pending after a flush", s.Account.ID, n)}
	}
	return nil
}

// symbols is the sorted union of the maps' keys.
func symbols(ms ...map[string]int64) []string {
	u := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			u[k] = true
		}
	}
	return slices.Sorted(maps.Keys(u))
}
