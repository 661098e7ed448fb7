// Package idempotency makes a POST safe to retry (api.md "Idempotency"): a client sends an
// Idempotency-Key header, and a retry with the same key and the same request gets the first
// response back instead of running the operation again.
//
// # Records
//
// One document per (user, key) in the collection "idempotency" (_id = a hash of both, so keys of
// different users never meet):
//
//	{_id, user_id, key, route, fingerprint, state, token, owner, status, body,
//	 created_at, claimed_at, expires_at}
//
// state is "pending" while a request holds the key (its claim) and "done" once its response —
// status and JSON body, 2xx or 4xx — is stored. fingerprint is a hash of the caller's canonical
// form of the parsed request, so "0.5" and 0.50 are the same request. Begin claims a key with one
// insert in the common case; a duplicate key means the key was used before, and one read tells
// which answer applies: the stored response (replay), 409 IDEMPOTENCY_KEY_REUSED for another
// route or request, 409 IDEMPOTENCY_KEY_IN_PROGRESS while another request holds it, or a takeover
// (a conditional update that only one taker wins) when the holder has been silent for
// InFlightTimeout — it crashed, timed out, or released the claim after a 5xx.
//
// A record expires Retention after its creation. Expiry is checked by the code (an expired
// record is replaced, again conditionally); the TTL index only deletes old documents.
//
// # Re-running an operation safely
//
// A takeover runs the operation again, and the request that gave up may have changed a balance
// before it died. The operation must therefore be re-runnable, which a claim supports in two ways:
//
//   - Token is random per record and survives takeovers (never a 5xx, never a retry): derive the
//     ids of what the operation creates from it (ledger.DerivedID), so a re-run names the same
//     entries and can rebuild the first response from them.
//   - Guard returns a filter and a $set for the operation's single-document update (for a balance
//     change: ledger.Change.Filter and Set): the update sets the marker <MarkerField>.<token>
//     and requires it absent, so it applies at most once per record, however often it is sent. An
//     update that matches nothing because of it (ledger.ErrPrecondition) was applied before.
//
// A 5xx does not delete the record: it releases the claim (claimed_at reset), keeping the token,
// so the retry takes over at once and still finds the marker if the failed attempt's update did
// reach the database (a write whose reply was lost).
//
// # Markers stay bounded
//
// Markers live in someone else's document (the user's account), so they must not pile up. Once a
// 2xx response is stored, no request can run that token again (a retry replays), so Finish
// removes the claim's markers right away, and in the same step prunes markers older than
// MarkerRetention that earlier requests left behind. Two cases leave a marker behind for that
// pruning: a crash between the update and Finish, and a claim that was taken over (its marker
// stays, because the request that gave up may still have an update in flight that the marker
// must keep stopping). A marker is never pruned while its record could still be taken over: its
// value is the record's creation time, and MarkerRetention exceeds Retention by an hour.
//
// That removal is a command after the stored response, on the request's path. An operation whose
// guarded document is updated often anyway (a balance change: the user's account) can take it off
// that path with GuardDeferred instead of Guard: Finish then sends nothing for the marker and only
// tells the caller, once the 2xx is stored and under the same conditions, that the marker may go;
// the caller hands its removal to the document's next update (ledger.UnsetLater), and prunes the
// markers StaleMarkers finds in a document it updates in the same way. Until that next update the
// marker stays, which is safe: a marker only ever stops a re-run of its own token.
package idempotency
