// Package trading is the orders function and the order matcher: placing market, limit and stop
// orders under /api/orders, listing, reading and cancelling them, and executing resting orders
// after each price refresh (Matcher, run by the prices function: NewPricesFunction).
//
// Balances and ledger entries belong to the ledger package; prices to market; this package adds
// the orders collection and a few fields of the user's account document.
//
// # One atomic step per transition
//
// Every order transition — a market order's execution, a resting order's placement (its
// reservation), its fill, cancellation, expiry or rejection — is ONE conditional update of the
// user's account document (ledger.Commit), which carries everything that must happen together:
//
//   - the balances (ledger: cash, cash_available, holdings.SYM, available.SYM, each decrease
//     conditioned so that nothing goes negative) and the ledger entries, pending in the account
//     (a fill's buy/sell and fee entries, with ids derived from the order id);
//   - open_orders.<id> = {side, symbol, cash, coins}: set when a resting order reserves, required
//     present and removed by whatever closes it. Its presence is "this order is open and holds
//     this reservation"; since every way out of open requires it and removes it in the same
//     update, an order leaves open at most once, however many requests or matcher runs race for
//     it, and its reservation is released exactly once. The sum of the open marks' reservations
//     equals cash − cash_available (and holdings − available per coin) at every instant;
//   - order_writes.<id>_<status> = the order document as of this transition, until the orders
//     collection shows it;
//   - idem.<token> for a request with an Idempotency-Key: required absent and set, so the
//     transition applies at most once per key, however often the request is re-run after a
//     takeover (the idempotency package's protocol, marker shape and pruning).
//
// Everything else follows from that document and is idempotent: the entries are inserted into
// transactions with their ids (a duplicate key means already there), the order document is
// written by an upsert that can only move it forward ($setOnInsert for an open order, $set of the
// one final state), the audit entry is appended. These follow-ups run in parallel; clearing what
// the account no longer needs (recorded entries, written snapshots, idempotency markers older than
// any retry) rides on the account's next update (ledger.UnsetLater), or is done at once
// (ledger.Settle) by the matcher, which has no next request.
//
// # Why a crash cannot break the invariants
//
// The invariants: for every user and asset, the balance equals the sum of the ledger entries; no
// balance is negative; the reservations of the open orders equal what the account holds back; no
// fill, release or entry happens twice.
//
//   - Crash before or during the account update: it is atomic on one document; either nothing
//     happened, or balances, entries, open mark and snapshot changed together.
//   - Crash after it, before the follow-ups finish: the entries are pending in the account, where
//     every ledger reader flushes them and the account's next ledger.Commit records them again
//     (duplicates are skipped); the order's snapshot is in the account, where the user's next
//     order transition (pendingWrites), reading the order (lookup), cancelling it or the matcher
//     finding its mark gone (resolve) writes it. "The marker says the transition happened, so only
//     the order document is completed": nothing is applied twice, because the re-run's account
//     update fails on the open mark (resting orders) or the key's marker (placements).
//   - Crash after the follow-ups, before the clearing: the clearing only removes things already
//     copied out (entries recorded, snapshots written); the next update or reader repeats it.
//   - A stale actor (a matcher run or cancel that read the order as open before it closed) fails
//     on the open mark and only repairs the document. A placement cannot be re-run under a key
//     whose marker is gone: markers stay until idempotency.MarkerRetention, longer than a key can
//     be taken over.
//
// # Round trips (the architecture's budget)
//
// Market order (and a marketable limit or stop), with an Idempotency-Key: claim (insert) → account
// update (findAndModify) → entries (insert) ∥ order (update: bulk upsert) ∥ audit (insert) ∥
// stored response (update): 3 sequential, 6 commands. Without a key: 2 sequential, 4 commands.
// The price comes from the per-instance cache, read beside the claim: +1 command, not
// sequential, when the cache is cold. Placing a resting order costs the same less the entries'
// insert (it books none): 3 and 5, or 2 and 3. Replaying a stored response: claim (a duplicate)
// → read the record, 2 sequential. Cancel: find
// order → account update → order ∥ audit: 3 sequential, 4 commands. GET one order: 1 (a miss
// reads the account too); GET the list: 1 sequential, 2 commands (count ∥ page).
package trading
