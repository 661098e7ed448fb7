package trading

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/idempotency"
	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
)

// The fields this package keeps in a user's account document, beside the ledger's, so that each
// order transition is one atomic update of that document (see the package documentation):
//
//	open_orders.<order id>           = openMark: the order is open and holds this reservation
//	order_writes.<order id>_<status> = the order document as of that transition, until the
//	                                   orders collection shows it
//	idem.<token>                     = time: the idempotency key's change is applied (the
//	                                   idempotency package's marker shape)
const (
	openField   = "open_orders"
	writesField = "order_writes"
)

// openMark is an open order's entry in its account: which side of the account it reserves and how
// much. Its presence is the condition of every transition out of open, and its removal is part of
// that transition, so an order leaves open at most once.
type openMark struct {
	Side   Side           `bson:"side"`
	Symbol string         `bson:"symbol"`
	Cash   money.USD      `bson:"cash"`
	Coins  money.Quantity `bson:"coins"`
}

// accountMarks are this package's fields of an account, as readMarks reads them.
type accountMarks struct {
	Open   map[string]openMark `bson:"open_orders"`
	Writes map[string]orderDoc `bson:"order_writes"`
}

func openPath(id string) string { return openField + "." + id }

// writeKey names a transition's snapshot. The status is part of the key so that deferring the
// removal of one snapshot (ledger.UnsetLater) can never remove a later transition's snapshot of
// the same order: each order reaches each status at most once.
func writeKey(o orderDoc) string  { return o.ID + "_" + string(o.Status) }
func writePath(o orderDoc) string { return writesField + "." + writeKey(o) }

func idemPath(token string) string { return idempotency.MarkerField + "." + token }

func exists(path string, yes bool) bson.E {
	return bson.E{Key: path, Value: bson.D{{Key: "$exists", Value: yes}}}
}

// guardKey adds the idempotency marker of a keyed request to a change: the change applies at most
// once per key however often the request is re-run (a takeover after a crash). The marker is
// this package's own rather than idempotency.Claim.Guard's, because Guard has Finish remove it
// right after storing the response — one more sequential round trip, which the market order's
// budget has no room for. It has the same shape (idem.<token> = a time no earlier than the
// record's creation), so both packages' pruning of markers older than
// idempotency.MarkerRetention applies to it.
func guardKey(c *ledger.Change, token string, now time.Time) {
	if token == "" {
		return
	}
	c.Filter = append(c.Filter, exists(idemPath(token), false))
	c.Set = append(c.Set, bson.E{Key: idemPath(token), Value: now})
}

// fillChange is the account side of executing o (its fill figures set) with trade: the buy or
// sell entry and the fee entry, with ids derived from the order id, and the snapshot. A resting
// order also releases its reservation and must still be open (its mark present, then removed).
func fillChange(o orderDoc, trade money.Trade, resting bool) ledger.Change {
	typ := ledger.TypeBuy
	if o.Side == Sell {
		typ = ledger.TypeSell
	}
	desc := string(o.Side) + " " + o.Amount.String() + " " + o.Symbol + " at " + o.FilledPrice.String() + " (" + string(o.Type) + " order)"
	c := ledger.Change{
		UserID: o.UserID,
		Entries: []ledger.Entry{
			{ID: ledger.DerivedID(Name, o.ID, "trade"), Type: typ, Symbol: o.Symbol, Amount: int64(o.Amount),
				Price: o.FilledPrice, Value: trade.Value, Description: capitalise(desc), OrderID: o.ID},
			{ID: ledger.DerivedID(Name, o.ID, "fee"), Type: ledger.TypeFee, Symbol: ledger.CashSymbol,
				Amount: int64(trade.Fee), Value: trade.Fee, Description: "Trading fee", OrderID: o.ID},
		},
		Set: bson.D{{Key: writePath(o), Value: o}},
	}
	if resting {
		release(&c, o)
	}
	return c
}

// restChange is the account side of placing the resting order o: its reservation, its open mark
// (required absent: an order is placed once) and its snapshot.
func restChange(o orderDoc) ledger.Change {
	c := ledger.Change{
		UserID: o.UserID,
		Filter: bson.D{exists(openPath(o.ID), false)},
		Set: bson.D{
			{Key: openPath(o.ID), Value: openMark{Side: o.Side, Symbol: o.Symbol, Cash: o.ReservedCash, Coins: o.ReservedAmount}},
			{Key: writePath(o), Value: o},
		},
	}
	if o.Side == Buy {
		c.ReserveCash = o.ReservedCash
	} else {
		c.ReserveHoldings = map[string]money.Quantity{o.Symbol: o.ReservedAmount}
	}
	return c
}

// closeChange is the account side of closing the open order o without a fill (cancelled,
// expired, rejected: closed is o with its final status): the reservation released and the
// snapshot.
func closeChange(closed orderDoc) ledger.Change {
	c := ledger.Change{UserID: closed.UserID, Set: bson.D{{Key: writePath(closed), Value: closed}}}
	release(&c, closed)
	return c
}

// release makes c give back o's reservation, conditioned on o's open mark, which it removes. The
// ledger does not condition a release (it cannot compare two fields locally), so this condition is
// what keeps a reservation from being released twice.
func release(c *ledger.Change, o orderDoc) {
	c.Filter = append(c.Filter, exists(openPath(o.ID), true))
	c.Unset = append(c.Unset, openPath(o.ID))
	if o.ReservedCash != 0 {
		c.ReserveCash = -o.ReservedCash
	}
	if o.ReservedAmount != 0 {
		c.ReserveHoldings = map[string]money.Quantity{o.Symbol: -o.ReservedAmount}
	}
}

func capitalise(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
