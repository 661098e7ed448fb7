// Package ledger owns balances and the ledger of CryptoVault: one account document per user
// (collection "accounts") and one transaction document per balance change (collection
// "transactions"), kept in agreement without multi-document transactions.
//
// # Shapes
//
// accounts: {_id: user id, cash, cash_available, holdings.<SYM>, available.<SYM>, pending.<entry id>,
// version, created_at, updated_at, cleaned_at, clean_id}. Amounts are int64 minor units: cents for
// cash, 1e-8 for coins. cash_available and available.<SYM> are what open orders have not reserved;
// they exist as separate fields because the local engine has no $expr to compare two fields.
// version grows by one with every update. pending maps entry ids to ledger entries whose step 3
// has not happened yet (they may be in transactions already). cleaned_at and clean_id are the
// clean stamp of the last update that removed entries from pending: the database server's time of
// that update ($currentDate: a write delayed in flight cannot carry an early time, as a client's
// clock read before sending could) and a token unique to it; both are absent until the first such
// update (see "Reading the ledger").
//
// transactions: {_id: entry id, user_id, type, symbol, amount, price, value, description, status,
// order_id, created_at}, see Entry.
//
// # How a balance change is made (Apply)
//
//  1. Commit: one conditional updateOne on the account that $inc's the balances and $set's
//     pending.<id> to each entry. The filter holds every condition that keeps balances
//     non-negative (field >= amount taken), so the check and the change are one atomic step.
//  2. Flush: insertMany of the entries into transactions with _id = entry id, unordered; a
//     duplicate-key error means that entry is already there.
//  3. Clean: $unset pending.<id> of the flushed entries, with the clean stamp.
//
// The commit is the point of no return: once step 1 is acknowledged, the change has happened and
// Apply reports success even if steps 2-3 fail (they are logged and repaired later); a caller that
// retried would otherwise apply it twice. Nothing that reads the ledger (Entries, Entry,
// ReadSettled) answers without every committed entry it selects: it flushes the pending ones
// first, or reads the account beside the ledger and flushes only when a pending entry may be
// missing (see "Reading the ledger"). Flush flushes whatever is pending; Account flushes
// opportunistically, skipping the entries its own Ledger recorded (their clean is already
// deferred to the account's next update, see below).
//
// # The steps one by one (Commit, Record, Settle)
//
// A caller with writes of its own can run Apply's steps itself: Commit (step 1, a findAndModify
// that returns the account, so the caller sees its own fields and entries left pending by earlier
// changes), Committed.Record (step 2, for those entries too) in parallel with its writes, and
// step 3 deferred: the account's next update through the same Ledger (Apply, Commit, Settle)
// carries the $unset of the recorded entries, and of caller fields handed to UnsetLater, instead
// of a command of its own. That memory is per process and bounded; whatever it forgets stays
// pending, where every reader and the next Record find it, so forgetting costs nothing but a
// later flush. The argument below holds for each step taken alone.
//
// Opening an account splits the same way: CommitOpening is the account insert (the opening
// deposit pending inside it: the insert is the commit), its Committed.Record copies the deposit
// to transactions beside the caller's writes (signup's flag, audit entry and session), and the
// deposit's clearing is deferred like any recorded entry's, so the new account's first read flushes
// it. OpenAccount runs the steps one after the other, clearing at once.
//
// # Reading the ledger (Entries, ReadSettled) in one round trip
//
// Flushing before reading costs a round trip before the page. Reading the account beside the page
// instead, and flushing only when something is pending, is not enough on its own: the page read
// may reach the server before the account read, and an entry committed before the request, not yet
// in transactions when the page was read, may be recorded and cleaned by another process before
// the account is read, so that neither read shows it. The clean stamp closes that gap: every
// update that removes entries from pending — a flush's step 3, Settle, and the Apply or Commit that
// carries deferred unsets — sets cleaned_at to the server's time and clean_id to a fresh token in
// the same update. Entries reads the account's pending map and stamp beside the page and the
// count, and keeps what it read when no pending entry matches the query and the last clean
// happened before the request started: either it is this Ledger's own clean, acknowledged
// before the start (the token matches; no clock involved), or its stamp is older than the start
// by more than cleanSkew, which bounds the clock difference between the server and the process.
// Otherwise it flushes the pending entries and reads again (settled has the full argument). A
// pending entry that this Ledger itself recorded before the request started does not count as
// pending: its insert was acknowledged before any of the reads was sent. So the first read after
// another process's change whose clean was deferred costs a second read, and so does a read
// within cleanSkew of another process's clean; every other read, including the first one on the
// instance that made the change, is one round trip.
//
// ReadSettled applies the same rule to a caller's own read of transactions (the sums and counts of
// the transactions function's stats): its read runs beside the account read and runs again after
// the flush when needed. Such a read cannot say which pending entries it saw, so on that path
// every pending entry is inserted first (the ones already there are duplicates).
//
// The argument needs every remover of pending entries to stamp. While a deployment replaces
// instances running code from before the stamp, one of those may clean without stamping; a read
// racing such a clean (its page read between that clean's insert and its unset) could miss the
// entry. The window closes when the old instances are gone.
//
// # Why a crash cannot break the invariant
//
// The invariant: for every user and asset, the balance equals the sum of the user's entries in
// transactions plus those in pending — and after a flush pending is empty, so balance = ledger.
//   - Crash before or during step 1: the update is atomic on one document; either nothing
//     changed, or balances and pending entries changed together (also if the reply was lost).
//   - Crash after step 1, before step 2 completes: the entries are in pending (all or some of them
//     in transactions). The next Flush inserts them again: the ones already there are duplicate
//     keys and are skipped, the others are inserted. Nothing is lost, nothing doubles.
//   - Crash after step 2, before step 3: the entries are in both places; the next Flush's inserts
//     are all duplicates, and it unsets them.
//   - Entries enter transactions only from an acknowledged commit or from pending, so the ledger
//     never holds an entry whose balance change did not happen.
//
// Balances are never negative because every decrease is conditioned in the same update; a
// missing map key (available.ETH never set) does not match a $gte condition, so it cannot go
// negative either.
//
// # Entry ids
//
// By default an id is a new ObjectID in hex. A caller may set its own (1-64 characters of
// [0-9A-Za-z_-]; DerivedID makes 24-hex ones) for an entry that must exist at most once whatever
// happens, like the opening deposit. An id identifies an entry for the flush, not a request: Apply
// refuses a caller id that is still pending (ErrDuplicateEntry), but once flushed the id is no
// longer in the account, and committing it again would move the balance twice while the ledger
// keeps one entry. So a caller id must come from something that is itself committed at most once
// (the account insert, an order's state transition). Request idempotency is a marker that the same
// update sets and its filter requires absent (Change.Filter and Change.Set), with fresh entry ids.
package ledger
