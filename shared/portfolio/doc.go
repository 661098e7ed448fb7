// Package portfolio is the portfolio function: the valuation of a user's cash and coins at the
// stored prices, and the recording of coins held elsewhere, under /api/portfolio (api.md,
// "portfolio"). Every route is behind the auth guard and reads or changes only the caller's own
// account.
//
// Balances belong to the ledger package and prices to the market package: this package reads
// both, values the holdings, and books holding changes as ledger entries of type adjustment (one
// conditional single-document update of the account each, through ledger.Commit, whose entry is
// then recorded beside the request's other writes, as a market fill does).
//
// # Routes
//
//	GET    /api/portfolio                   200 {portfolio}
//	GET    /api/portfolio/holding/{symbol}  200 {holding}; not held or unsupported: 404
//	POST   /api/portfolio/holding           201 {message, holding}; Idempotency-Key supported
//	DELETE /api/portfolio/holding/{symbol}  200 {message}; not held or unsupported: 404
//
// {symbol} and the POST's symbol are a supported coin's symbol or upstream id in any case ("btc",
// "Bitcoin"); answers always use the symbol ("BTC").
//
// # Valuation (valuation.go)
//
//   - value = amount × price rounded DOWN to the cent: a holding is never shown as worth more than
//     its coins fetch at that price (it is also what a sell is credited before the fee).
//     holdingsValue is the sum of the listed values, so the list adds up to the cent, and
//     totalBalance = cashBalance + holdingsValue.
//   - allocation = value / totalBalance in percent, 2 decimals, halves away from zero
//     (money.ShareOf); 0 when totalBalance is 0. Cash is not a holding, so the allocations add up
//     to the holdings' share of the total (about 100 only when the cash is 0).
//   - change is the coin's stored 24 h change in percent; available is the amount not reserved by
//     open sell orders (the account's available.<SYM>); availableCash is cash_available.
//   - A stale price (older than PRICE_MAX_AGE) still values the portfolio: staleness pauses
//     trading, not reading, and updatedAt shows how old the figures are.
//   - A supported coin whose price has never been stored (only possible before the first price
//     refresh quoted it) has price and change null, value 0 and allocation 0: an unknown price is
//     not a price of 0, and the totals must stay numbers.
//   - Holdings of zero are not listed. Listed holdings come in the market's coin order; a symbol
//     the platform no longer supports (if one was ever dropped) is still listed, unpriced, after
//     them: a user's coins are never hidden.
//   - updatedAt is the newest of the account's updated_at and the updatedAt of the prices that
//     value a listed holding: the last moment any figure of the answer changed. With neither (no
//     account), the request's time.
//
// # A caller without an account
//
// Signup opens the account, and login repairs a signup interrupted before that, so a valid
// session without an account is a broken state, not a user choice. GET /api/portfolio then
// answers an empty portfolio (all zeros, no holdings, a warning in the log): that is literally
// what the user owns, and the dashboard the frontend shows after login keeps working. The holding
// routes answer 404 (nothing is held). The POST answers 404 "Account not found", as the
// transactions function does: this package does not open the account itself, because opening is
// idempotent and a zero-cash account opened here would stop login's repair from booking the
// starting cash.
//
// # Adding coins (add.go)
//
// POST books one adjustment entry of +amount with the coin's stored price (stale or not) and the
// value amount × price rounded down, or without price and with value 0 when no price is stored.
// The account is read first (beside the prices), to answer 404 without one and to keep the
// holding within money.MaxQuantity and its value within money.MaxUSD (422 on amount otherwise).
// The answer's holding is the account as read plus this change. Under an Idempotency-Key the
// entry id derives from the claim's token and the account update carries the claim's marker
// (idempotency.Claim.GuardDeferred), so a retry or a takeover books nothing twice; the marker
// stays in the account until the response is stored, and its removal then rides on the account's
// next update through this instance's ledger (markers left behind by a crash or a takeover are
// pruned the same way once older than idempotency.MarkerRetention). The fingerprint is the coin
// and the amount in 1e-8 units, so "0.5", 0.5 and 0.50 are the same request, and name is ignored
// entirely.
//
// # Removing a holding (remove.go)
//
// DELETE reads the account (a coin not held is 404 before any order is touched), cancels the
// coin's open sell orders (Options.CancelOpenSells, trading's; only when the read shows some of
// the coin reserved, since only open sell orders reserve coins), then books one adjustment entry
// of minus the amount it read. The ledger conditions that update on holdings.<SYM> >= amount
// and available.<SYM> >= amount. Since available never exceeds the holding (it is the holding
// minus reservations), the update can only apply while nothing is reserved and at least the
// amount read is held:
//
//   - a sell that filled, or a sell order placed, between the read and the update makes a
//     condition fail: nothing changes (no balance can go negative), and the removal starts over
//     (read, cancel, update), at most maxRemoveAttempts times, then 409 HOLDING_CHANGED;
//   - the cancel itself only moves reservations back to available, never the holding, so the
//     amount read stays the amount to remove; if it fails, nothing is removed (the error is the
//     answer), since coins an order still reserves must not disappear under it;
//   - a buy that filled in between leaves the bought coins held: exactly the state of the buy
//     following the removal, which is an order the user could have produced, so it is correct
//     and needs no equality condition (which the ledger's filter cannot express anyway);
//   - two concurrent DELETEs: the second update fails its condition, re-reads 0 and answers 404.
//
// The entry's value is minus the value of the amount (rounded down, then negated), so adding and
// removing the same amount at one price books opposite values.
//
// # Cost (architecture: cost budget; roundtrip_test.go checks each)
//
// The writes take a market fill's shape: one account update (ledger.Commit, a findAndModify),
// then the entry's insert (Committed.Record) beside the audit insert and, under a key, the stored
// response. The entry's clean (its removal from the account's pending map) and the key's marker
// removal ride on the account's next update through this instance's ledger instead of costing
// commands of their own; until then the entry is pending, which every reader of the ledger
// handles (the first read of another instance pays one more level, as after a fill; this
// instance's own reads know the entry is recorded and pay nothing).
//
//   - GET /api/portfolio and GET holding: the account find and, when the per-instance price cache
//     is cold, the prices find, in parallel: 1 sequential round trip (+0 warm, +1 command cold).
//     Pending ledger entries that this instance did not record add their flush (insert, update)
//     after the find.
//   - POST without key: (account find ∥ prices) → account update → entry insert ∥ audit insert:
//     3 sequential, 4 commands. With a key, the idempotency insert beside the account find and
//     the stored response beside the two inserts: 3 sequential, 6 commands. A replay reads the
//     account for nothing, beside the idempotency insert: 2 sequential, 3 commands.
//   - DELETE: account find → account update → entry insert ∥ audit insert: 3 sequential, 4
//     commands when nothing of the coin is reserved; otherwise trading's cancel (its reads and
//     one update per open sell order) comes between the find and the update.
package portfolio
